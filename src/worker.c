/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The HTTP background worker: registration, the wait loop, and the glue
 *	  between libmicrohttpd and the ingest pipeline (group commit).
 *
 * Each worker is one single-threaded backend connected to
 * edgestat.database.  libmicrohttpd runs in "external select" epoll mode:
 * its epoll descriptor sits in our WaitEventSet next to the latch, and
 * MHD_run is called from this loop only, so every PostgreSQL call happens
 * on the backend's own thread.  MHD callbacks run inside MHD_run; an
 * ereport(ERROR) escaping one would longjmp across MHD's frames and leave
 * it corrupt, so every callback catches everything (see on_request).
 *
 * Group commit: the first beacon of a batch opens a transaction; each
 * body goes through es_batch_add, and a connection whose events were
 * accepted is suspended until the batch commits.  The batch is written
 * and committed when it is full, when its oldest body is older than
 * edgestat.flush_interval, or when every open connection is waiting for
 * it (nobody can send more, so waiting longer only adds latency); then
 * the suspended connections are resumed and answered 204 - or 503 with a
 * reason if the batch failed.  A 204 therefore always means "committed".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "edgestat.h"
#include "http.h"

PGDLLEXPORT void es_http_worker_main(Datum main_arg);

#define ES_MAX_DAEMONS		8
#define ES_SSE_PING_MS		15000
#define ES_SSE_MAX_BUFFER	(1024 * 1024)	/* a slower reader loses events */
#define ES_API_TIMEOUT_MS	5000	/* a dashboard query must not stall ingest */
#define ES_FREE_CONNS		1024
#define ES_KEEP_BODY_BUFFER 65536
/*
 * Per connection: headers and read buffers live here.  libmicrohttpd zeroes
 * the pool for every request, so its size is paid per request (at 32 kB
 * that was the worker's largest single cost).  8 kB holds the headers
 * browsers send (nginx's default limit is the same); more is refused.
 */
#define ES_MHD_MEMORY		8192

/* What a connection's current request is. */
typedef enum EsConnKind
{
	EC_OTHER,					/* answered in the first call */
	EC_BEACON,					/* POST /e, collecting the body */
	EC_SSE						/* GET /live, streaming */
} EsConnKind;

/*
 * Per-request state, the MHD con_cls.  Recycled through a free list, so
 * the common request allocates nothing; released in on_completed.
 */
typedef struct EsConn
{
	struct MHD_Connection *mhd;
	EsConnKind	kind;
	bool		too_big;		/* body over edgestat.max_body: discarding */
	bool		suspended;
	bool		in_list;		/* in pending_list or sse_list */
	bool		has_final;		/* resumed with an answer to give */
	dlist_node	node;
	int			final_status;
	char		final_reason[256];
	char	   *body;
	size_t		len;
	size_t		cap;
	size_t		discarded;
	/* GET /live */
	int32		site_id;
	bool		sse_closing;
	char	   *out;			/* bytes not yet handed to MHD */
	size_t		out_len;
	size_t		out_off;
	size_t		out_cap;
	struct EsConn *next_free;
} EsConn;

/* ---- worker state ---- */
static int	worker_no = 0;
static MemoryContext worker_cxt = NULL;
static MemoryContext scratch_cxt = NULL;
static struct MHD_Daemon *daemons[ES_MAX_DAEMONS];
static int	ndaemons = 0;
static EsBatch *batch = NULL;
static bool xact_open = false;
static TimestampTz batch_started = 0;
static dlist_head pending_list = DLIST_STATIC_INIT(pending_list);
static int	npending = 0;
static dlist_head sse_list = DLIST_STATIC_INIT(sse_list);
static int	nsse = 0;
static uint64 feed_seen = 0;
static TimestampTz last_ping = 0;
static int	nconns_live = 0;	/* EsConn allocated and not released */
static EsConn *free_conns = NULL;
static int	nfree_conns = 0;
static bool shutting_down = false;

static EsCidr *trusted = NULL;
static int	ntrusted = 0;

static char *tracker_js = NULL;
static size_t tracker_len = 0;
static char tracker_etag[40];
static char share_dir[MAXPGPATH];

static char mhd_last_error[256];

/* ---- registration ---- */

void
es_workers_register(void)
{
	BackgroundWorker worker;

	for (int i = 0; i < es_workers; i++)
	{
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
			BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		/* a worker that fails (port taken, ...) retries; no tight loop */
		worker.bgw_restart_time = 5;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "edgestat");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "es_http_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "edgestat http worker %d", i);
		snprintf(worker.bgw_type, BGW_MAXLEN, "edgestat http");
		worker.bgw_main_arg = Int32GetDatum(i);
		worker.bgw_notify_pid = 0;
		RegisterBackgroundWorker(&worker);
	}
}

/* ---- small utilities ---- */

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	/*
	 * Called inside MHD: keep the last message for startup errors and log
	 * at DEBUG1 only, since garbage from clients makes MHD chatty.
	 */
	size_t		len;

	vsnprintf(mhd_last_error, sizeof(mhd_last_error), fmt, ap);
	len = strlen(mhd_last_error);
	while (len > 0 && isspace((unsigned char) mhd_last_error[len - 1]))
		mhd_last_error[--len] = '\0';
	PG_TRY();
	{
		elog(DEBUG1, "edgestat http: %s", mhd_last_error);
	}
	PG_CATCH();
	{
		FlushErrorState();
	}
	PG_END_TRY();
}

