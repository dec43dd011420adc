/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *	  Exact token buckets per (client address, site) in shared memory:
 *	  edgestat.rate_limit tokens, refilled at that many per
 *	  minute, shared by every worker and backend.
 *
 * A client is its IPv4 address or its IPv6 /64: one IPv6 subscriber gets
 * a /64 (or more) and may use any of its 2^64 addresses, so keying by /128
 * would give it 2^64 buckets.  Slots come from a keyed hash (keyed.c) with
 * a key drawn at each start, so addresses cannot be chosen to collide.
 *
 * Buckets sit in a fixed table with bounded probing, like dedup.c; when a
 * run is full the bucket that was idle longest gives way.  An evicted
 * client starts again with a full bucket, which errs on the side of
 * accepting, and is counted.  A bucket untouched for a full refill period
 * is full anyway, so it is free to reuse without losing anything.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "utils/guc.h"

#include "keyed.h"
#include "ratelimit.h"
#include "shmem.h"
#include "stats.h"

#define RL_STRIPES	16
#define RL_PROBE	8

typedef struct RateBucket
{
	uint8		addr[16];
	uint8		family;			/* 0: empty */
	int32		site_id;
	double		tokens;
	TimestampTz refilled;
} RateBucket;

typedef struct RateTable
{
	uint32		mask;
	EsHashKey	slot_key;
	RateBucket	buckets[FLEXIBLE_ARRAY_MEMBER];
} RateTable;

static RateTable *rates = NULL;
static LWLockPadded *rate_locks = NULL;

int			es_rate_limit = 600;
static int	ratelimit_buckets = 16384;

static Size
ratelimit_shmem_size(void)
{
	return add_size(offsetof(RateTable, buckets),
					mul_size(es_table_slots(ratelimit_buckets, 1U << 28),
							 sizeof(RateBucket)));
}

static void
ratelimit_shmem_attach(void *ptr, bool found)
{
	rates = ptr;
	if (!found)
	{
		uint32		n = es_table_slots(ratelimit_buckets, 1U << 28);

		rates->mask = n - 1;
		memset(rates->buckets, 0, n * sizeof(RateBucket));
		es_hash_key_generate(&rates->slot_key);
	}
	rate_locks = GetNamedLWLockTranche("edgestat_ratelimit");
}

static const EsShmemPart ratelimit_part = {
	"edgestat rate limit", ratelimit_shmem_size, ratelimit_shmem_attach,
	"edgestat_ratelimit", RL_STRIPES
};

void
es_ratelimit_init(void)
{
	DefineCustomIntVariable("edgestat.rate_limit",
							"Events per minute per client address and site; 0 disables.",
							NULL, &es_rate_limit, 600, 0, 10000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.ratelimit_buckets",
							"Token buckets (client address, site) in shared memory.",
							NULL, &ratelimit_buckets, 16384, 1024, 16 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	es_shmem_register(&ratelimit_part);
}

/* The client an address stands for: IPv6 by its /64. */
static void
client_of(const EsAddr *addr, EsAddr *client)
{
	*client = *addr;
	if (client->family == 6)
		memset(client->bytes + 8, 0, 8);
}

static uint32
bucket_hash(const EsAddr *client, int32 site_id)
{
	uint8		buf[21];

	memcpy(buf, client->bytes, 16);
	memcpy(buf + 16, &site_id, 4);
	buf[20] = client->family;
	return (uint32) es_siphash(&rates->slot_key, buf, sizeof(buf));
}

/*
 * Take n tokens from the bucket of (addr, site), all or none.  Returns
 * false when they are not there, with the seconds until they will be.
 */
bool
es_ratelimit_take(const EsAddr *peer, int32 site_id, int n,
				  int *retry_after_s)
{
	EsAddr		client;
	const EsAddr *addr = &client;
	int			limit = es_rate_limit;
	double		per_us;
	uint32		start;
	TimestampTz now;
	RateBucket *bucket = NULL;
	RateBucket *victim = NULL;
	bool		ok;
	LWLock	   *lock;

	*retry_after_s = 0;
	if (limit <= 0 || peer->family == 0 || rates == NULL)
		return true;
	client_of(peer, &client);

	per_us = (double) limit / (60.0 * 1000000.0);
	start = (bucket_hash(addr, site_id) & rates->mask) & ~(uint32) (RL_PROBE - 1);
	lock = &rate_locks[(start / RL_PROBE) % RL_STRIPES].lock;
	now = GetCurrentTimestamp();

	LWLockAcquire(lock, LW_EXCLUSIVE);
	for (int i = 0; i < RL_PROBE; i++)
	{
		RateBucket *b = &rates->buckets[start + i];

		if (b->family == addr->family && b->site_id == site_id &&
			memcmp(b->addr, addr->bytes, 16) == 0)
		{
			bucket = b;
			break;
		}
		if (victim == NULL || b->family == 0 ||
			(victim->family != 0 && b->refilled < victim->refilled))
			victim = b;
	}
	if (bucket == NULL)
	{
		bucket = victim;
		if (bucket->family != 0 &&
			now - bucket->refilled < (TimestampTz) 60 * 1000000)
			es_count(ES_C_RATELIMIT_EVICTIONS, 1);
		memcpy(bucket->addr, addr->bytes, 16);
		bucket->family = addr->family;
		bucket->site_id = site_id;
		bucket->tokens = limit;
		bucket->refilled = now;
	}
	else if (now > bucket->refilled)
	{
		bucket->tokens = Min((double) limit,
							 bucket->tokens + (now - bucket->refilled) * per_us);
		bucket->refilled = now;
	}
	/* A limit lowered by SIGHUP applies at once. */
	if (bucket->tokens > limit)
		bucket->tokens = limit;

	ok = bucket->tokens >= n;
	if (ok)
		bucket->tokens -= n;
	else
		*retry_after_s = (int) ceil((Min((double) n, (double) limit) -
									 bucket->tokens) / ((double) limit / 60.0));
	LWLockRelease(lock);

	if (!ok && *retry_after_s < 1)
		*retry_after_s = 1;
	return ok;
}
