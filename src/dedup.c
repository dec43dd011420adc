/*-------------------------------------------------------------------------
 *
 * dedup.c
 *	  The duplicate window (docs/data-model.md): a fixed-size table in shared memory
 *	  of 128-bit event keys and the time each was accepted.
 *
 * The table never blocks ingestion and never fails: a key probes a short,
 * bounded run of slots, and when all are taken by live keys the oldest
 * gives way (counted as an eviction).  Locks are striped so that workers
 * and backends rarely meet on the same one.
 *
 * Keys and slots are keyed hashes (SipHash, keyed.c) under keys drawn at
 * each server start: the fields of an event are the client's choice, and
 * with fixed seeds a client could aim many keys at one run of slots and
 * push everyone else's out of the window.
 *
 * A key inserted by a transaction that then aborts is removed again
 * (dedup_xact_callback), so a client retrying a refused or failed request
 * is not taken for a duplicate of something that was never stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "utils/guc.h"
#include "access/transam.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"

#include "dedup.h"
#include "keyed.h"
#include "shmem.h"
#include "stats.h"

#define DEDUP_STRIPES	64
#define DEDUP_PROBE		8

typedef struct DedupSlot
{
	uint64		k1;
	uint64		k2;
	TimestampTz seen;			/* 0: empty */
	TransactionId xid;			/* took the key; invalid once known committed */
} DedupSlot;

typedef struct DedupTable
{
	uint32		mask;			/* slots - 1, slots a power of two */
	EsHashKey	slot_key;		/* where a key's run of slots starts */
	EsHashKey	event_keys[2];	/* the two halves of an event's key */
	DedupSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} DedupTable;

static DedupTable *dedup = NULL;
static LWLockPadded *dedup_locks = NULL;

/* Keys inserted by the current transaction, undone if it aborts. */
typedef struct PendingKey
{
	uint8		key[16];
	SubTransactionId subid;
} PendingKey;

static PendingKey *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;
static bool callbacks_registered = false;

static int	dedup_window_ms = 5000;
static int	dedup_slots = 65536;

static Size
dedup_shmem_size(void)
{
	return add_size(offsetof(DedupTable, slots),
					mul_size(es_table_slots(dedup_slots, 1U << 30),
							 sizeof(DedupSlot)));
}

static void
dedup_shmem_attach(void *ptr, bool found)
{
	dedup = ptr;
	if (!found)
	{
		uint32		n = es_table_slots(dedup_slots, 1U << 30);

		dedup->mask = n - 1;
		memset(dedup->slots, 0, n * sizeof(DedupSlot));
		es_hash_key_generate(&dedup->slot_key);
		es_hash_key_generate(&dedup->event_keys[0]);
		es_hash_key_generate(&dedup->event_keys[1]);
	}
	dedup_locks = GetNamedLWLockTranche("edgestat_dedup");
}

static const EsShmemPart dedup_part = {
	"edgestat dedup", dedup_shmem_size, dedup_shmem_attach,
	"edgestat_dedup", DEDUP_STRIPES
};

void
es_dedup_init(void)
{
	DefineCustomIntVariable("edgestat.dedup_window",
							"Window within which an equal event is a duplicate.",
							NULL, &dedup_window_ms, 5000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.dedup_slots",
							"Entries of the shared duplicate table.",
							NULL, &dedup_slots, 65536, 1024, 64 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	es_shmem_register(&dedup_part);
}

static inline void
key_words(const uint8 key[16], uint64 *k1, uint64 *k2)
{
	memcpy(k1, key, 8);
	memcpy(k2, key + 8, 8);
	/* 0/0 is how an empty slot looks; shift such a key aside. */
	if (*k1 == 0 && *k2 == 0)
		*k2 = 1;
}

/* The first slot of a key's run: a keyed hash, not the key's own bits. */
static inline uint32
slot_start(const uint8 key[16])
{
	uint64		h = es_siphash(&dedup->slot_key, key, 16);

	return (uint32) (h & dedup->mask) & ~(uint32) (DEDUP_PROBE - 1);
}

/*
 * The 128-bit key of an event from its identifying bytes: two SipHash
 * values under independent per-start keys, so that nobody outside can
 * make two different events collide.  Without shared memory (not
 * preloaded) there is no window to protect and fixed seeds do.
 */
void
es_dedup_key(const void *buf, size_t len, uint8 key[16])
{
	uint64		h1;
	uint64		h2;

	if (dedup != NULL)
	{
		h1 = es_siphash(&dedup->event_keys[0], buf, len);
		h2 = es_siphash(&dedup->event_keys[1], buf, len);
	}
	else
	{
		h1 = hash_bytes_extended(buf, (int) len, UINT64CONST(0x6564676573746174));
		h2 = hash_bytes_extended(buf, (int) len, UINT64CONST(0x9e3779b97f4a7c15));
	}
	memcpy(key, &h1, 8);
	memcpy(key + 8, &h2, 8);
}

/* Probing never crosses a stripe, so one lock covers a key's whole run. */
static inline uint32
stripe_of(uint32 slot)
{
	return (slot / DEDUP_PROBE) % DEDUP_STRIPES;
}

static void
dedup_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		for (int i = 0; i < npending; i++)
			es_dedup_forget(pending[i].key);
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		npending = 0;
}

static void
dedup_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			kept = 0;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	for (int i = 0; i < npending; i++)
	{
		if (pending[i].subid != mySubid)
			pending[kept++] = pending[i];
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			pending[i].subid = parentSubid;
			pending[kept++] = pending[i];
		}
		else
			es_dedup_forget(pending[i].key);
	}
	npending = kept;
}