/*
 * Reads a whole file into worker_cxt-or-current memory.  Returns NULL if it
 * does not exist or is not a regular file.
 */
static char *
read_whole_file(const char *path, size_t *len, MemoryContext cxt)
{
	int			fd;
	struct stat st;
	char	   *buf;
	size_t		done = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
		st.st_size > 64 * 1024 * 1024)
	{
		close(fd);
		return NULL;
	}
	buf = MemoryContextAlloc(cxt, st.st_size + 1);
	while (done < (size_t) st.st_size)
	{
		ssize_t		n = read(fd, buf + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	close(fd);
	buf[done] = '\0';
	*len = done;
	return buf;
}

static void
load_tracker(void)
{
	char		path[MAXPGPATH];
	size_t		len = 0;
	char	   *js;

	snprintf(path, sizeof(path), "%s/extension/edgestat/e.js", share_dir);
	js = read_whole_file(path, &len, worker_cxt);
	if (tracker_js)
		pfree(tracker_js);
	tracker_js = js;
	tracker_len = len;
	if (js)
		snprintf(tracker_etag, sizeof(tracker_etag), "\"%08x-%zx\"",
				 hash_bytes((const unsigned char *) js, (int) len), len);
	else
		elog(LOG, "edgestat http: tracker script \"%s\" not found; GET /e.js answers 404",
			 path);
}

static void
load_trusted_proxies(void)
{
	EsCidr	   *list;
	int			n;
	char	   *error;
	MemoryContext old = MemoryContextSwitchTo(worker_cxt);

	if (es_cidr_list_parse(es_trusted_proxies, &list, &n, &error))
	{
		if (trusted)
			pfree(trusted);
		trusted = list;
		ntrusted = n;
	}
	else
		ereport(WARNING,
				(errmsg("edgestat.trusted_proxies ignored: %s", error),
				 errdetail("The previous list (%d networks) stays in force.",
						   ntrusted)));
	MemoryContextSwitchTo(old);
}

static void
reload_config(void)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	es_geo_reload_if_changed();
	load_trusted_proxies();
	load_tracker();
}

/* ---- connection state ---- */

static EsConn *
conn_alloc(struct MHD_Connection *mhd)
{
	EsConn	   *c;

	if (free_conns)
	{
		c = free_conns;
		free_conns = c->next_free;
		nfree_conns--;
	}
	else
		c = MemoryContextAllocZero(worker_cxt, sizeof(EsConn));
	c->mhd = mhd;
	c->kind = EC_OTHER;
	c->too_big = c->suspended = c->in_list = c->has_final = false;
	c->sse_closing = false;
	c->len = c->discarded = 0;
	c->out_len = c->out_off = 0;
	c->site_id = 0;
	c->next_free = NULL;
	nconns_live++;
	return c;
}

static void
conn_release(EsConn *c)
{
	if (c->in_list)
	{
		dlist_delete(&c->node);
		c->in_list = false;
		if (c->kind == EC_SSE)
			nsse--;
		else
			npending--;
	}
	nconns_live--;
	c->mhd = NULL;
	if (c->cap > ES_KEEP_BODY_BUFFER)
	{
		pfree(c->body);
		c->body = NULL;
		c->cap = 0;
	}
	if (c->out_cap > ES_KEEP_BODY_BUFFER)
	{
		pfree(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (nfree_conns >= ES_FREE_CONNS)
	{
		if (c->body)
			pfree(c->body);
		if (c->out)
			pfree(c->out);
		pfree(c);
		return;
	}
	c->next_free = free_conns;
	free_conns = c;
	nfree_conns++;
}

static void
conn_resume(EsConn *c)
{
	if (c->suspended)
	{
		c->suspended = false;
		MHD_resume_connection(c->mhd);
	}
}

/* ---- responses ---- */

static void
add_common_headers(EsConn *c, struct MHD_Response *r)
{
	const char *origin = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
													 "Origin");

	MHD_add_response_header(r, "Access-Control-Allow-Origin",
							(origin && origin[0]) ? origin : "*");
	MHD_add_response_header(r, "Vary", "Origin");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (shutting_down)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Queues r (consuming it) and keeps the counters. */
static enum MHD_Result
queue(EsConn *c, int status, struct MHD_Response *r)
{
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	add_common_headers(c, r);
	if (status >= 400 && status < 500)
		es_count(ES_C_HTTP_REJECTED, 1);
	else if (status == 503)
		es_count(ES_C_HTTP_SHED, 1);
	rc = MHD_queue_response(c->mhd, status, r);
	MHD_destroy_response(r);
	return rc;
}

static struct MHD_Response *
body_response(const void *data, size_t len, const char *ctype)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, (void *) data,
										len ? MHD_RESPMEM_MUST_COPY :
										MHD_RESPMEM_PERSISTENT);
	if (r && ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return r;
}

/* An error (or any non-204 verdict) with its reason as text. */
static enum MHD_Result
respond_text(EsConn *c, int status, const char *reason, int retry_after,
			 const char *allow)
{
	char		text[512];
	int			n;
	struct MHD_Response *r;

	n = snprintf(text, sizeof(text), "%d %s\n", status, reason);
	if (n < 0)
		n = 0;
	if (n >= (int) sizeof(text))
		n = sizeof(text) - 1;
	r = body_response(text, n, "text/plain; charset=utf-8");
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (retry_after > 0)
	{
		char		ra[16];

		snprintf(ra, sizeof(ra), "%d", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return queue(c, status, r);
}

static enum MHD_Result
respond_204(EsConn *c)
{
	return queue(c, 204, body_response(NULL, 0, NULL));
}

static enum MHD_Result
respond_json(EsConn *c, int status, const char *json, size_t len)
{
	struct MHD_Response *r = body_response(json, len, "application/json");

	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return queue(c, status, r);
}

/* ---- the batch ---- */

/*
 * Answers every connection waiting for the current batch: 204 when it
 * committed, otherwise 503 with the reason.
 */
static void
answer_pending(int status, const char *reason)
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &pending_list)
	{
		EsConn	   *c = dlist_container(EsConn, node, it.cur);

		dlist_delete(&c->node);
		c->in_list = false;
		npending--;
		c->has_final = true;
		c->final_status = status;
		strlcpy(c->final_reason, reason ? reason : "", sizeof(c->final_reason));
		conn_resume(c);
	}
}

static void
open_batch_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	xact_open = true;
	batch_started = GetCurrentTimestamp();
}

