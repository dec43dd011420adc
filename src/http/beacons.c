/*-------------------------------------------------------------------------
 *
 * beacons.c
 *	  POST /e and group commit.
 *
 * The first beacon of a batch opens a transaction; each body goes through
 * es_batch_add, and a connection whose events were accepted is suspended
 * until the batch commits.  The batch is written and committed when it is
 * full, when its oldest body is older than edgestat.flush_interval, or
 * when every open connection is waiting for it (nobody can send more, so
 * waiting longer only adds latency); then the suspended connections are
 * resumed and answered 204 - or 503 with a reason if the batch failed.
 * A 204 therefore always means "committed".
 *
 * Commit overlapped with work (edgestat.commit_overlap, on by default):
 * the batch commits with synchronous_commit off, so the commit returns
 * before its WAL is on disk, and its requests wait in flushing_list for
 * the flush pointer to pass their commit record.  The WAL writer is woken
 * to flush at once, on its own process; meanwhile this loop reads the
 * next requests and builds the next batch.  When the loop has nothing
 * else to do, or a commit has waited flush_interval, it flushes itself
 * (XLogFlush, which shares a flush already under way).  Only then is a
 * 204 sent: it still means "durably committed".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "http_int.h"
#include "stats.h"

void
http_load_trusted_proxies(void)
{
	EsCidrList	list;
	char		error[128];

	if (es_cidr_list_parse(es_trusted_proxies, &list, error, sizeof(error)))
		hw.trusted = list;
	else
		ereport(WARNING,
				(errmsg("edgestat.trusted_proxies ignored: %s", error),
				 errdetail("The previous list (%d networks) stays in force.",
						   hw.trusted.n)));
}

/*
 * Answers every connection waiting for the current batch: 204 when it
 * committed, otherwise 503 with the reason.
 */
static void
answer_pending(int status, const char *reason)
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &hw.pending_list)
	{
		EsConn	   *c = dlist_container(EsConn, node, it.cur);

		dlist_delete(&c->node);
		c->in_list = false;
		hw.npending--;
		c->has_final = true;
		c->final_status = status;
		strlcpy(c->final_reason, reason ? reason : "", sizeof(c->final_reason));
		http_conn_resume(c);
	}
}

static void
open_batch_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	hw.xact_open = true;
	hw.batch_started = GetCurrentTimestamp();
}

/*
 * Called in PG_CATCH after anything went wrong with the open batch: logs,
 * rolls back (the abort forgets the batch's dedup keys, so that client
 * retries are not dropped as duplicates) and answers 503 to its requests.
 */
void
http_fail_batch(const char *what)
{
	ErrorData  *edata;
	char		reason[256];
	bool		disk_full;
	MemoryContext failure_cxt;

	/*
	 * A context of its own, deleted below: whatever the error report and
	 * the abort leave in the current context must not pile up in the
	 * worker's.
	 */
	failure_cxt = AllocSetContextCreate(hw.worker_cxt, "edgestat batch failure",
										ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(failure_cxt);
	edata = CopyErrorData();
	FlushErrorState();
	ereport(LOG,
			(errmsg("edgestat http: %s failed, %d request(s) answered 503: %s",
					what, hw.npending, edata->message)));
	disk_full = (edata->sqlerrcode == ERRCODE_DISK_FULL);
	AbortCurrentTransaction();
	MemoryContextSwitchTo(hw.worker_cxt);
	MemoryContextDelete(failure_cxt);
	hw.xact_open = false;
	es_count(ES_C_BATCH_FAILURES, 1);
	es_http_observe_failure();
	PG_TRY();
	{
		es_batch_reset(hw.batch);
	}
	PG_CATCH();
	{
		FlushErrorState();
	}
	PG_END_TRY();
	/* the one cause an operator must act on gets named */
	snprintf(reason, sizeof(reason),
			 "batch could not be committed%s, nothing stored; retry",
			 disk_full ? " (disk full)" : "");
	answer_pending(503, reason);
}

/*
 * Moves the requests of a batch just committed into flushing_list, until
 * its commit record is durable.
 */
static void
await_flush(XLogRecPtr commit_lsn)
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &hw.pending_list)
	{
		EsConn	   *c = dlist_container(EsConn, node, it.cur);

		dlist_delete(&c->node);
		hw.npending--;
		c->commit_lsn = commit_lsn;
		dlist_push_tail(&hw.flushing_list, &c->node);
		hw.nflushing++;
	}
	if (hw.nflushing > 0 && hw.oldest_unflushed == 0)
		hw.oldest_unflushed = GetCurrentTimestamp();
	hw.flush_target = Max(hw.flush_target, commit_lsn);
	/* the WAL writer flushes on its own process while we go on */
	if (ProcGlobal->walwriterLatch)
		SetLatch(ProcGlobal->walwriterLatch);
}

