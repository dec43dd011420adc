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
 * sequence number.  Payloads are published when their transaction
 * commits, and listeners (HTTP workers) get their latch set.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "utils/guc.h"

#include "live.h"
#include "shmem.h"
#include "sites.h"
#include "stats.h"

#define LIVE_PROBE		8
#define LIVE_SITES		1024
#define FEED_SLOTS		1024
#define FEED_PAYLOAD	1024
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
	char		payload[FEED_PAYLOAD];
} FeedEntry;

typedef struct LiveShared
{
	uint32		mask;
	TimestampTz swept;
	LiveSite	sites[LIVE_SITES];
	uint64		feed_head;		/* sequence number of the newest entry */
	int			listeners[FEED_LISTENERS];	/* pgprocno + 1, 0: free */
	FeedEntry	feed[FEED_SLOTS];
	LiveSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} LiveShared;

static LiveShared *live = NULL;
static LWLock *live_lock = NULL;

static int	live_ttl_s = 300;
static int	live_slots = 65536;

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

void
es_live_touch(int32 site_id, const uint8 visitor[16])
{
	uint32		h;
	uint32		start;
	LiveSlot   *victim = NULL;
	TimestampTz now = GetCurrentTimestamp();

	if (live == NULL)
		return;
	memcpy(&h, visitor, sizeof(h));
	h ^= (uint32) site_id * 2654435761u;
	start = (h & live->mask) & ~(uint32) (LIVE_PROBE - 1);

	LWLockAcquire(live_lock, LW_EXCLUSIVE);
	for (int i = 0; i < LIVE_PROBE; i++)
	{
		LiveSlot   *slot = &live->slots[start + i];

		if (slot->site_id == site_id && memcmp(slot->visitor, visitor, 16) == 0)
		{
			slot->seen = now;
			LWLockRelease(live_lock);
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
	LWLockRelease(live_lock);
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
	LWLockRelease(live_lock);
	return count;
}

/* ---- the feed ---- */

typedef struct PendingPayload
{
	int32		site_id;
	char	   *payload;
} PendingPayload;

static List *pending_payloads = NIL;
static bool feed_callback_registered = false;

static void
feed_publish_pending(void)
{
	ListCell   *lc;
	int			wake[FEED_LISTENERS];
	int			nwake = 0;

	LWLockAcquire(live_lock, LW_EXCLUSIVE);
	foreach(lc, pending_payloads)
	{
		PendingPayload *p = lfirst(lc);
		uint64		seq = ++live->feed_head;
		FeedEntry  *e = &live->feed[seq % FEED_SLOTS];

		e->seq = seq;
		e->site_id = p->site_id;
		strlcpy(e->payload, p->payload, FEED_PAYLOAD);
	}
	for (int i = 0; i < FEED_LISTENERS; i++)
		if (live->listeners[i] != 0)
			wake[nwake++] = live->listeners[i] - 1;
	LWLockRelease(live_lock);

	for (int i = 0; i < nwake; i++)
		SetLatch(&ProcGlobal->allProcs[wake[i]].procLatch);
}

static void
feed_xact_callback(XactEvent event, void *arg)
{
	if (pending_payloads == NIL)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		feed_publish_pending();
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE)
		pending_payloads = NIL; /* the memory goes with the transaction */
}

/*
 * Queue a payload for the feed at commit.  Payloads of a transaction that
 * aborts are never shown, like its NOTIFYs.
 */
void
es_feed_queue(int32 site_id, const char *payload)
{
	MemoryContext old;
	PendingPayload *p;

	if (live == NULL)
		return;
	if (!feed_callback_registered)
	{
		RegisterXactCallback(feed_xact_callback, NULL);
		feed_callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	p = palloc(sizeof(PendingPayload));
	p->site_id = site_id;
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
	FeedEntry  *copy;
	int			n = 0;

	if (newest <= after)
		return after;

	/*
	 * Copy out under the lock, call back without it.  Entries published
	 * since es_feed_head() above are left for the next call.
	 */
	copy = palloc(sizeof(FeedEntry) * Min(newest - after, FEED_SLOTS));
	LWLockAcquire(live_lock, LW_SHARED);
	first = live->feed_head > FEED_SLOTS ? Max(after, live->feed_head - FEED_SLOTS) : after;
	last = Min(live->feed_head, first + Min(newest - after, FEED_SLOTS));
	for (uint64 seq = first + 1; seq <= last; seq++)
		copy[n++] = live->feed[seq % FEED_SLOTS];
	LWLockRelease(live_lock);

	for (int i = 0; i < n; i++)
		fn(copy[i].site_id, copy[i].payload, arg);
	pfree(copy);
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