/*
 * Called in PG_CATCH after anything went wrong with the open batch: logs,
 * rolls back (the abort forgets the batch's dedup keys, so that client
 * retries are not dropped as duplicates) and answers 503 to its requests.
 */
static void
fail_batch(const char *what)
{
	ErrorData  *edata;
	char		reason[256];

	MemoryContextSwitchTo(worker_cxt);
	edata = CopyErrorData();
	FlushErrorState();
	ereport(LOG,
			(errmsg("edgestat http: %s failed, %d request(s) answered 503: %s",
					what, npending, edata->message)));
	FreeErrorData(edata);
	AbortCurrentTransaction();
	MemoryContextSwitchTo(worker_cxt);
	xact_open = false;
	es_count(ES_C_BATCH_FAILURES, 1);
	PG_TRY();
	{
		es_batch_reset(batch);
	}
	PG_CATCH();
	{
		FlushErrorState();
	}
	PG_END_TRY();
	snprintf(reason, sizeof(reason),
			 "batch could not be committed, nothing stored; retry");
	answer_pending(503, reason);
}

static void
flush_batch(void)
{
	int			events;
	TimestampTz start;

	if (!xact_open)
		return;
	events = es_batch_events(batch);
	start = GetCurrentTimestamp();
	PG_TRY();
	{
		if (events > 0)
			es_batch_write(batch);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(worker_cxt);
		xact_open = false;
#if PG_VERSION_NUM < 150000
		/* before 15, a backend that is no client signals listeners here */
		ProcessCompletedNotifies();
#endif
		es_batch_reset(batch);
	}
	PG_CATCH();
	{
		fail_batch("batch commit");
		return;
	}
	PG_END_TRY();

	if (events > 0)
	{
		es_http_observe_batch(events, GetCurrentTimestamp() - start);
		/* so autovacuum and ANALYZE see the tables grow */
		pgstat_report_stat(false);
	}
	answer_pending(204, NULL);
}

static unsigned int
open_connections(void)
{
	unsigned int n = 0;

	for (int i = 0; i < ndaemons; i++)
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(daemons[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

		if (info)
			n += info->num_connections;
	}
	return n;
}

static bool
flush_due(TimestampTz now)
{
	if (!xact_open)
		return false;
	if (es_batch_events(batch) >= es_batch_size)
		return true;
	if (npending > 0 && npending + nsse >= (int) open_connections())
		return true;
	return TimestampDifferenceExceeds(batch_started, now, es_flush_interval_ms);
}

/* ---- POST /e ---- */

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

static void
request_client(EsConn *c, EsAddr *client)
{
	const union MHD_ConnectionInfo *info;
	EsAddr		peer;

	memset(&peer, 0, sizeof(peer));
	info = MHD_get_connection_info(c->mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info && info->client_addr &&
		es_addr_from_sockaddr(info->client_addr, &peer))
		es_addr_unmap(&peer);
	else
		memset(&peer, 0, sizeof(peer));

	if (ntrusted > 0 && peer.family != 0 &&
		es_cidr_contains(trusted, ntrusted, &peer))
	{
		StringInfoData buf;
		XffCollect	x;

		initStringInfo(&buf);
		x.buf = &buf;
		MHD_get_connection_values(c->mhd, MHD_HEADER_KIND, collect_xff, &x);
		es_http_client_addr(&peer, buf.len ? buf.data : NULL,
							trusted, ntrusted, client);
	}
	else
		*client = peer;
}

static enum MHD_Result
beacon_complete(EsConn *c)
{
	EsRequest	req;
	EsOutcome	out;

	if (c->too_big)
	{
		char		reason[128];

		snprintf(reason, sizeof(reason),
				 "body larger than edgestat.max_body (%d bytes)", es_max_body);
		return respond_text(c, 413, reason, 0, NULL);
	}
	if (shutting_down)
		return respond_text(c, 503, "server shutting down; retry", 1, NULL);
	if (npending >= es_max_pending)
		return respond_text(c, 503,
							"overloaded: too many events waiting for commit; retry",
							1, NULL);

	memset(&req, 0, sizeof(req));
	request_client(c, &req.client);
	req.user_agent = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
												 MHD_HTTP_HEADER_USER_AGENT);
	req.origin = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, "Origin");

	PG_TRY();
	{
		if (!xact_open)
			open_batch_xact();
		es_batch_add(batch, c->body ? c->body : "", c->len, &req, &out);
	}
	PG_CATCH();
	{
		fail_batch("adding a body to the batch");
		return respond_text(c, 503,
							"batch could not be committed, nothing stored; retry",
							1, NULL);
	}
	PG_END_TRY();

	if (out.status == 204 && out.accepted > 0)
	{
		/* answered by flush_batch once the batch is committed */
		dlist_push_tail(&pending_list, &c->node);
		c->in_list = true;
		npending++;
		c->suspended = true;
		MHD_suspend_connection(c->mhd);
		return MHD_YES;
	}
	if (out.status == 204)
		return respond_204(c);	/* duplicates or bots only */
	return respond_text(c, out.status, out.reason[0] ? out.reason : "refused",
						out.status == 429 ? Max(out.retry_after, 1) : 0, NULL);
}

