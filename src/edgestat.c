/*-------------------------------------------------------------------------
 *
 * edgestat.c
 *	  Module entry: each module defines its own settings and registers its
 *	  own part of shared memory from its *_init function; this file only
 *	  calls them, then installs the shared-memory hooks.  Also cJSON's
 *	  allocator, which every module that parses JSON relies on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "apiworker.h"
#include "dedup.h"
#include "edges.h"
#include "geo.h"
#include "http.h"
#include "identity.h"
#include "live.h"
#include "maintenance.h"
#include "pipeline.h"
#include "ratelimit.h"
#include "shmem.h"
#include "stats.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

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

	es_stats_init();
	es_dedup_init();
	es_ratelimit_init();
	es_live_init();
	es_geo_init();
	es_announce_init();
	es_maintenance_init();
	es_identity_init();
	es_edges_init();
	es_http_init();
	es_api_init();
	es_shmem_install_hooks();

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("edgestat");
#else
	EmitWarningsOnPlaceholders("edgestat");
#endif
}
