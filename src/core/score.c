/*-------------------------------------------------------------------------
 *
 * score.c
 *	  The engagement value score: a logistic model over visitor features.
 *
 * score = round(100 / (1 + exp(-(bias + sum weight * feature)))), 0..100.
 * Counts enter as ln(1 + x) so that the tenth pageview adds less than the
 * second: a visitor is not worth ten times more for reloading ten times.
 *
 * Why the defaults (the SQL table edgestat.score_weights starts with the
 * same numbers; test/unit/test_score.c proves the figures below, with the
 * tracker's heartbeat every 15 engaged seconds):
 *
 * - bias -3.0 puts a visitor who did nothing at 5: most visits are
 *	 bounces, and the score is for telling people apart above them.
 * - A first-visit bounce (one pageview, no scroll, a few seconds) scores
 *	 7 to 10, about 8: pageviews 0.6 * ln 2 barely moves it.
 * - A reader (two pages, scrolled to the end, three minutes, so twelve
 *	 heartbeats) scores about 59.  scroll 1.2 is the largest reading
 *	 signal, as reaching the end is the clearest sign of reading;
 *	 heartbeats 0.35 and engaged 0.45 reward time, logarithmically, so an
 *	 open tab cannot run away with the score.
 * - interactions 0.5: a click or key press shows intent, but costs little.
 * - sessions 0.7 and goals 1.5 are what a site owner is after: coming
 *	 back, and completing a custom goal (sign-up, purchase).  One goal
 *	 takes the reader from 59 to about 81, a third visit to about 76, both
 *	 to 90; they double a bounce's score (15 and 19), so the top of the
 *	 ranking belongs to returning and converting visitors.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "score.h"

const char *const es_score_feature_names[ES_NUM_FEATURES] = {
	[ES_FEATURE_PAGEVIEWS] = "pageviews",
	[ES_FEATURE_HEARTBEATS] = "heartbeats",
	[ES_FEATURE_SCROLL] = "scroll",
	[ES_FEATURE_INTERACTIONS] = "interactions",
	[ES_FEATURE_ENGAGED] = "engaged",
	[ES_FEATURE_SESSIONS] = "sessions",
	[ES_FEATURE_GOALS] = "goals",
};

const EsScoreModel es_default_score_model = {
	.bias = -3.0,
	.weight = {
		[ES_FEATURE_PAGEVIEWS] = 0.6,
		[ES_FEATURE_HEARTBEATS] = 0.35,
		[ES_FEATURE_SCROLL] = 1.2,
		[ES_FEATURE_INTERACTIONS] = 0.5,
		[ES_FEATURE_ENGAGED] = 0.45,
		[ES_FEATURE_SESSIONS] = 0.7,
		[ES_FEATURE_GOALS] = 1.5,
	},
};

/* Activity comes from counters that a bug or a bad row could poison. */
static double
sane(double x)
{
	return isfinite(x) && x > 0.0 ? x : 0.0;
}

int
es_value_score(const EsVisitorActivity *activity, const EsScoreModel *model)
{
	double		feature[ES_NUM_FEATURES];
	double		sessions = sane(activity->sessions);
	double		scroll = sane(activity->max_scroll);
	double		z;
	double		score;

	feature[ES_FEATURE_PAGEVIEWS] = log1p(sane(activity->pageviews));
	feature[ES_FEATURE_HEARTBEATS] = log1p(sane(activity->heartbeats));
	feature[ES_FEATURE_SCROLL] = (scroll > 100.0 ? 100.0 : scroll) / 100.0;
	feature[ES_FEATURE_INTERACTIONS] = log1p(sane(activity->interactions));
	feature[ES_FEATURE_ENGAGED] = log1p(sane(activity->engaged_ms) / 60000.0);
	feature[ES_FEATURE_SESSIONS] = sessions > 1.0 ? log(sessions) : 0.0;
	feature[ES_FEATURE_GOALS] = log1p(sane(activity->goals));

	z = isfinite(model->bias) ? model->bias : 0.0;
	for (int i = 0; i < ES_NUM_FEATURES; i++)
	{
		if (isfinite(model->weight[i]))
			z += model->weight[i] * feature[i];
	}
	if (isnan(z))
		return 0;
	score = round(100.0 / (1.0 + exp(-z)));
	if (score < 0.0)
		return 0;
	if (score > 100.0)
		return 100;
	return (int) score;
}