/* ---- GET /e.js, /healthz, /metrics, /dashboard ---- */

static enum MHD_Result
serve_tracker(EsConn *c)
{
	struct MHD_Response *r;
	const char *inm;

	if (tracker_js == NULL)
		return respond_text(c, 404,
							"tracker script not installed (extension/edgestat/e.js missing)",
							0, NULL);
	inm = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
									  MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm && strstr(inm, tracker_etag) != NULL)
		r = body_response(NULL, 0, NULL);
	else
		r = body_response(tracker_js, tracker_len,
						  "application/javascript; charset=utf-8");
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
							"public, max-age=3600");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, tracker_etag);
	return queue(c, (inm && strstr(inm, tracker_etag)) ? 304 : 200, r);
}

static enum MHD_Result
serve_text(EsConn *c, StringInfo buf, const char *ctype)
{
	struct MHD_Response *r = body_response(buf->data, buf->len, ctype);

	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return queue(c, 200, r);
}

static enum MHD_Result
serve_dashboard(EsConn *c, const char *rel)
{
	char		path[MAXPGPATH];
	char	   *data;
	size_t		len;
	struct MHD_Response *r;

	if (rel[0] == '\0')
		rel = "index.html";
	if (!es_static_path_ok(rel))
		return respond_text(c, 404, "no such file", 0, NULL);
	snprintf(path, sizeof(path), "%s/extension/edgestat/dashboard/%s",
			 share_dir, rel);
	data = read_whole_file(path, &len, CurrentMemoryContext);
	if (data == NULL)
		return respond_text(c, 404, "no such file", 0, NULL);
	r = body_response(data, len, es_content_type_for(rel));
	pfree(data);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return queue(c, 200, r);
}

/* ---- GET /api/..., GET /live ---- */

typedef struct ArgCollect
{
	StringInfo	json;
	const char *token;
	int			n;
} ArgCollect;

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			const char *value)
{
	ArgCollect *a = cls;

	if (key == NULL)
		return MHD_YES;
	if (strcmp(key, "token") == 0)
	{
		a->token = value ? value : "";
		return MHD_YES;
	}
	appendStringInfoString(a->json, a->n++ ? "," : "{");
	escape_json(a->json, key);
	appendStringInfoChar(a->json, ':');
	escape_json(a->json, value ? value : "");
	return MHD_YES;
}

static int
sqlstate_to_http(int sqlerrcode)
{
	if (sqlerrcode == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
		return 401;
	if (sqlerrcode == ERRCODE_UNDEFINED_FUNCTION)
		return 404;
	if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		ERRCODE_TO_CATEGORY(sqlerrcode) ==
		ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION)
		return 400;
	return 500;
}

/*
 * SELECT edgestat.dashboard_api(token, endpoint, params) in a short
 * read-only transaction of its own, under a statement timeout so that a
 * slow report cannot stall ingestion for long.  Returns the HTTP status;
 * *result is the JSON text, or an error object.  An open batch is
 * committed first: its requests are answered sooner, never later.
 */
static int
call_dashboard_api(const char *token, const char *endpoint,
				   const char *params, char **result)
{
	volatile int status = 200;
	MemoryContext cxt = CurrentMemoryContext;

	flush_batch();
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
		Datum		values[3];
		int			ret;

		values[0] = CStringGetTextDatum(token);
		values[1] = CStringGetTextDatum(endpoint);
		values[2] = CStringGetTextDatum(params);

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		XactReadOnly = true;
		PushActiveSnapshot(GetTransactionSnapshot());
		enable_timeout_after(STATEMENT_TIMEOUT,
							 StatementTimeout > 0 ? StatementTimeout :
							 ES_API_TIMEOUT_MS);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT edgestat.dashboard_api($1::text, $2::text, $3::text::jsonb)::text",
									3, argtypes, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "edgestat.dashboard_api returned no row");
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

			if (isnull)
				*result = MemoryContextStrdup(cxt, "null");
			else
				*result = MemoryContextStrdup(cxt, TextDatumGetCString(d));
		}
		SPI_finish();
		disable_timeout(STATEMENT_TIMEOUT, false);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		StringInfoData buf;

		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		status = sqlstate_to_http(edata->sqlerrcode);
		if (status == 500)
			ereport(LOG,
					(errmsg("edgestat http: dashboard_api(%s) failed: %s",
							endpoint, edata->message)));
		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"error\":");
		escape_json(&buf, edata->message);
		appendStringInfo(&buf, ",\"sqlstate\":\"%s\"}",
						 unpack_sql_state(edata->sqlerrcode));
		*result = buf.data;
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return status;
}

