/*-------------------------------------------------------------------------
 *
 * edgestat.h
 *	  Declarations shared by the backend glue: settings, shared memory,
 *	  counters and the ingest pipeline used by both SQL and HTTP.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_H
#define EDGESTAT_H

#include "postgres.h"

#include "fmgr.h"
#include "port/atomics.h"
#include "utils/palloc.h"

#if PG_VERSION_NUM < 150000
/* PostgreSQL 15's, in stats.c for older servers */
extern void InitMaterializedSRF(FunctionCallInfo fcinfo, bits32 flags);
#endif

/* ---- settings (edgestat.c) ---- */
extern char *es_database;
extern char *es_listen_addresses;
extern int	es_port;
extern int	es_workers;
extern char *es_geoip_database;
extern int	es_dedup_window_ms;
extern int	es_rate_limit;
extern int	es_live_ttl_s;
extern char *es_trusted_proxies;
extern char *es_notify_channel;
extern int	es_max_body;
extern int	es_batch_size;
extern int	es_flush_interval_ms;
extern int	es_dedup_slots;
extern int	es_ratelimit_buckets;
extern int	es_live_slots;
extern int	es_max_connections;
extern int	es_max_connections_per_ip;
extern int	es_connection_timeout_s;
extern int	es_max_pending;
extern char *es_retention;

/* ---- counters (stats.c) ---- */
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
	ES_NUM_COUNTERS
} EsCounter;

extern const char *const es_counter_names[ES_NUM_COUNTERS];
extern void es_count(EsCounter counter, uint64 n);
extern uint64 es_counter_value(EsCounter counter);

/* ---- shared memory (each module sizes and attaches its own part) ---- */
extern Size es_stats_shmem_size(void);
extern void es_stats_shmem_init(void);
extern Size es_dedup_shmem_size(void);
extern void es_dedup_shmem_init(void);
extern Size es_ratelimit_shmem_size(void);
extern void es_ratelimit_shmem_init(void);
extern Size es_live_shmem_size(void);
extern void es_live_shmem_init(void);
extern void es_request_lwlocks(void);
extern uint32 es_table_slots(int wanted, uint32 most);

struct sockaddr;

/* ---- client address, already resolved through trusted proxies ---- */
typedef struct EsAddr
{
	uint8		family;			/* 0 unknown, 4 or 6 */
	uint8		bytes[16];		/* IPv4 in the first four */
} EsAddr;

extern bool es_addr_parse(const char *text, EsAddr *out);
extern void es_addr_format(const EsAddr *addr, char *out, size_t outsize);
extern bool es_addr_from_sockaddr(const struct sockaddr *sa, EsAddr *out);

/* ---- the pipeline (pipeline.c, writer.c) ---- */

/* What the caller knows of one request. */
typedef struct EsRequest
{
	EsAddr		client;			/* family 0 when unknown (SQL without ip) */
	const char *user_agent;		/* "" when the header is absent (a bot);
								 * NULL from SQL when the caller has none
								 * (then no bot filter) */
	const char *origin;			/* Origin header, NULL when absent */
} EsRequest;

/* Why a body was refused; decides the SQLSTATE of edgestat.ingest. */
typedef enum EsReject
{
	ES_REJECT_NONE,
	ES_REJECT_MALFORMED,		/* not JSON, not UTF-8: 400 */
	ES_REJECT_INVALID,			/* wrong key, type or range: 400 */
	ES_REJECT_UNKNOWN_SITE,		/* 403 */
	ES_REJECT_ORIGIN,			/* 403 */
	ES_REJECT_RATE_LIMIT,		/* 429 */
	ES_REJECT_OVERLOAD			/* 503 */
} EsReject;

/* The pipeline's verdict on one body, in HTTP terms. */
typedef struct EsOutcome
{
	EsReject	reject;
	int			status;			/* 204, 400, 403, 429 or 503 */
	int			events;			/* events in the body */
	int			accepted;		/* added to the batch */
	int			retry_after;	/* seconds, for 429 */
	char		reason[256];	/* for any status but 204 */
} EsOutcome;

typedef struct EsBatch EsBatch;

/*
 * A batch lives in its own memory context below parent and collects the
 * accepted events of many bodies.  es_batch_add runs steps 1-4 of SPEC
 * section 3 and never throws for bad input (the verdict is in *out); it
 * must run inside a transaction, since it may read edgestat.sites.
 * es_batch_write runs steps 5-8 in the current transaction (NOTIFY is
 * delivered at its commit) and throws on failure; a transaction that
 * aborts forgets the dedup keys it took (dedup.c), so retries are not
 * dropped as duplicates.  es_batch_reset empties the batch for reuse.
 */
extern EsBatch *es_batch_create(MemoryContext parent);
extern void es_batch_add(EsBatch *batch, const char *body, size_t len,
						 const EsRequest *req, EsOutcome *out);
extern int	es_batch_events(const EsBatch *batch);
extern void es_batch_write(EsBatch *batch);
extern bool es_shmem_ready(void);
extern void es_batch_reset(EsBatch *batch);

/* ---- pieces the pipeline is made of ---- */
extern bool es_dedup_seen(const uint8 key[16]);	/* true: duplicate */
extern void es_dedup_forget(const uint8 key[16]);
extern bool es_ratelimit_take(const EsAddr *addr, int32 site_id, int n,
							  int *retry_after_s);
extern void es_live_touch(int32 site_id, const uint8 visitor[16]);
extern int64 es_live_count(int32 site_id);

typedef struct EsGeo
{
	bool		found;
	char		country[3];		/* ISO 3166-1 alpha-2 */
	char		region[64];
	char		city[96];
	double		latitude;
	double		longitude;
	bool		has_location;
} EsGeo;

extern void es_geo_lookup(const EsAddr *addr, EsGeo *out);
extern void es_geo_reload_if_changed(void);

typedef struct EsSite
{
	int32		id;
	char	   *domain;
	int			norigins;
	char	  **origins;		/* allowed Origin values, lower case */
} EsSite;

extern const EsSite *es_site_lookup(const char *domain);
extern const EsSite *es_site_require(const char *domain);
extern bool es_site_origin_allowed(const EsSite *site, const char *origin);

/* ---- live feed (live.c): what SSE streams show ---- */

/*
 * At each commit of a batch, the NOTIFY payloads of SPEC 3.8 are also
 * published into a ring in shared memory, and every process that called
 * es_feed_listen(true) has its latch set.  es_feed_read calls fn for each
 * payload published after sequence number "after" that is still in the
 * ring and returns the newest sequence number seen (pass 0 the first time
 * to get everything still there; es_feed_head() gives the current newest,
 * to start from "now").
 */
typedef void (*EsFeedReader) (int32 site_id, const char *payload, void *arg);
extern uint64 es_feed_read(uint64 after, EsFeedReader fn, void *arg);
extern uint64 es_feed_head(void);
extern void es_feed_listen(bool on);
extern void es_feed_queue(int32 site_id, const char *payload);

/* ---- the HTTP worker (worker.c, http.c) ---- */
extern void es_workers_register(void);
extern Size es_http_shmem_size(void);
extern void es_http_shmem_init(void);

#endif							/* EDGESTAT_H */
