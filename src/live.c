/*-------------------------------------------------------------------------
 *
 * live.c
 *	  Who is on the sites right now: live visitors with a time to live
 *	  (docs/data-model.md), and the feed of committed events that the worker streams
 *	  to dashboards.
 *
 * Live visitors are a fixed table of (site, visitor, last seen) plus a
 * count per site kept up to date as visitors arrive; expired visitors are
 * swept out (and their sites' counts lowered) at most once a second, so a
 * count costs a short lookup, not a scan of the table.
 *
 * The feed is a ring of the last FEED_SLOTS payloads, each with a
 * sequence number, whose bytes live in a byte ring of FEED_BYTES: a
 * payload is kept whole (any length up to NOTIFY's 8000 bytes) or, once
 * its bytes are overwritten, not at all; never cut.  Payloads are
 * published when their transaction commits, and listeners (HTTP workers)
 * get their latch set.
 *
 * Both live marks and feed entries are what committed: es_live_touch and
 * es_feed_queue only queue, per (sub)transaction; a subtransaction that
 * rolls back (ROLLBACK TO SAVEPOINT after edgestat.ingest) takes its
 * queue with it, and the top-level commit publishes the rest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "utils/guc.h"

#include "keyed.h"
#include "live.h"
#include "shmem.h"
#include "sites.h"
#include "stats.h"

#define LIVE_PROBE		8
#define LIVE_SITES		1024
#define FEED_SLOTS		4096	/* entries the feed remembers, at most */
#define FEED_BYTES		(1024 * 1024)	/* and their payloads' bytes */
#define FEED_MAX_PAYLOAD 8000	/* NOTIFY's own limit: never cut, larger is absent */
#define FEED_LISTENERS	64

typedef struct LiveSlot
{
	int32		site_id;		/* 0: empty */
	uint8		visitor[16];
	TimestampTz seen;
} LiveSlot;

typedef struct LiveSite
{
	int32		site_id;		/* 0: empty */
	int64		count;
} LiveSite;

typedef struct FeedEntry
{
	uint64		seq;
	int32		site_id;
	uint32		len;
	uint64		off;			/* in the byte ring, counted from its start */
} FeedEntry;

typedef struct LiveShared
{
	uint32		mask;
	EsHashKey	slot_key;		/* per start: visitor ids are the client's choice */
	TimestampTz swept;
	LiveSite	sites[LIVE_SITES];
	uint64		feed_head;		/* sequence number of the newest entry */
	uint64		feed_wpos;		/* bytes ever written to feed_bytes */
	pg_atomic_uint64 tokens_generation;	/* bumped by commits that drop tokens */
	int			listeners[FEED_LISTENERS];	/* pgprocno + 1, 0: free */
	FeedEntry	feed[FEED_SLOTS];
	char		feed_bytes[FEED_BYTES];
	LiveSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} LiveShared;

static LiveShared *live = NULL;
static LWLock *live_lock = NULL;

static int	live_ttl_s = 300;
static int	live_slots = 65536;

/* the /live streams (src/http/sse.c): settings, docs/security.md */
int			es_live_max_streams = 64;
int			es_live_stream_timeout_s = 60;
int			es_live_buffer_kb = 256;
int			es_live_token_recheck_s = 60;

static Size
live_shmem_size(void)
{
	return add_size(offsetof(LiveShared, slots),
					mul_size(es_table_slots(live_slots, 1U << 28),
							 sizeof(LiveSlot)));
}

static void
live_shmem_attach(void *ptr, bool found)
{
	live = ptr;
	if (!found)
	{
		memset(live, 0, live_shmem_size());
		live->mask = es_table_slots(live_slots, 1U << 28) - 1;
		es_hash_key_generate(&live->slot_key);
		pg_atomic_init_u64(&live->tokens_generation, 0);
	}
	live_lock = &(GetNamedLWLockTranche("edgestat_live"))->lock;
}

static const EsShmemPart live_part = {
	"edgestat live", live_shmem_size, live_shmem_attach, "edgestat_live", 1
};