static enum MHD_Result
serve_api(EsConn *c, const char *endpoint)
{
	StringInfoData json;
	ArgCollect	a;
	char	   *result;
	int			status;

	initStringInfo(&json);
	a.json = &json;
	a.token = NULL;
	a.n = 0;
	MHD_get_connection_values(c->mhd, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
	appendStringInfoString(&json, a.n ? "}" : "{}");
	if (a.token == NULL)
		return respond_json(c, 401, "{\"error\":\"token required\"}", 26);
	status = call_dashboard_api(a.token, endpoint, json.data, &result);
	return respond_json(c, status, result, strlen(result));
}

static void
sse_append(EsConn *c, const char *data, size_t len)
{
	if (c->out_len - c->out_off + len > ES_SSE_MAX_BUFFER)
		return;					/* the reader is too slow: drop, don't grow */
	if (c->out_off > 0 && c->out_len + len > c->out_cap)
	{
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len > c->out_cap)
	{
		size_t		cap = Max(c->out_cap * 2, 4096);

		while (cap < c->out_len + len)
			cap *= 2;
		if (c->out)
			c->out = repalloc(c->out, cap);
		else
			c->out = MemoryContextAlloc(worker_cxt, cap);
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

/*
 * MHD's content reader for /live, called inside MHD_run: hands over what
 * is buffered, or suspends the connection until the feed has more.  Only
 * memcpy here: no PostgreSQL call may run in this callback.
 */
static ssize_t
sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	EsConn	   *c = cls;
	size_t		avail = c->out_len - c->out_off;
	size_t		n;

	if (avail == 0)
	{
		c->out_len = c->out_off = 0;
		if (c->sse_closing)
			return MHD_CONTENT_READER_END_OF_STREAM;
		c->suspended = true;
		MHD_suspend_connection(c->mhd);
		return 0;
	}
	n = Min(avail, max);
	memcpy(buf, c->out + c->out_off, n);
	c->out_off += n;
	return (ssize_t) n;
}

static void
feed_dispatch(int32 site_id, const char *payload, void *arg)
{
	dlist_iter	it;
	size_t		len = strlen(payload);

	dlist_foreach(it, &sse_list)
	{
		EsConn	   *c = dlist_container(EsConn, node, it.cur);

		if (c->site_id != site_id || c->sse_closing)
			continue;
		/* a payload is one line of JSON; "data:" frames it as one event */
		sse_append(c, "data: ", 6);
		sse_append(c, payload, len);
		sse_append(c, "\n\n", 2);
	}
}

static void
wake_sse(void)
{
	dlist_iter	it;

	dlist_foreach(it, &sse_list)
	{
		EsConn	   *c = dlist_container(EsConn, node, it.cur);

		if (c->out_len > c->out_off || c->sse_closing)
			conn_resume(c);
	}
}

/* Moves new feed entries into the SSE buffers; pings idle streams. */
static void
pump_feed(TimestampTz now)
{
	if (nsse == 0)
	{
		feed_seen = es_feed_head();
		return;
	}
	if (es_feed_head() > feed_seen)
		feed_seen = es_feed_read(feed_seen, feed_dispatch, NULL);
	if (TimestampDifferenceExceeds(last_ping, now, ES_SSE_PING_MS))
	{
		dlist_iter	it;

		dlist_foreach(it, &sse_list)
		{
			EsConn	   *c = dlist_container(EsConn, node, it.cur);

			sse_append(c, ": ping\n\n", 8);
		}
		last_ping = now;
	}
	wake_sse();
}

static enum MHD_Result
serve_live(EsConn *c)
{
	const char *token = MHD_lookup_connection_value(c->mhd,
													MHD_GET_ARGUMENT_KIND,
													"token");
	char	   *result = NULL;
	int			status;
	cJSON	   *root;
	cJSON	   *id;
	struct MHD_Response *r;

	if (token == NULL)
		return respond_json(c, 401, "{\"error\":\"token required\"}", 26);
	status = call_dashboard_api(token, "site", "{}", &result);
	if (status != 200)
		return respond_json(c, status, result, strlen(result));
	root = cJSON_Parse(result);
	id = root ? cJSON_GetObjectItemCaseSensitive(root, "site_id") : NULL;
	if (!cJSON_IsNumber(id))
		return respond_json(c, 500,
							"{\"error\":\"dashboard_api('site') returned no site_id\"}",
							52);

	/* start from "now": deliver what is pending to the others first */
	pump_feed(GetCurrentTimestamp());
	if (nsse == 0)
		last_ping = GetCurrentTimestamp();
	c->kind = EC_SSE;
	c->site_id = (int32) id->valuedouble;
	{
		static const char hello[] = "retry: 3000\n: connected\n\n";

		sse_append(c, hello, sizeof(hello) - 1);
	}
	dlist_push_tail(&sse_list, &c->node);
	c->in_list = true;
	nsse++;
	if (nsse == 1)
		feed_seen = es_feed_head();

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
										  sse_reader, c, NULL);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
							"text/event-stream; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	/* pings keep it alive; the idle timeout would cut a quiet stream */
	MHD_set_connection_option(c->mhd, MHD_CONNECTION_OPTION_TIMEOUT,
							  (unsigned int) 0);
	return queue(c, 200, r);
}

/* ---- routing ---- */

static bool
method_is(const char *method, const char *m)
{
	return strcmp(method, m) == 0;
}

static enum MHD_Result
preflight(EsConn *c, const char *allow)
{
	struct MHD_Response *r = body_response(NULL, 0, NULL);
	const char *req_headers;

	if (r == NULL)
		return MHD_NO;
	req_headers = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
											  "Access-Control-Request-Headers");
	MHD_add_response_header(r, "Access-Control-Allow-Methods", allow);
	MHD_add_response_header(r, "Access-Control-Allow-Headers",
							(req_headers && req_headers[0]) ? req_headers :
							"Content-Type");
	MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return queue(c, 204, r);
}

