/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  The counters behind edgestat.stats(), /metrics and /healthz: one
 *	  atomic per counter in shared memory, added to without a lock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_STATS_H
#define EDGESTAT_STATS_H

#include "postgres.h"

#include "fmgr.h"

typedef enum EsCounter
{
	ES_C_RECEIVED,				/* events in well-formed bodies */
	ES_C_ACCEPTED,				/* events written */
	ES_C_DUPLICATES,
	ES_C_RATE_LIMITED,
	ES_C_INVALID,				/* bodies rejected as malformed */
	ES_C_UNKNOWN_SITE,
	ES_C_FORBIDDEN_ORIGIN,
	ES_C_BOTS,
	ES_C_BATCHES,
	ES_C_NOTIFICATIONS,
	ES_C_SCORE_RECOMPUTES,
	ES_C_DEDUP_EVICTIONS,
	ES_C_RATELIMIT_EVICTIONS,
	ES_C_LIVE_EVICTIONS,
	ES_C_GEO_LOOKUPS,
	ES_C_GEO_MISSES,
	ES_C_HTTP_REQUESTS,
	ES_C_HTTP_REJECTED,			/* 4xx answers */
	ES_C_HTTP_SHED,				/* 503 answers */
	ES_C_BATCH_FAILURES,
	ES_C_MAINTENANCE_ROUNDS,
	ES_C_MAINTENANCE_FAILURES,
	ES_C_HOURS_SEALED,
	ES_C_PARTITIONS_CREATED,
	ES_C_PARTITIONS_DROPPED,
	ES_NUM_COUNTERS
} EsCounter;

extern const char *const es_counter_names[ES_NUM_COUNTERS];

extern void es_stats_init(void);
extern void es_count(EsCounter counter, uint64 n);
extern uint64 es_counter_value(EsCounter counter);

#if PG_VERSION_NUM < 150000
/* PostgreSQL 15's, in stats.c for older servers */
extern void InitMaterializedSRF(FunctionCallInfo fcinfo, bits32 flags);
#endif

#endif							/* EDGESTAT_STATS_H */