void
es_live_init(void)
{
	DefineCustomIntVariable("edgestat.live_ttl",
							"How long a visitor counts as live after its last event.",
							NULL, &live_ttl_s, 300, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.live_slots",
							"Live visitors tracked in shared memory.",
							NULL, &live_slots, 65536, 1024, 16 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.live_max_streams",
							"Open /live streams per HTTP worker; more are refused with 503.",
							NULL, &es_live_max_streams, 64, 0, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.live_stream_timeout",
							"A /live stream whose client takes none of the waiting bytes for this long is closed.",
							NULL, &es_live_stream_timeout_s, 60, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.live_buffer",
							"Bytes a /live stream may have waiting for its client; a stream that would need more is closed.",
							NULL, &es_live_buffer_kb, 256, 16, 65536,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.live_token_recheck",
							"How often the tokens of open /live streams are checked again (expiry); a revoke is seen at once.",
							NULL, &es_live_token_recheck_s, 60, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	es_shmem_register(&live_part);
}

static LiveSite *
site_entry(int32 site_id, bool create)
{
	uint32		h = ((uint32) site_id * 2654435761u) % LIVE_SITES;

	for (int i = 0; i < LIVE_SITES; i++)
	{
		LiveSite   *s = &live->sites[(h + i) % LIVE_SITES];

		if (s->site_id == site_id)
			return s;
		if (s->site_id == 0)
		{
			if (!create)
				return NULL;
			s->site_id = site_id;
			s->count = 0;
			return s;
		}
	}
	return NULL;
}

static void
adjust_site(int32 site_id, int64 delta)
{
	LiveSite   *s = site_entry(site_id, delta > 0);

	if (s)
		s->count += delta;
}

/* Caller holds live_lock exclusively. */
static void
sweep_expired(TimestampTz now)
{
	TimestampTz horizon = now - (TimestampTz) live_ttl_s * 1000000;

	if (now - live->swept < 1000000)
		return;
	live->swept = now;
	for (uint32 i = 0; i <= live->mask; i++)
	{
		LiveSlot   *slot = &live->slots[i];

		if (slot->site_id != 0 && slot->seen <= horizon)
		{
			adjust_site(slot->site_id, -1);
			slot->site_id = 0;
		}
	}
}

/* The run of slots of a visitor. */
static LiveSlot *
live_group(int32 site_id, const uint8 visitor[16])
{
	uint8		buf[20];
	uint32		h;

	/*
	 * A keyed hash, not the visitor id's first bytes: ids are chosen by the
	 * client, who could otherwise fill one run of slots at will.
	 */
	memcpy(buf, &site_id, 4);
	memcpy(buf + 4, visitor, 16);
	h = (uint32) es_siphash(&live->slot_key, buf, sizeof(buf));
	return &live->slots[(h & live->mask) & ~(uint32) (LIVE_PROBE - 1)];
}

/* Caller holds live_lock. */
static bool
live_present(int32 site_id, const uint8 visitor[16])
{
	LiveSlot   *group = live_group(site_id, visitor);

	for (int i = 0; i < LIVE_PROBE; i++)
		if (group[i].site_id == site_id && memcmp(group[i].visitor, visitor, 16) == 0)
			return true;
	return false;
}

/* Marks a visitor live now.  Caller holds live_lock exclusively. */
static void
live_apply(int32 site_id, const uint8 visitor[16], TimestampTz now)
{
	LiveSlot   *group = live_group(site_id, visitor);
	LiveSlot   *victim = NULL;

	for (int i = 0; i < LIVE_PROBE; i++)
	{
		LiveSlot   *slot = &group[i];

		if (slot->site_id == site_id && memcmp(slot->visitor, visitor, 16) == 0)
		{
			slot->seen = now;
			return;
		}
		if (victim == NULL || slot->site_id == 0 ||
			(victim->site_id != 0 && slot->seen < victim->seen))
			victim = slot;
	}
	if (victim->site_id != 0)
	{
		adjust_site(victim->site_id, -1);
		if (now - victim->seen < (TimestampTz) live_ttl_s * 1000000)
			es_count(ES_C_LIVE_EVICTIONS, 1);
	}
	victim->site_id = site_id;
	memcpy(victim->visitor, visitor, 16);
	victim->seen = now;
	adjust_site(site_id, 1);
}

/* ---- what this transaction will publish at commit ---- */

typedef struct PendingTouch
{
	int32		site_id;		/* hash key: site and visitor */
	uint8		visitor[16];
	SubTransactionId subid;		/* the subtransaction that first touched */
} PendingTouch;

typedef struct PendingPayload
{
	int32		site_id;
	SubTransactionId subid;
	char	   *payload;
} PendingPayload;

/* in TopTransactionContext: forgotten (not freed) at transaction end */
static HTAB *pending_touches = NULL;
static List *pending_payloads = NIL;
static bool pending_tokens_changed = false;
static bool callbacks_registered = false;

static void live_xact_callback(XactEvent event, void *arg);
static void live_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);