/* The first call for a request: route it, answer what needs no body. */
static enum MHD_Result
route(EsConn *c, const char *url, const char *method)
{
	bool		get = method_is(method, "GET") || method_is(method, "HEAD");
	const char *allow = "GET, HEAD, OPTIONS";

	if (strcmp(url, "/e") == 0)
	{
		if (method_is(method, "POST"))
		{
			const char *cl = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
														 MHD_HTTP_HEADER_CONTENT_LENGTH);

			if (cl != NULL)
			{
				char	   *end;
				unsigned long long n;

				errno = 0;
				n = strtoull(cl, &end, 10);
				if (errno == 0 && end != cl && n > (unsigned long long) es_max_body)
				{
					char		reason[128];

					snprintf(reason, sizeof(reason),
							 "body larger than edgestat.max_body (%d bytes)",
							 es_max_body);
					return respond_text(c, 413, reason, 0, NULL);
				}
			}
			c->kind = EC_BEACON;
			return MHD_YES;
		}
		if (method_is(method, "OPTIONS"))
			return preflight(c, "POST, OPTIONS");
		return respond_text(c, 405, "method not allowed; use POST", 0,
							"POST, OPTIONS");
	}

	if (strcmp(url, "/e.js") == 0 || strcmp(url, "/healthz") == 0 ||
		strcmp(url, "/metrics") == 0 || strcmp(url, "/live") == 0 ||
		strcmp(url, "/dashboard") == 0 || strncmp(url, "/dashboard/", 11) == 0 ||
		strncmp(url, "/api/", 5) == 0)
	{
		if (method_is(method, "OPTIONS"))
			return preflight(c, allow);
		if (!get)
			return respond_text(c, 405, "method not allowed; use GET", 0, allow);
	}
	else
		return respond_text(c, 404, "not found", 0, NULL);

	if (strcmp(url, "/e.js") == 0)
		return serve_tracker(c);
	if (strcmp(url, "/healthz") == 0)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		es_http_format_health(&buf, worker_no);
		return serve_text(c, &buf, "application/json");
	}
	if (strcmp(url, "/metrics") == 0)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		es_http_format_metrics(&buf);
		return serve_text(c, &buf, "text/plain; version=0.0.4; charset=utf-8");
	}
	if (strcmp(url, "/dashboard") == 0)
		return serve_dashboard(c, "");
	if (strncmp(url, "/dashboard/", 11) == 0)
		return serve_dashboard(c, url + 11);
	if (strcmp(url, "/live") == 0)
	{
		if (shutting_down)
			return respond_text(c, 503, "server shutting down; retry", 1, NULL);
		return serve_live(c);
	}
	/* /api/<endpoint> */
	{
		const char *endpoint = url + 5;

		for (const char *p = endpoint; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
				  *p == '_' || *p == '-'))
				return respond_json(c, 404, "{\"error\":\"no such endpoint\"}", 28);
		if (endpoint[0] == '\0')
			return respond_json(c, 404, "{\"error\":\"no such endpoint\"}", 28);
		return serve_api(c, endpoint);
	}
}

static enum MHD_Result
dispatch(EsConn *c, const char *url, const char *method,
		 const char *upload_data, size_t *upload_data_size, bool first)
{
	if (first)
		return route(c, url, method);

	if (c->has_final)
	{
		/* resumed after the batch committed (or failed) */
		c->has_final = false;
		if (c->final_status == 204)
			return respond_204(c);
		return respond_text(c, c->final_status, c->final_reason,
							c->final_status == 503 ? 1 : 0, NULL);
	}

	if (c->kind != EC_BEACON)
		return MHD_YES;			/* not reached: answered in the first call */

	if (*upload_data_size > 0)
	{
		size_t		n = *upload_data_size;

		*upload_data_size = 0;
		if (c->too_big || c->len + n > (size_t) es_max_body)
		{
			/*
			 * Chunked bodies have no length up front: drop the rest and
			 * answer 413 at the end, but cut a client that keeps going.
			 */
			c->too_big = true;
			c->discarded += n;
			return c->discarded > 1024 * 1024 ? MHD_NO : MHD_YES;
		}
		if (c->len + n > c->cap)
		{
			size_t		cap = Max(c->cap * 2, 1024);

			while (cap < c->len + n)
				cap *= 2;
			if (c->body)
				c->body = repalloc(c->body, cap);
			else
				c->body = MemoryContextAlloc(worker_cxt, cap);
			c->cap = cap;
		}
		memcpy(c->body + c->len, upload_data, n);
		c->len += n;
		return MHD_YES;
	}
	return beacon_complete(c);
}

