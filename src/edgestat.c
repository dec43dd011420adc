/*-------------------------------------------------------------------------
 *
 * edgestat.c
 *	  Module entry: settings (GUCs), the shared-memory request and startup
 *	  hooks that give each module its part, and cJSON's allocator.
 *
 * Everything edgestat keeps in shared memory is sized here from
 * postmaster-context settings, so it is fixed for the life of the server.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "edgestat.h"

PG_MODULE_MAGIC;

char	   *es_database = NULL;
char	   *es_listen_addresses = NULL;
int			es_port = 8080;
int			es_workers = 1;
char	   *es_geoip_database = NULL;
int			es_dedup_window_ms = 5000;
int			es_rate_limit = 600;
int			es_live_ttl_s = 300;
char	   *es_trusted_proxies = NULL;
char	   *es_notify_channel = NULL;
int			es_max_body = 16384;
int			es_batch_size = 1000;
int			es_flush_interval_ms = 2;
int			es_dedup_slots = 65536;
int			es_ratelimit_buckets = 16384;
int			es_live_slots = 65536;
int			es_max_connections = 1024;
int			es_max_connections_per_ip = 64;
int			es_connection_timeout_s = 10;
int			es_max_pending = 5000;
char	   *es_retention = NULL;

static bool es_shmem_attached = false;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

void		_PG_init(void);

/*
 * The shared tables (dedup, rate limit, live) probe runs of slots by hash:
 * their sizes are powers of two, at least 1024, at least what is wanted.
 */
uint32
es_table_slots(int wanted, uint32 most)
{
	uint32		n = 1024;

	while (n < (uint32) wanted && n < most)
		n <<= 1;
	return n;
}

static Size
es_shmem_size(void)
{
	Size		size = 0;

	size = add_size(size, es_stats_shmem_size());
	size = add_size(size, es_dedup_shmem_size());
	size = add_size(size, es_ratelimit_shmem_size());
	size = add_size(size, es_live_shmem_size());
	size = add_size(size, es_http_shmem_size());
	return size;
}

static void
es_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(es_shmem_size());
	es_request_lwlocks();
}

static void
es_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	es_stats_shmem_init();
	es_dedup_shmem_init();
	es_ratelimit_shmem_init();
	es_live_shmem_init();
	es_http_shmem_init();
	LWLockRelease(AddinShmemInitLock);
	es_shmem_attached = true;
}

bool
es_shmem_ready(void)
{
	return es_shmem_attached;
}

/*
 * cJSON allocates through these, so a parse tree lives in the caller's
 * memory context and an error unwinding past it leaks nothing.  cJSON may
 * free NULL, which pfree does not allow.
 */
static void *
es_cjson_alloc(size_t size)
{
	return palloc(size);
}

static void
es_cjson_free(void *ptr)
{
	if (ptr)
		pfree(ptr);
}

static bool
check_notify_channel(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0' ||
		strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("The channel name must be 1 to %d bytes long.",
							NAMEDATALEN - 1);
		return false;
	}
	return true;
}

static void
define_settings(void)
{
	DefineCustomStringVariable("edgestat.database",
							   "Database the HTTP workers connect to.",
							   NULL, &es_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.listen_addresses",
							   "Comma-separated addresses the HTTP workers bind.",
							   NULL, &es_listen_addresses, "127.0.0.1",
							   PGC_POSTMASTER, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.port", "HTTP port.", NULL,
							&es_port, 8080, 1, 65535,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.workers",
							"HTTP workers sharing the port; 0 disables HTTP.",
							NULL, &es_workers, 1, 0, 64,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.geoip_database",
							   "Path of a MaxMind DB (.mmdb) file; empty disables geolocation.",
							   NULL, &es_geoip_database, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.dedup_window",
							"Window within which an equal event is a duplicate.",
							NULL, &es_dedup_window_ms, 5000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.rate_limit",
							"Events per minute per client address and site; 0 disables.",
							NULL, &es_rate_limit, 600, 0, 10000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.live_ttl",
							"How long a visitor counts as live after its last event.",
							NULL, &es_live_ttl_s, 300, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.trusted_proxies",
							   "CIDR list whose X-Forwarded-For is believed.",
							   NULL, &es_trusted_proxies, "",
							   PGC_SIGHUP, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.notify_channel",
							   "LISTEN/NOTIFY channel for committed events.",
							   NULL, &es_notify_channel, "edgestat",
							   PGC_SIGHUP, 0, check_notify_channel, NULL, NULL);
	DefineCustomIntVariable("edgestat.max_body",
							"Largest accepted request body.",
							NULL, &es_max_body, 16384, 64, 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.batch_size",
							"Events that make an HTTP worker commit its batch.",
							NULL, &es_batch_size, 1000, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.flush_interval",
							"Age at which an HTTP worker commits a batch that is not full.",
							NULL, &es_flush_interval_ms, 2, 0, 10000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.max_pending",
							"Bodies an HTTP worker holds for commit before it answers 503.",
							NULL, &es_max_pending, 5000, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.retention",
							   "Age (an interval) past which raw events are dropped, a day's partition at a time.",
							   "Rollups are kept.  Applied once a day by each ingesting process.",
							   &es_retention, "90 days",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.dedup_slots",
							"Entries of the shared duplicate table.",
							NULL, &es_dedup_slots, 65536, 1024, 64 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.ratelimit_buckets",
							"Token buckets (client address, site) in shared memory.",
							NULL, &es_ratelimit_buckets, 16384, 1024, 16 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.live_slots",
							"Live visitors tracked in shared memory.",
							NULL, &es_live_slots, 65536, 1024, 16 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.max_connections",
							"Concurrent HTTP connections per worker.",
							NULL, &es_max_connections, 1024, 1, 65536,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.max_connections_per_ip",
							"Concurrent HTTP connections per client address per worker.",
							NULL, &es_max_connections_per_ip, 64, 1, 65536,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.connection_timeout",
							"Idle or stalled HTTP connections are closed after this.",
							NULL, &es_connection_timeout_s, 10, 1, 3600,
							PGC_POSTMASTER, GUC_UNIT_S, NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("edgestat");
#else
	EmitWarningsOnPlaceholders("edgestat");
#endif
}

void
_PG_init(void)
{
	cJSON_Hooks hooks = {es_cjson_alloc, es_cjson_free};

	cJSON_InitHooks(&hooks);

	/*
	 * Shared memory and workers exist only when loaded at server start; the
	 * SQL functions then refuse to run (es_shmem_ready) instead of
	 * pretending.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	define_settings();

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = es_shmem_request;
#else
	es_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = es_shmem_startup;

	es_workers_register();
}