static void
register_callbacks(void)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(live_xact_callback, NULL);
		RegisterSubXactCallback(live_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

/*
 * Marks a visitor live when the transaction commits.  Once per visitor
 * and transaction: the first touch's subtransaction decides whether it
 * survives a rollback to a savepoint (later touches are in it or below).
 */
void
es_live_touch(int32 site_id, const uint8 visitor[16])
{
	PendingTouch key;
	PendingTouch *entry;
	bool		found;

	if (live == NULL)
		return;
	register_callbacks();
	if (pending_touches == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = offsetof(PendingTouch, subid);
		ctl.entrysize = sizeof(PendingTouch);
		ctl.hcxt = TopTransactionContext;
		pending_touches = hash_create("edgestat pending live marks", 256, &ctl,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.site_id = site_id;
	memcpy(key.visitor, visitor, 16);
	entry = hash_search(pending_touches, &key, HASH_ENTER, &found);
	if (!found)
		entry->subid = GetCurrentSubTransactionId();
}

int64
es_live_count(int32 site_id)
{
	LiveSite   *s;
	int64		count;

	if (live == NULL)
		return 0;
	LWLockAcquire(live_lock, LW_EXCLUSIVE);
	sweep_expired(GetCurrentTimestamp());
	s = site_entry(site_id, false);
	count = s ? s->count : 0;

	/* this transaction's own visitors count as it will see them commit */
	if (pending_touches != NULL)
	{
		HASH_SEQ_STATUS seq;
		PendingTouch *p;

		hash_seq_init(&seq, pending_touches);
		while ((p = hash_seq_search(&seq)) != NULL)
			if (p->site_id == site_id && !live_present(p->site_id, p->visitor))
				count++;
	}
	LWLockRelease(live_lock);
	return count;
}

/* ---- the feed ---- */

/* Appends a payload to the feed.  Caller holds live_lock exclusively. */
static void
feed_put(int32 site_id, const char *payload)
{
	size_t		len = strlen(payload);
	uint64		seq;
	FeedEntry  *e;
	size_t		at;
	size_t		first;

	if (len > FEED_MAX_PAYLOAD)
		return;					/* absent rather than cut */
	seq = ++live->feed_head;
	e = &live->feed[seq % FEED_SLOTS];
	e->seq = seq;
	e->site_id = site_id;
	e->len = (uint32) len;
	e->off = live->feed_wpos;
	at = live->feed_wpos % FEED_BYTES;
	first = Min(len, FEED_BYTES - at);
	memcpy(live->feed_bytes + at, payload, first);
	memcpy(live->feed_bytes, payload + first, len - first);
	live->feed_wpos += len;
}

/*
 * At commit: the live marks, then the feed entries (a dashboard that
 * reads the count after an entry sees the entry's visitor), then wake the
 * listeners.  Nothing here may fail.
 */
static void
publish_pending(void)
{
	ListCell   *lc;
	int			wake[FEED_LISTENERS];
	int			nwake = 0;
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(live_lock, LW_EXCLUSIVE);
	if (pending_touches != NULL)
	{
		HASH_SEQ_STATUS seq;
		PendingTouch *p;

		hash_seq_init(&seq, pending_touches);
		while ((p = hash_seq_search(&seq)) != NULL)
			live_apply(p->site_id, p->visitor, now);
	}
	foreach(lc, pending_payloads)
	{
		PendingPayload *p = lfirst(lc);

		feed_put(p->site_id, p->payload);
	}
	if (pending_payloads != NIL)
		for (int i = 0; i < FEED_LISTENERS; i++)
			if (live->listeners[i] != 0)
				wake[nwake++] = live->listeners[i] - 1;
	LWLockRelease(live_lock);

	for (int i = 0; i < nwake; i++)
		SetLatch(&ProcGlobal->allProcs[wake[i]].procLatch);
}

static void
live_xact_callback(XactEvent event, void *arg)
{
	if (pending_tokens_changed &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT))
		pg_atomic_fetch_add_u64(&live->tokens_generation, 1);
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE)
		pending_tokens_changed = false;
	if (pending_payloads == NIL && pending_touches == NULL)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		publish_pending();
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE)
	{
		/* the memory goes with the transaction */
		pending_payloads = NIL;
		pending_touches = NULL;
	}
}