/*
 * MHD's access handler.  Everything below may ereport; nothing may escape
 * into MHD, so the whole request is under PG_TRY: an error is logged, an
 * open batch is rolled back and answered 503, and so is this request.
 */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *mhd, const char *url,
		   const char *method, const char *version, const char *upload_data,
		   size_t *upload_data_size, void **con_cls)
{
	EsConn	   *volatile c = *con_cls;
	volatile enum MHD_Result rc = MHD_NO;
	MemoryContext old = MemoryContextSwitchTo(scratch_cxt);

	PG_TRY();
	{
		bool		first = (c == NULL);

		if (first)
		{
			c = conn_alloc(mhd);
			*con_cls = c;
			es_count(ES_C_HTTP_REQUESTS, 1);
		}
		rc = dispatch(c, url, method, upload_data, upload_data_size, first);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(worker_cxt);
		if (xact_open)
			fail_batch("request handling");
		else
		{
			ErrorData  *edata = CopyErrorData();

			FlushErrorState();
			ereport(LOG,
					(errmsg("edgestat http: %s %s failed: %s",
							method, url, edata->message)));
			FreeErrorData(edata);
			if (IsTransactionState() || IsAbortedTransactionBlockState())
				AbortCurrentTransaction();
		}
		rc = MHD_NO;
		if (c != NULL && !c->in_list && !c->suspended)
			rc = respond_text(c, 503, "internal error; retry", 1, NULL);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextReset(scratch_cxt);
	return rc;
}

static void
on_completed(void *cls, struct MHD_Connection *mhd, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	EsConn	   *c = *con_cls;

	if (c == NULL)
		return;
	*con_cls = NULL;
	conn_release(c);
}

/* ---- listening ---- */

static struct MHD_Daemon *
start_daemon(const struct sockaddr *sa, bool v6, bool dual)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_TURBO |
		MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (dual)
		flags |= MHD_USE_DUAL_STACK;
	else if (v6)
		flags |= MHD_USE_IPv6;
	mhd_last_error[0] = '\0';

	/*
	 * SO_REUSEPORT only when our own workers share the port.  The option
	 * must be absent otherwise: passed as 0 it also drops MHD's default
	 * SO_REUSEADDR, and a restarted worker then cannot bind while old
	 * connections sit in TIME_WAIT.
	 */
	{
		struct MHD_OptionItem opts[] = {
			{MHD_OPTION_SOCK_ADDR, 0, (void *) sa},
			{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) on_completed, NULL},
			{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) mhd_logger, NULL},
			{MHD_OPTION_CONNECTION_LIMIT, es_max_connections, NULL},
			{MHD_OPTION_PER_IP_CONNECTION_LIMIT, es_max_connections_per_ip, NULL},
			{MHD_OPTION_CONNECTION_TIMEOUT, es_connection_timeout_s, NULL},
			{MHD_OPTION_CONNECTION_MEMORY_LIMIT, ES_MHD_MEMORY, NULL},
			{MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
			{es_workers > 1 ? MHD_OPTION_LISTENING_ADDRESS_REUSE : MHD_OPTION_END,
			1, NULL},
			{MHD_OPTION_END, 0, NULL}
		};

		return MHD_start_daemon(flags, (uint16_t) es_port, NULL, NULL,
								on_request, NULL,
								MHD_OPTION_ARRAY, opts,
								MHD_OPTION_END);
	}
}

static void
add_daemon(const char *spec, const char *text, bool v6, bool dual,
		   bool required)
{
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;

	memset(&ss, 0, sizeof(ss));
	if (v6)
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16) es_port);
		if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid address \"%s\" in edgestat.listen_addresses",
							spec)));
	}
	else
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16) es_port);
		if (inet_pton(AF_INET, text, &s4->sin_addr) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid address \"%s\" in edgestat.listen_addresses",
							spec)));
	}
	if (ndaemons >= ES_MAX_DAEMONS)
		ereport(ERROR,
				(errmsg("edgestat.listen_addresses has more than %d addresses",
						ES_MAX_DAEMONS)));
	d = start_daemon((struct sockaddr *) &ss, v6, dual);
	if (d == NULL)
	{
		ereport(required ? ERROR : LOG,
				(errmsg("edgestat http: could not listen on %s port %d: %s",
						text, es_port,
						mhd_last_error[0] ? mhd_last_error : "unknown error")));
		return;
	}
	daemons[ndaemons++] = d;
	ereport(LOG,
			(errmsg("edgestat http worker %d listening on %s port %d",
					worker_no, dual ? "*" : text, es_port)));
}