/*
 * Answers 204 to the requests whose commit record is durable; with wait,
 * flushes first, so that every one is.
 */
void
http_answer_flushed(bool wait)
{
	dlist_mutable_iter it;
	XLogRecPtr	flushed;

	if (hw.nflushing == 0)
		return;
	if (wait)
		XLogFlush(hw.flush_target);
#if PG_VERSION_NUM >= 150000
	flushed = GetFlushRecPtr(NULL);
#else
	flushed = GetFlushRecPtr();
#endif
	dlist_foreach_modify(it, &hw.flushing_list)
	{
		EsConn	   *c = dlist_container(EsConn, node, it.cur);

		if (c->commit_lsn > flushed)
			break;				/* in commit order: the rest are later */
		dlist_delete(&c->node);
		c->in_list = false;
		hw.nflushing--;
		c->commit_lsn = InvalidXLogRecPtr;
		c->has_final = true;
		c->final_status = 204;
		c->final_reason[0] = '\0';
		http_conn_resume(c);
	}
	hw.oldest_unflushed = hw.nflushing > 0 ? GetCurrentTimestamp() : 0;
}

/* Whether the loop must flush now rather than read more first. */
bool
http_flush_overdue(TimestampTz now)
{
	return hw.nflushing > 0 &&
		TimestampDifferenceExceeds(hw.oldest_unflushed, now,
								   Max(es_flush_interval_ms, 1));
}

void
http_flush_batch(void)
{
	int			events;
	TimestampTz start;
	XLogRecPtr	commit_lsn = InvalidXLogRecPtr;

	if (!hw.xact_open)
		return;
	events = es_batch_events(hw.batch);
	start = GetCurrentTimestamp();

	/*
	 * Commit allocates in the current context and leaves it there (since
	 * 15, pgstat_get_transactional_drops pallocs on every commit that
	 * inserted): in the worker's context that was ~24 bytes a batch for
	 * the life of the worker.  The transaction's context dies with it.
	 */
	MemoryContextSwitchTo(TopTransactionContext);
	PG_TRY();
	{
		if (events > 0)
			es_batch_write(hw.batch);
		PopActiveSnapshot();
		if (es_commit_overlap && GetTopTransactionIdIfAny() != InvalidTransactionId)
		{
			CommitTransactionCommand();
			commit_lsn = XactLastCommitEnd;
		}
		else
		{
			CommitTransactionCommand();
			/* duplicates only: their originals' commits are in the WAL so far */
			if (es_commit_overlap && hw.npending > 0)
				commit_lsn = GetXLogInsertRecPtr();
		}
		MemoryContextSwitchTo(hw.worker_cxt);
		hw.xact_open = false;
#if PG_VERSION_NUM < 150000
		/* before 15, a backend that is no client signals listeners here */
		ProcessCompletedNotifies();
#endif
		es_batch_reset(hw.batch);
	}
	PG_CATCH();
	{
		http_fail_batch("batch commit");
		return;
	}
	PG_END_TRY();

	if (events > 0)
	{
		es_http_observe_batch(events, GetCurrentTimestamp() - start);
		/* so autovacuum and ANALYZE see the tables grow */
		pgstat_report_stat(false);
	}
	if (commit_lsn != InvalidXLogRecPtr)
		await_flush(commit_lsn);
	else
		answer_pending(204, NULL);
}

