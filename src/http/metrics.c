/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  GET /metrics and /healthz: the counters of stats.c and histograms of
 *	  committed batches, which live in shared memory so that every
 *	  worker's commits show up whichever worker answers the scrape.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "utils/timestamp.h"

#include "edges.h"
#include "http_int.h"
#include "maintenance.h"
#include "shmem.h"
#include "stats.h"

/*
 * Buckets are stored non-cumulative and summed when formatted, so an
 * observation is two atomic adds and no lock.  Readers may see a bucket
 * and the count a moment apart; Prometheus tolerates that.
 */
static const double batch_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
static const double commit_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

#define N_BATCH_BOUNDS lengthof(batch_bounds)
#define N_COMMIT_BOUNDS lengthof(commit_bounds)

typedef struct EsHttpShared
{
	pg_atomic_uint64 batch_buckets[N_BATCH_BOUNDS + 1];
	pg_atomic_uint64 batch_sum;
	pg_atomic_uint64 commit_buckets[N_COMMIT_BOUNDS + 1];
	pg_atomic_uint64 commit_sum_us;
	pg_atomic_uint64 count;
	pg_atomic_uint64 last_failure;	/* TimestampTz of the last failed batch */
} EsHttpShared;

/*
 * /healthz says "degraded" for this long after a batch failed: long
 * enough for a scrape every 15 or 30 s to see it, short enough to clear
 * by itself once batches commit again (a full disk freed, a lock gone).
 */
#define ES_DEGRADED_SECS	30

static EsHttpShared *es_http_shared = NULL;

static Size
metrics_shmem_size(void)
{
	return sizeof(EsHttpShared);
}

static void
metrics_shmem_attach(void *ptr, bool found)
{
	es_http_shared = ptr;
	if (!found)
	{
		for (int i = 0; i <= N_BATCH_BOUNDS; i++)
			pg_atomic_init_u64(&es_http_shared->batch_buckets[i], 0);
		for (int i = 0; i <= N_COMMIT_BOUNDS; i++)
			pg_atomic_init_u64(&es_http_shared->commit_buckets[i], 0);
		pg_atomic_init_u64(&es_http_shared->batch_sum, 0);
		pg_atomic_init_u64(&es_http_shared->commit_sum_us, 0);
		pg_atomic_init_u64(&es_http_shared->count, 0);
		pg_atomic_init_u64(&es_http_shared->last_failure, 0);
	}
}

static const EsShmemPart metrics_part = {
	"edgestat http metrics", metrics_shmem_size, metrics_shmem_attach, NULL, 0
};

void
es_http_metrics_init(void)
{
	es_shmem_register(&metrics_part);
}

void
es_http_observe_batch(int events, int64 commit_us)
{
	int			i;
	double		secs = commit_us / 1000000.0;

	if (es_http_shared == NULL)
		return;
	for (i = 0; i < N_BATCH_BOUNDS && events > batch_bounds[i]; i++)
		;
	pg_atomic_fetch_add_u64(&es_http_shared->batch_buckets[i], 1);
	pg_atomic_fetch_add_u64(&es_http_shared->batch_sum, events);
	for (i = 0; i < N_COMMIT_BOUNDS && secs > commit_bounds[i]; i++)
		;
	pg_atomic_fetch_add_u64(&es_http_shared->commit_buckets[i], 1);
	pg_atomic_fetch_add_u64(&es_http_shared->commit_sum_us,
							commit_us > 0 ? commit_us : 0);
	pg_atomic_fetch_add_u64(&es_http_shared->count, 1);
}

/* In shared memory, so that whichever worker answers /healthz knows. */
void
es_http_observe_failure(void)
{
	if (es_http_shared != NULL)
		pg_atomic_write_u64(&es_http_shared->last_failure,
							(uint64) GetCurrentTimestamp());
}

static void
format_histogram(StringInfo buf, const char *name, const char *help,
				 const double *bounds, int nbounds, pg_atomic_uint64 *buckets,
				 double sum, uint64 count)
{
	uint64		cum = 0;

	appendStringInfo(buf, "# HELP %s %s\n# TYPE %s histogram\n",
					 name, help, name);
	for (int i = 0; i < nbounds; i++)
	{
		cum += pg_atomic_read_u64(&buckets[i]);
		appendStringInfo(buf, "%s_bucket{le=\"%g\"} " UINT64_FORMAT "\n",
						 name, bounds[i], cum);
	}
	cum += pg_atomic_read_u64(&buckets[nbounds]);
	/* +Inf must equal _count; take the larger so the series stays valid */
	if (count < cum)
		count = cum;
	appendStringInfo(buf, "%s_bucket{le=\"+Inf\"} " UINT64_FORMAT "\n",
					 name, count);
	appendStringInfo(buf, "%s_sum %.6f\n%s_count " UINT64_FORMAT "\n",
					 name, sum, name, count);
}

void
es_http_format_metrics(StringInfo buf)
{
	for (int i = 0; i < ES_NUM_COUNTERS; i++)
	{
		const char *name = es_counter_names[i];

		appendStringInfo(buf,
						 "# TYPE edgestat_%s_total counter\n"
						 "edgestat_%s_total " UINT64_FORMAT "\n",
						 name, name, es_counter_value((EsCounter) i));
	}
	if (es_http_shared != NULL)
	{
		uint64		count = pg_atomic_read_u64(&es_http_shared->count);

		format_histogram(buf, "edgestat_batch_size",
						 "Events per committed HTTP batch.",
						 batch_bounds, N_BATCH_BOUNDS,
						 es_http_shared->batch_buckets,
						 (double) pg_atomic_read_u64(&es_http_shared->batch_sum),
						 count);
		format_histogram(buf, "edgestat_commit_seconds",
						 "Time to write and commit one HTTP batch.",
						 commit_bounds, N_COMMIT_BOUNDS,
						 es_http_shared->commit_buckets,
						 pg_atomic_read_u64(&es_http_shared->commit_sum_us) / 1000000.0,
						 count);
	}
	es_edges_format_metrics(buf);
}

void
es_http_format_health(StringInfo buf, int worker)
{
	long		secs;
	int			usecs;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz failed = 0;
	long		failed_ago = -1;

	if (es_http_shared != NULL)
		failed = (TimestampTz) pg_atomic_read_u64(&es_http_shared->last_failure);
	if (failed != 0)
		TimestampDifference(failed, now, &failed_ago, &usecs);

	TimestampDifference(PgStartTime, now, &secs, &usecs);
	appendStringInfo(buf, "{\"status\":\"%s\",\"uptime_s\":%ld,\"worker\":%d"
					 ",\"connections\":%d,\"pending\":%d,\"streams\":%d",
					 failed_ago >= 0 && failed_ago < ES_DEGRADED_SECS ?
					 "degraded" : "ok",
					 secs, worker, hw.nconns_live, hw.npending, hw.nsse);
	if (failed_ago >= 0)
		appendStringInfo(buf, ",\"last_batch_failure_s\":%ld", failed_ago);
	for (int i = 0; i < ES_NUM_COUNTERS; i++)
		appendStringInfo(buf, ",\"%s\":" UINT64_FORMAT,
						 es_counter_names[i], es_counter_value((EsCounter) i));
	es_maintenance_format_health(buf);
	appendStringInfoString(buf, "}\n");
}
