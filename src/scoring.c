/*-------------------------------------------------------------------------
 *
 * scoring.c
 *	  Glue for the value score: the model's weights from
 *	  edgestat.score_weights, cached per process until the table changes,
 *	  and the SQL function edgestat.value_score that the batch statement
 *	  calls when a visitor's score is due.  Since 1.1 also the per-site
 *	  weights fitted by edgestat.train_score (edgestat.site_score_weights),
 *	  cached per process and site the same way, and the site-aware
 *	  edgestat.value_score(site_id, ...).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "score.h"
#include "scoring.h"
#include "stats.h"

static EsScoreModel cached_model;
static bool model_valid = false;
static Oid	weights_relid = InvalidOid;
static bool callback_registered = false;

/*
 * Per-site models: site id -> fitted weights, or "none" (the site uses
 * the global model).  A site without fitted weights is cached too, so that
 * the common case costs one hash probe, not a query per batch.  The whole
 * table is dropped when either weights table changes (the global model is
 * what a site without rows falls back to).
 */
typedef struct SiteModelEntry
{
	int32		site_id;		/* hash key */
	bool		fitted;
	EsScoreModel model;
} SiteModelEntry;

static HTAB *site_models = NULL;
static bool site_models_valid = false;
static Oid	site_weights_relid = InvalidOid;

static void
weights_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == weights_relid)
	{
		model_valid = false;
		site_models_valid = false;
	}
	else if (relid == site_weights_relid)
		site_models_valid = false;
}

static void
load_model(void)
{
	int			rc;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(weights_invalidate, (Datum) 0);
		callback_registered = true;
	}
	weights_relid = get_relname_relid("score_weights",
									  get_namespace_oid("edgestat", false));
	cached_model = es_default_score_model;

	SPI_connect();
	rc = SPI_execute("SELECT feature, weight FROM edgestat.score_weights", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "edgestat: could not read edgestat.score_weights: %s",
			 SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *feature = SPI_getvalue(SPI_tuptable->vals[i],
										   SPI_tuptable->tupdesc, 1);
		double		weight = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc,
														  2, &isnull));

		if (strcmp(feature, "bias") == 0)
			cached_model.bias = weight;
		for (int f = 0; f < ES_NUM_FEATURES; f++)
			if (strcmp(feature, es_score_feature_names[f]) == 0)
				cached_model.weight[f] = weight;
	}
	SPI_finish();
	model_valid = true;
}

void
es_score_model(EsScoreModel *model)
{
	if (!model_valid)
		load_model();
	*model = cached_model;
}

/*
 * The fitted weights of one site, by SPI.  Features without a row keep the
 * global model's weight (train_score writes all of them).
 */
static void
load_site_model(SiteModelEntry *entry, const EsScoreModel *global)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	int			rc;

	entry->fitted = false;
	entry->model = *global;
	args[0] = Int32GetDatum(entry->site_id);

	SPI_connect();
	rc = SPI_execute_with_args("SELECT feature, weight FROM edgestat.site_score_weights"
							   " WHERE site_id = $1",
							   1, argtypes, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "edgestat: could not read edgestat.site_score_weights: %s",
			 SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *feature = SPI_getvalue(SPI_tuptable->vals[i],
										   SPI_tuptable->tupdesc, 1);
		double		weight = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc,
														  2, &isnull));

		entry->fitted = true;
		if (strcmp(feature, "bias") == 0)
			entry->model.bias = weight;
		for (int f = 0; f < ES_NUM_FEATURES; f++)
			if (strcmp(feature, es_score_feature_names[f]) == 0)
				entry->model.weight[f] = weight;
	}
	SPI_finish();
}

/*
 * The model a site's visitors are scored with: its fitted weights when
 * edgestat.train_score made some, else the global edgestat.score_weights.
 */
void
es_score_model_for_site(int32 site_id, EsScoreModel *model)
{
	EsScoreModel global;
	SiteModelEntry *entry;
	bool		found;
	Oid			nsp;

	es_score_model(&global);	/* registers the invalidation callback */

	if (!site_models_valid)
	{
		if (site_models != NULL)
			hash_destroy(site_models);
		site_models = NULL;
		/* InvalidOid before ALTER EXTENSION UPDATE to 1.1: no site models */
		nsp = get_namespace_oid("edgestat", true);
		site_weights_relid = OidIsValid(nsp) ?
			get_relname_relid("site_score_weights", nsp) : InvalidOid;
		site_models_valid = true;
	}
	if (!OidIsValid(site_weights_relid))
	{
		*model = global;
		return;
	}
	if (site_models == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(SiteModelEntry);
		ctl.hcxt = TopMemoryContext;
		site_models = hash_create("edgestat site score models", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(site_models, &site_id, HASH_FIND, &found);
	if (!found)
	{
		SiteModelEntry loaded;

		/* load first: an error must not leave a half-made entry behind */
		loaded.site_id = site_id;
		load_site_model(&loaded, &global);
		entry = hash_search(site_models, &site_id, HASH_ENTER, &found);
		*entry = loaded;
	}
	*model = entry->model;
}

PG_FUNCTION_INFO_V1(edgestat_value_score);

/*
 * value_score(pageviews, heartbeats, max_scroll, interactions, engaged_ms,
 *			   sessions, goals) -> smallint
 */
Datum
edgestat_value_score(PG_FUNCTION_ARGS)
{
	EsVisitorActivity activity;
	EsScoreModel model;

	for (int i = 0; i < 7; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("edgestat.value_score: argument %d is null", i + 1),
					 errdetail("Every activity figure is needed; pass 0 for none.")));

	activity.pageviews = PG_GETARG_INT64(0);
	activity.heartbeats = PG_GETARG_INT64(1);
	activity.max_scroll = PG_GETARG_INT64(2);
	activity.interactions = PG_GETARG_INT64(3);
	activity.engaged_ms = PG_GETARG_INT64(4);
	activity.sessions = PG_GETARG_INT64(5);
	activity.goals = PG_GETARG_INT64(6);

	es_score_model(&model);
	es_count(ES_C_SCORE_RECOMPUTES, 1);
	PG_RETURN_INT16((int16) es_value_score(&activity, &model));
}

PG_FUNCTION_INFO_V1(edgestat_value_score_site);

/*
 * value_score(site_id, pageviews, heartbeats, max_scroll, interactions,
 *			   engaged_ms, sessions, goals) -> smallint, under the site's model
 */
Datum
edgestat_value_score_site(PG_FUNCTION_ARGS)
{
	EsVisitorActivity activity;
	EsScoreModel model;

	for (int i = 0; i < 8; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("edgestat.value_score: argument %d is null", i + 1),
					 errdetail("A site id and every activity figure are needed; pass 0 for none.")));

	activity.pageviews = PG_GETARG_INT64(1);
	activity.heartbeats = PG_GETARG_INT64(2);
	activity.max_scroll = PG_GETARG_INT64(3);
	activity.interactions = PG_GETARG_INT64(4);
	activity.engaged_ms = PG_GETARG_INT64(5);
	activity.sessions = PG_GETARG_INT64(6);
	activity.goals = PG_GETARG_INT64(7);

	es_score_model_for_site(PG_GETARG_INT32(0), &model);
	es_count(ES_C_SCORE_RECOMPUTES, 1);
	PG_RETURN_INT16((int16) es_value_score(&activity, &model));
}
