/*-------------------------------------------------------------------------
 *
 * sites.c
 *	  The registered sites, cached per process: domain -> site id and the
 *	  origins allowed to send beacons for it.
 *
 * The cache is loaded in one query and dropped whenever edgestat.sites
 * changes (relcache invalidation), so a new site is served without a query
 * per beacon.  The HTTP worker keeps a batch transaction open across many
 * requests, so the cache may be (re)loaded in a transaction that started
 * before the latest change to edgestat.sites: it is always read with the
 * latest snapshot, never the transaction's, and a miss first takes in the
 * invalidations other backends queued since (a site registered while the
 * batch is open is served in that batch).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "sites.h"
#include "url.h"

#if PG_VERSION_NUM < 140000
#define HASH_STRINGS 0			/* string keys were the default */
#endif

typedef struct SiteEntry
{
	char		domain[256];	/* hash key */
	EsSite		site;
} SiteEntry;

static HTAB *site_cache = NULL;
static MemoryContext site_cxt = NULL;
static bool site_cache_valid = false;
static Oid	sites_relid = InvalidOid;
static bool callback_registered = false;

static void
sites_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == sites_relid)
		site_cache_valid = false;
}

static void
sites_load(void)
{
	HASHCTL		ctl;
	HTAB	   *cache;
	SPIPlanPtr	plan;
	int			rc;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(sites_invalidate, (Datum) 0);
		callback_registered = true;
	}

	/*
	 * The caller may still hold EsSite pointers into the cache being
	 * replaced (several domains in one body): its memory goes with the
	 * transaction instead of now.
	 */
	if (site_cxt != NULL)
	{
		if (IsTransactionState())
			MemoryContextSetParent(site_cxt, TopTransactionContext);
		else
			MemoryContextDelete(site_cxt);
	}
	site_cxt = AllocSetContextCreate(CacheMemoryContext, "edgestat sites",
									 ALLOCSET_SMALL_SIZES);
	site_cache = NULL;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(((SiteEntry *) 0)->domain);
	ctl.entrysize = sizeof(SiteEntry);
	ctl.hcxt = site_cxt;

	sites_relid = get_relname_relid("sites", get_namespace_oid("edgestat", false));

	/*
	 * Valid from here on: an invalidation taken in while the query below
	 * locks the table (or later) drops this load again, rather than being
	 * swallowed by it.
	 */
	site_cache_valid = true;

	SPI_connect();
	plan = SPI_prepare("SELECT site_id, domain, allowed_origins FROM edgestat.sites",
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "edgestat: could not plan the read of edgestat.sites: %s",
			 SPI_result_code_string(SPI_result));

	/*
	 * The latest snapshot, taken after the lock: it sees every site
	 * committed before the invalidation that brought us here, whatever the
	 * age of the caller's transaction.
	 */
	rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(),
							  InvalidSnapshot, true, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "edgestat: could not read edgestat.sites: %s",
			 SPI_result_code_string(rc));

	cache = hash_create("edgestat sites", Max(SPI_processed, 16), &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *domain = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		Datum		origins = SPI_getbinval(tup, desc, 3, &isnull);
		SiteEntry  *entry;
		bool		found;

		if (strlen(domain) >= sizeof(entry->domain))
			continue;
		entry = hash_search(cache, domain, HASH_ENTER, &found);
		entry->site.id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		entry->site.domain = MemoryContextStrdup(site_cxt, domain);
		entry->site.norigins = 0;
		entry->site.origins = NULL;
		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			deconstruct_array(DatumGetArrayTypeP(origins), TEXTOID, -1, false,
							  TYPALIGN_INT, &elems, &nulls, &n);
			entry->site.origins = MemoryContextAlloc(site_cxt, sizeof(char *) * Max(n, 1));
			for (int j = 0; j < n; j++)
			{
				if (nulls[j])
					continue;
				entry->site.origins[entry->site.norigins++] =
					MemoryContextStrdup(site_cxt, TextDatumGetCString(elems[j]));
			}
		}
	}
	SPI_finish();
	site_cache = cache;			/* complete: until now a failure reloads */
}

/* Must run inside a transaction (the cache may need loading). */
const EsSite *
es_site_lookup(const char *domain)
{
	char		key[256];
	size_t		len = strlen(domain);
	SiteEntry  *entry;

	if (len == 0 || len >= sizeof(key))
		return NULL;
	for (size_t i = 0; i <= len; i++)
		key[i] = pg_ascii_tolower((unsigned char) domain[i]);

	if (!site_cache_valid || site_cache == NULL)
		sites_load();
	entry = hash_search(site_cache, key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		/*
		 * A long-open transaction takes in other backends' invalidations
		 * only when it locks a relation anew; a site added since may be
		 * waiting there.  Checking costs a shared counter read when none.
		 */
		AcceptInvalidationMessages();
		if (!site_cache_valid)
		{
			sites_load();
			entry = hash_search(site_cache, key, HASH_FIND, NULL);
		}
	}
	return entry ? &entry->site : NULL;
}

/* The site of a SQL caller's argument: unknown is an error. */
const EsSite *
es_site_require(const char *domain)
{
	const EsSite *site = es_site_lookup(domain);

	if (site == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unknown site \"%s\"", domain),
				 errhint("Register it with edgestat.add_site().")));
	return site;
}

/*
 * A browser's Origin may be the site's own domain or a subdomain of it,
 * over http or https, or one of the origins listed for the site.  No
 * Origin at all (a server, a tool) is the rate limiter's business, not
 * this check's.
 */
bool
es_site_origin_allowed(const EsSite *site, const char *origin)
{
	const char *domain = site->domain;
	EsUrlParts	parts;
	char		host[256];
	long		hostlen;
	size_t		dlen;

	if (origin == NULL)
		return true;
	for (int i = 0; i < site->norigins; i++)
	{
		if (pg_strcasecmp(site->origins[i], origin) == 0)
			return true;
	}
	if (!es_url_split(origin, strlen(origin), &parts))
		return false;
	hostlen = es_host_normalize(parts.host, host, sizeof(host));
	if (hostlen < 0)
		return false;
	/* both sides without "www.", as es_host_normalize gives the host */
	if (strncmp(domain, "www.", 4) == 0)
		domain += 4;
	if (strcmp(host, domain) == 0)
		return true;
	dlen = strlen(domain);
	return (size_t) hostlen > dlen &&
		host[hostlen - dlen - 1] == '.' &&
		strcmp(host + hostlen - dlen, domain) == 0;
}

PG_FUNCTION_INFO_V1(edgestat_invalidate_caches);

/*
 * Statement trigger on edgestat.sites and edgestat.score_weights.  Data
 * changes send no relcache invalidation by themselves; this sends one for
 * the table, transactionally, so that every process drops the cache built
 * from it (sites here, the score model in scoring.c) once the change
 * commits, and this process at once.
 */
Datum
edgestat_invalidate_caches(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edgestat.invalidate_caches() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
