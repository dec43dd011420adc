/*-------------------------------------------------------------------------
 *
 * score.h
 *	  The engagement value score: a logistic model over visitor features.
 *
 * Pure code (libm only).  The weights live in edgestat.score_weights; the
 * glue reads them and hands them here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_SCORE_H
#define EDGESTAT_SCORE_H

typedef enum EsScoreFeature
{
	ES_FEATURE_PAGEVIEWS,		/* ln(1 + pageviews) */
	ES_FEATURE_HEARTBEATS,		/* ln(1 + heartbeats) */
	ES_FEATURE_SCROLL,			/* max scroll depth / 100 */
	ES_FEATURE_INTERACTIONS,	/* ln(1 + interactions) */
	ES_FEATURE_ENGAGED,			/* ln(1 + engaged minutes) */
	ES_FEATURE_SESSIONS,		/* ln(sessions), 0 for the first */
	ES_FEATURE_GOALS,			/* ln(1 + custom goal events) */
	ES_NUM_FEATURES
} EsScoreFeature;

typedef struct EsVisitorActivity
{
	double		pageviews;
	double		heartbeats;
	double		max_scroll;		/* percent */
	double		interactions;
	double		engaged_ms;
	double		sessions;
	double		goals;
} EsVisitorActivity;

typedef struct EsScoreModel
{
	double		bias;
	double		weight[ES_NUM_FEATURES];
} EsScoreModel;

extern const char *const es_score_feature_names[ES_NUM_FEATURES];
extern const EsScoreModel es_default_score_model;

/* 0..100, rounded; never fails (non-finite inputs count as 0). */
extern int	es_value_score(const EsVisitorActivity *activity,
						   const EsScoreModel *model);

#endif							/* EDGESTAT_SCORE_H */
