/*-------------------------------------------------------------------------
 *
 * scoring.c
 *	  Glue for the value score: the model's weights from
 *	  edgestat.score_weights, cached per process until the table changes,
 *	  and the SQL function edgestat.value_score that the batch statement
 *	  calls when a visitor's score is due.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "score.h"
#include "stats.h"

void		es_score_model(EsScoreModel *model);

static EsScoreModel cached_model;
static bool model_valid = false;
static Oid	weights_relid = InvalidOid;
static bool callback_registered = false;

static void
weights_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == weights_relid)
		model_valid = false;
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