/*
 * A subtransaction that commits hands what it queued to its parent; one
 * that aborts (ROLLBACK TO SAVEPOINT) drops it: those events are gone.
 */
static void
live_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, pending_payloads)
	{
		PendingPayload *p = lfirst(lc);

		if (p->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			p->subid = parentSubid;
		else
			pending_payloads = foreach_delete_current(pending_payloads, lc);
	}
	if (pending_touches != NULL)
	{
		HASH_SEQ_STATUS seq;
		PendingTouch *p;

		hash_seq_init(&seq, pending_touches);
		while ((p = hash_seq_search(&seq)) != NULL)
		{
			if (p->subid != mySubid)
				continue;
			if (event == SUBXACT_EVENT_COMMIT_SUB)
				p->subid = parentSubid;
			else
				hash_search(pending_touches, p, HASH_REMOVE, NULL);
		}
	}
}

/*
 * Queue a payload for the feed at commit.  Payloads of a transaction (or
 * subtransaction) that aborts are never shown, like its NOTIFYs.
 */
void
es_feed_queue(int32 site_id, const char *payload)
{
	MemoryContext old;
	PendingPayload *p;

	if (live == NULL)
		return;
	register_callbacks();
	old = MemoryContextSwitchTo(TopTransactionContext);
	p = palloc(sizeof(PendingPayload));
	p->site_id = site_id;
	p->subid = GetCurrentSubTransactionId();
	p->payload = pstrdup(payload);
	pending_payloads = lappend(pending_payloads, p);
	MemoryContextSwitchTo(old);
}

uint64
es_feed_head(void)
{
	uint64		head;

	if (live == NULL)
		return 0;
	LWLockAcquire(live_lock, LW_SHARED);
	head = live->feed_head;
	LWLockRelease(live_lock);
	return head;
}

uint64
es_feed_read(uint64 after, EsFeedReader fn, void *arg)
{
	uint64		newest = es_feed_head();
	uint64		first;
	uint64		last;
	struct
	{
		int32		site_id;
		size_t		at;
	}		   *copy;
	char	   *bytes;
	size_t		nbytes = 0;
	int			n = 0;

	if (newest <= after)
		return after;

	/*
	 * Copy out under the lock, call back without it.  Entries published
	 * since es_feed_head() above are left for the next call; entries whose
	 * bytes were overwritten since are skipped whole.
	 */
	copy = palloc(sizeof(*copy) * Min(newest - after, FEED_SLOTS));
	bytes = palloc(FEED_BYTES + Min(newest - after, FEED_SLOTS));
	LWLockAcquire(live_lock, LW_SHARED);
	first = live->feed_head > FEED_SLOTS ? Max(after, live->feed_head - FEED_SLOTS) : after;
	last = Min(live->feed_head, first + Min(newest - after, FEED_SLOTS));
	for (uint64 seq = first + 1; seq <= last; seq++)
	{
		FeedEntry  *e = &live->feed[seq % FEED_SLOTS];
		size_t		at;
		size_t		part;

		if (e->seq != seq || live->feed_wpos - e->off > FEED_BYTES ||
			nbytes + e->len + 1 > FEED_BYTES + Min(newest - after, FEED_SLOTS))
			continue;
		at = e->off % FEED_BYTES;
		part = Min((size_t) e->len, FEED_BYTES - at);
		memcpy(bytes + nbytes, live->feed_bytes + at, part);
		memcpy(bytes + nbytes + part, live->feed_bytes, e->len - part);
		copy[n].site_id = e->site_id;
		copy[n].at = nbytes;
		nbytes += e->len;
		bytes[nbytes++] = '\0';
		n++;
	}
	LWLockRelease(live_lock);

	for (int i = 0; i < n; i++)
		fn(copy[i].site_id, bytes + copy[i].at, arg);
	pfree(copy);
	pfree(bytes);
	return last;
}