static void
remember_pending(const uint8 key[16])
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(dedup_xact_callback, NULL);
		RegisterSubXactCallback(dedup_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (npending == maxpending)
	{
		int			newmax = maxpending ? maxpending * 2 : 256;

		/* TopMemoryContext: the list must survive the abort it serves. */
		if (pending == NULL)
			pending = MemoryContextAlloc(TopMemoryContext,
										 newmax * sizeof(PendingKey));
		else
			pending = repalloc(pending, newmax * sizeof(PendingKey));
		maxpending = newmax;
	}
	memcpy(pending[npending].key, key, 16);
	pending[npending].subid = GetCurrentSubTransactionId();
	npending++;
}

/*
 * Returns true when key was accepted within the window; otherwise records
 * it as accepted now and returns false.
 */
/*
 * An equal key was taken by transaction xid: is it a duplicate?  A key of
 * this very transaction is (both share its fate); a key of a transaction
 * still running is waited for, since only its outcome says whether the
 * original is stored; one that aborted is not (its keys are being
 * forgotten).
 */
typedef enum KeyOwner
{
	OWNER_COMMITTED,
	OWNER_CURRENT,
	OWNER_ABORTED
} KeyOwner;

static KeyOwner
key_owner(TransactionId xid)
{
	if (!TransactionIdIsValid(xid))
		return OWNER_COMMITTED;
	if (TransactionIdIsCurrentTransactionId(xid))
		return OWNER_CURRENT;
	if (TransactionIdIsInProgress(xid))
		XactLockTableWait(xid, NULL, NULL, XLTW_None);
	return TransactionIdDidCommit(xid) ? OWNER_COMMITTED : OWNER_ABORTED;
}

bool
es_dedup_seen(const uint8 key[16])
{
	uint64		k1,
				k2;
	uint32		start;
	TimestampTz now;
	TimestampTz horizon;
	DedupSlot  *victim = NULL;
	DedupSlot  *match = NULL;
	TransactionId owner = InvalidTransactionId;
	TransactionId mine = InvalidTransactionId;
	LWLock	   *lock;

	if (dedup_window_ms <= 0 || dedup == NULL)
		return false;

	key_words(key, &k1, &k2);
	start = slot_start(key);
	lock = &dedup_locks[stripe_of(start)].lock;

	for (;;)
	{
		now = GetCurrentTimestamp();
		horizon = now - (TimestampTz) dedup_window_ms * 1000;
		victim = match = NULL;
		LWLockAcquire(lock, LW_EXCLUSIVE);
		for (int i = 0; i < DEDUP_PROBE; i++)
		{
			DedupSlot  *slot = &dedup->slots[start + i];

			if (slot->seen != 0 && slot->k1 == k1 && slot->k2 == k2)
			{
				match = slot;
				break;
			}
			if (victim == NULL || slot->seen < victim->seen)
				victim = slot;
		}
		if (match == NULL || match->seen <= horizon ||
			!TransactionIdIsValid(match->xid))
		{
			/*
			 * Taking a key names this transaction, which will write the
			 * event (outside a transaction, never in practice, the key
			 * just counts).  Asked for outside the lock: it may wait.
			 */
			if ((match == NULL || match->seen <= horizon) &&
				!TransactionIdIsValid(mine) && IsTransactionState())
			{
				LWLockRelease(lock);
				mine = GetTopTransactionId();
				continue;
			}
			break;
		}
		owner = match->xid;
		LWLockRelease(lock);

		/* the original's fate decides, looked at without our lock */
		switch (key_owner(owner))
		{
			case OWNER_CURRENT:
				return true;	/* its fate is ours */
			case OWNER_COMMITTED:
				LWLockAcquire(lock, LW_EXCLUSIVE);
				if (match->k1 == k1 && match->k2 == k2 && match->xid == owner)
					match->xid = InvalidTransactionId;
				LWLockRelease(lock);
				return true;
			case OWNER_ABORTED:
				/* its abort forgets the key; take it if it is still there */
				if (!TransactionIdIsValid(mine) && IsTransactionState())
					mine = GetTopTransactionId();
				LWLockAcquire(lock, LW_EXCLUSIVE);
				if (match->k1 == k1 && match->k2 == k2 && match->xid == owner)
				{
					match->seen = GetCurrentTimestamp();
					match->xid = mine;
					LWLockRelease(lock);
					if (IsTransactionState())
						remember_pending(key);
					return false;
				}
				LWLockRelease(lock);
				continue;		/* gone meanwhile: look again */
		}
	}

	if (match != NULL && match->seen > horizon)
	{
		/* a committed original within the window */
		LWLockRelease(lock);
		return true;
	}
	if (match != NULL)
		victim = match;			/* an expired copy of the key: reuse it */
	else if (victim->seen > horizon)
		es_count(ES_C_DEDUP_EVICTIONS, 1);
	victim->k1 = k1;
	victim->k2 = k2;
	victim->seen = now;
	victim->xid = mine;
	LWLockRelease(lock);

	if (IsTransactionState())
		remember_pending(key);
	return false;
}

void
es_dedup_forget(const uint8 key[16])
{
	uint64		k1,
				k2;
	uint32		start;
	LWLock	   *lock;

	if (dedup == NULL)
		return;
	key_words(key, &k1, &k2);
	start = slot_start(key);
	lock = &dedup_locks[stripe_of(start)].lock;

	LWLockAcquire(lock, LW_EXCLUSIVE);
	for (int i = 0; i < DEDUP_PROBE; i++)
	{
		DedupSlot  *slot = &dedup->slots[start + i];

		if (slot->seen != 0 && slot->k1 == k1 && slot->k2 == k2)
		{
			slot->seen = 0;
			slot->k1 = slot->k2 = 0;
			break;
		}
	}
	LWLockRelease(lock);
}