bool
http_flush_due(TimestampTz now)
{
	if (!hw.xact_open)
		return false;
	if (es_batch_events(hw.batch) >= es_batch_size)
		return true;
	/* everyone is waiting for a commit or a flush: nobody can send more */
	if (hw.npending > 0 &&
		hw.npending + hw.nflushing + hw.nsse >= (int) http_open_connections())
		return true;
	return TimestampDifferenceExceeds(hw.batch_started, now, es_flush_interval_ms);
}

typedef struct XffCollect
{
	StringInfo	buf;
} XffCollect;

static enum MHD_Result
collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
			const char *value)
{
	XffCollect *x = cls;

	if (key && value && pg_strcasecmp(key, "X-Forwarded-For") == 0)
	{
		if (x->buf->len > 0)
			appendStringInfoChar(x->buf, ',');
		appendStringInfoString(x->buf, value);
	}
	return MHD_YES;
}

/*
 * The client address as the pipeline sees it: the peer, or behind a
 * trusted proxy the address X-Forwarded-For vouches for (core/addr.c).
 */
void
http_request_client(EsConn *c, EsAddr *client)
{
	const union MHD_ConnectionInfo *info;
	EsAddr		peer;

	info = MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || !es_addr_from_sockaddr(info->client_addr, &peer))
		memset(&peer, 0, sizeof(peer));

	if (peer.family != 0 && es_cidr_contains(&hw.trusted, &peer))
	{
		StringInfoData buf;
		XffCollect	x;

		initStringInfo(&buf);
		x.buf = &buf;
		MHD_get_connection_values(c->mhd, MHD_HEADER_KIND, collect_xff, &x);
		es_client_addr(&peer, buf.len ? buf.data : NULL, &hw.trusted, client);
	}
	else
		*client = peer;
}

enum MHD_Result
http_beacon_complete(EsConn *c)
{
	EsRequest	req;
	EsOutcome	out;

	if (c->too_big)
	{
		char		reason[128];

		snprintf(reason, sizeof(reason),
				 "body larger than edgestat.max_body (%d bytes)", es_max_body);
		return http_respond_text(c, 413, reason, 0, NULL);
	}
	if (hw.shutting_down)
		return http_respond_text(c, 503, "server shutting down; retry", 1, NULL);
	if (hw.npending >= es_max_pending)
		return http_respond_text(c, 503,
							"overloaded: too many events waiting for commit; retry",
							1, NULL);

	memset(&req, 0, sizeof(req));
	http_request_client(c, &req.client);
	req.user_agent = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
												 MHD_HTTP_HEADER_USER_AGENT);
	/* every browser sends one: a request without is a script's */
	if (req.user_agent == NULL)
		req.user_agent = "";
	req.origin = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, "Origin");
	/* the tracker without storage sends no ids: the server's (compat.c) */
	http_compat_fill_ids(c);

	PG_TRY();
	{
		if (!hw.xact_open)
			open_batch_xact();
		es_batch_add(hw.batch, c->body ? c->body : "", c->len, &req, &out);
	}
	PG_CATCH();
	{
		http_fail_batch("adding a body to the batch");
		return http_respond_text(c, 503,
							"batch could not be committed, nothing stored; retry",
							1, NULL);
	}
	PG_END_TRY();

	if (out.status == 204 && (out.accepted > 0 || out.waits))
	{
		/* answered by flush_batch once the batch is committed */
		dlist_push_tail(&hw.pending_list, &c->node);
		c->in_list = true;
		hw.npending++;
		c->suspended = true;
		MHD_suspend_connection(c->mhd);
		return MHD_YES;
	}
	if (out.status == 204)
		return http_respond_204(c);	/* duplicates or bots only */
	return http_respond_text(c, out.status, out.reason[0] ? out.reason : "refused",
						out.status == 429 ? Max(out.retry_after, 1) : 0, NULL);
}