static void
start_listening(void)
{
	char	   *raw = pstrdup(es_listen_addresses ? es_listen_addresses : "");
	List	   *list;
	ListCell   *lc;

	if (!SplitGUCList(raw, ',', &list))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in edgestat.listen_addresses")));
	foreach(lc, list)
	{
		const char *a = lfirst(lc);
		struct in6_addr tmp;

		if (strcmp(a, "*") == 0)
		{
			int			before = ndaemons;

			add_daemon(a, "::", true, true, false);
			if (ndaemons == before)
				add_daemon(a, "0.0.0.0", false, false, true);
		}
		else if (pg_strcasecmp(a, "localhost") == 0)
		{
			add_daemon(a, "127.0.0.1", false, false, true);
			add_daemon(a, "::1", true, false, false);
		}
		else if (inet_pton(AF_INET6, a, &tmp) == 1)
			add_daemon(a, a, true, false, true);
		else
			add_daemon(a, a, false, false, true);
	}
	if (ndaemons == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("edgestat.listen_addresses names no address")));
}

/* ---- the worker ---- */

static void
wait_for_extension(void)
{
	for (;;)
	{
		bool		exists;

		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		exists = OidIsValid(get_extension_oid("edgestat", true));
		CommitTransactionCommand();
		if (exists)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
run_daemons(void)
{
	for (int i = 0; i < ndaemons; i++)
		MHD_run(daemons[i]);
}

static long
next_timeout(TimestampTz now)
{
	long		timeout = 1000;

	for (int i = 0; i < ndaemons; i++)
	{
		MHD_UNSIGNED_LONG_LONG t;

		if (MHD_get_timeout(daemons[i], &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG) timeout)
			timeout = (long) t;
	}
	if (xact_open)
	{
		long		left = es_flush_interval_ms -
			(long) ((now - batch_started) / 1000);

		timeout = Min(timeout, Max(left, 0));
	}
	if (nsse > 0)
	{
		long		left = ES_SSE_PING_MS - (long) ((now - last_ping) / 1000);

		timeout = Min(timeout, Max(left, 0));
	}
	return timeout;
}

/*
 * SIGTERM: stop accepting, commit what is pending and answer it, end the
 * streams, give MHD a moment to send, then close everything.
 */
static void
shutdown_http(void)
{
	TimestampTz deadline;

	shutting_down = true;
	for (int i = 0; i < ndaemons; i++)
	{
		MHD_socket s = MHD_quiesce_daemon(daemons[i]);

		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
	flush_batch();
	{
		dlist_iter	it;

		dlist_foreach(it, &sse_list)
		{
			EsConn	   *c = dlist_container(EsConn, node, it.cur);

			c->sse_closing = true;
		}
		wake_sse();
	}
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
	while (nconns_live > 0 && GetCurrentTimestamp() < deadline)
	{
		run_daemons();
		flush_batch();
		if (nconns_live == 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 5L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	flush_batch();
	for (int i = 0; i < ndaemons; i++)
		MHD_stop_daemon(daemons[i]);
	ndaemons = 0;
}

void
es_http_worker_main(Datum main_arg)
{
	WaitEventSet *wes;
	WaitEvent	events[ES_MAX_DAEMONS + 2];

	worker_no = DatumGetInt32(main_arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(es_database, NULL, 0);
	{
		char		appname[64];

		snprintf(appname, sizeof(appname), "edgestat http worker %d", worker_no);
		pgstat_report_appname(appname);
	}

	worker_cxt = AllocSetContextCreate(TopMemoryContext, "edgestat http worker",
									   ALLOCSET_DEFAULT_SIZES);
	scratch_cxt = AllocSetContextCreate(worker_cxt, "edgestat http request",
										ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_cxt);
	get_share_path(my_exec_path, share_dir);

	wait_for_extension();

	load_trusted_proxies();
	load_tracker();
	batch = es_batch_create(worker_cxt);
	es_feed_listen(true);
	start_listening();

#if PG_VERSION_NUM >= 170000
	wes = CreateWaitEventSet(NULL, ndaemons + 2);
#else
	wes = CreateWaitEventSet(worker_cxt, ndaemons + 2);
#endif
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < ndaemons; i++)
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(daemons[i], MHD_DAEMON_INFO_EPOLL_FD);

		/* never epoll_wait on it ourselves: MHD's events are edge-triggered */
		AddWaitEventToSet(wes, WL_SOCKET_READABLE, info->epoll_fd, NULL,
						  daemons[i]);
	}

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		timeout = next_timeout(now);
		int			n;

		n = WaitEventSetWait(wes, timeout, events, lengthof(events),
							 PG_WAIT_EXTENSION);
		for (int i = 0; i < n; i++)
			if (events[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);

		/*
		 * A query cancel aimed at an idle worker (or a statement timeout
		 * that fired just after its query) has nothing to cancel here;
		 * left pending, ProcessInterrupts would throw outside any
		 * PG_TRY and kill the worker.
		 */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
			reload_config();

		run_daemons();

		now = GetCurrentTimestamp();
		if (flush_due(now))
		{
			flush_batch();
			/* answer the resumed connections now, not a wait later */
			run_daemons();
		}
		if (nsse > 0)
		{
			PG_TRY();
			{
				pump_feed(now);
			}
			PG_CATCH();
			{
				EmitErrorReport();
				FlushErrorState();
			}
			PG_END_TRY();
			if (nsse > 0)
				run_daemons();
		}
		MemoryContextSwitchTo(worker_cxt);
	}

	ereport(LOG, (errmsg("edgestat http worker %d shutting down", worker_no)));
	shutdown_http();
	es_feed_listen(false);
	/* exit 1: if this was pg_terminate_backend, the postmaster restarts us */
	proc_exit(1);
}
