/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  The pipeline's counters: atomics in shared memory, shown by
 *	  edgestat.stats() and the worker's /metrics.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "shmem.h"
#include "stats.h"

const char *const es_counter_names[ES_NUM_COUNTERS] = {
	[ES_C_RECEIVED] = "received",
	[ES_C_ACCEPTED] = "accepted",
	[ES_C_DUPLICATES] = "duplicates",
	[ES_C_RATE_LIMITED] = "rate_limited",
	[ES_C_INVALID] = "invalid",
	[ES_C_UNKNOWN_SITE] = "unknown_site",
	[ES_C_FORBIDDEN_ORIGIN] = "forbidden_origin",
	[ES_C_BOTS] = "bots",
	[ES_C_BATCHES] = "batches",
	[ES_C_NOTIFICATIONS] = "notifications",
	[ES_C_SCORE_RECOMPUTES] = "score_recomputes",
	[ES_C_DEDUP_EVICTIONS] = "dedup_evictions",
	[ES_C_RATELIMIT_EVICTIONS] = "ratelimit_evictions",
	[ES_C_LIVE_EVICTIONS] = "live_evictions",
	[ES_C_GEO_LOOKUPS] = "geo_lookups",
	[ES_C_GEO_MISSES] = "geo_misses",
	[ES_C_HTTP_REQUESTS] = "http_requests",
	[ES_C_HTTP_REJECTED] = "http_rejected",
	[ES_C_HTTP_SHED] = "http_shed",
	[ES_C_BATCH_FAILURES] = "batch_failures",
	[ES_C_MAINTENANCE_ROUNDS] = "maintenance_rounds",
	[ES_C_MAINTENANCE_FAILURES] = "maintenance_failures",
	[ES_C_HOURS_SEALED] = "hours_sealed",
	[ES_C_PARTITIONS_CREATED] = "partitions_created",
	[ES_C_PARTITIONS_DROPPED] = "partitions_dropped",
};

typedef struct EsCounters
{
	pg_atomic_uint64 value[ES_NUM_COUNTERS];
} EsCounters;

static EsCounters *counters = NULL;

static Size
stats_shmem_size(void)
{
	return sizeof(EsCounters);
}

static void
stats_shmem_attach(void *ptr, bool found)
{
	counters = ptr;
	if (!found)
	{
		for (int i = 0; i < ES_NUM_COUNTERS; i++)
			pg_atomic_init_u64(&counters->value[i], 0);
	}
}

static const EsShmemPart stats_part = {
	"edgestat counters", stats_shmem_size, stats_shmem_attach, NULL, 0
};

void
es_stats_init(void)
{
	es_shmem_register(&stats_part);
}

void
es_count(EsCounter counter, uint64 n)
{
	if (counters && n > 0)
		pg_atomic_fetch_add_u64(&counters->value[counter], n);
}

uint64
es_counter_value(EsCounter counter)
{
	return counters ? pg_atomic_read_u64(&counters->value[counter]) : 0;
}

#if PG_VERSION_NUM < 150000
/* What InitMaterializedSRF (PostgreSQL 15) does, for 13 and 14. */
void
InitMaterializedSRF(FunctionCallInfo fcinfo, bits32 flags)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	TupleDesc	desc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(desc);
	MemoryContextSwitchTo(old);
}
#endif

PG_FUNCTION_INFO_V1(edgestat_stats);

Datum
edgestat_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (!es_shmem_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("edgestat must be loaded via shared_preload_libraries")));

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < ES_NUM_COUNTERS; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(es_counter_names[i]);
		values[1] = Int64GetDatum((int64) es_counter_value(i));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