static void
feed_unlisten(int code, Datum arg)
{
	es_feed_listen(false);
}

void
es_feed_listen(bool on)
{
	static bool exit_hook = false;
	int			me = MyProc->pgprocno + 1;

	if (live == NULL)
		return;
	LWLockAcquire(live_lock, LW_EXCLUSIVE);
	for (int i = 0; i < FEED_LISTENERS; i++)
	{
		if (live->listeners[i] == me)
			live->listeners[i] = 0;
	}
	if (on)
	{
		for (int i = 0; i < FEED_LISTENERS; i++)
		{
			if (live->listeners[i] == 0)
			{
				live->listeners[i] = me;
				break;
			}
		}
	}
	LWLockRelease(live_lock);
	if (on && !exit_hook)
	{
		before_shmem_exit(feed_unlisten, (Datum) 0);
		exit_hook = true;
	}
}

/* ---- SQL: who is live ---- */

typedef struct LiveVisitor
{
	uint8		visitor[16];
	TimestampTz seen;
} LiveVisitor;

static int
cmp_newest_first(const void *a, const void *b)
{
	TimestampTz x = ((const LiveVisitor *) a)->seen;
	TimestampTz y = ((const LiveVisitor *) b)->seen;

	return (x < y) - (x > y);
}

PG_FUNCTION_INFO_V1(edgestat_live_visitor_ids);

/*
 * live_visitor_ids(site text, lim int) -> (visitor_id uuid, last_seen
 * timestamptz), newest first: the live visitors themselves, from shared
 * memory, so that a dashboard needs no index on visitors.last_seen (one
 * that every ingest would have to update).
 */
Datum
edgestat_live_visitor_ids(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *domain = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		lim = PG_GETARG_INT32(1);
	const EsSite *site;
	TimestampTz horizon;
	LiveVisitor *found;
	int			nfound = 0;

	if (live == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("edgestat must be loaded via shared_preload_libraries")));
	site = es_site_require(domain);

	InitMaterializedSRF(fcinfo, 0);
	if (lim <= 0)
		return (Datum) 0;

	horizon = GetCurrentTimestamp() - (TimestampTz) live_ttl_s * 1000000;
	found = palloc(sizeof(LiveVisitor) * (live->mask + 1));
	LWLockAcquire(live_lock, LW_SHARED);
	for (uint32 i = 0; i <= live->mask; i++)
	{
		LiveSlot   *slot = &live->slots[i];

		if (slot->site_id == site->id && slot->seen > horizon)
		{
			memcpy(found[nfound].visitor, slot->visitor, 16);
			found[nfound].seen = slot->seen;
			nfound++;
		}
	}
	LWLockRelease(live_lock);

	qsort(found, nfound, sizeof(LiveVisitor), cmp_newest_first);
	for (int i = 0; i < nfound && i < lim; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};
		pg_uuid_t  *uuid = palloc(sizeof(pg_uuid_t));

		memcpy(uuid->data, found[i].visitor, 16);
		values[0] = UUIDPGetDatum(uuid);
		values[1] = TimestampTzGetDatum(found[i].seen);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---- dashboard tokens: open streams recheck theirs when this moves ---- */

uint64
es_tokens_generation(void)
{
	return live ? pg_atomic_read_u64(&live->tokens_generation) : 0;
}

PG_FUNCTION_INFO_V1(edgestat_tokens_changed);

/*
 * Statement trigger on edgestat.dashboard_tokens (DELETE, UPDATE,
 * TRUNCATE): when the transaction commits, HTTP workers check the tokens
 * of their open /live streams again, so a revoked token's streams close.
 */
Datum
edgestat_tokens_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edgestat.tokens_changed() must be called as a trigger")));
	if (live != NULL)
	{
		register_callbacks();
		pending_tokens_changed = true;
	}
	return PointerGetDatum(NULL);
}
