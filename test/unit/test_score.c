/*
 * test_score.c
 *	  The value score: the defaults, the claims score.c makes about them,
 *	  monotonicity, and garbage in.
 */
#include <math.h>
#include <stdio.h>

#include "score.h"
#include "unit.h"

/* the tracker sends a heartbeat every 15 engaged seconds */
#define HEARTBEATS_PER_MINUTE 4

static int
score(EsVisitorActivity a)
{
	return es_value_score(&a, &es_default_score_model);
}

static void
test_defaults(void)
{
	static const char *const names[] = {
		"pageviews", "heartbeats", "scroll", "interactions", "engaged",
		"sessions", "goals",
	};
	static const double weights[] = {0.6, 0.35, 1.2, 0.5, 0.45, 0.7, 1.5};

	CHECK(es_default_score_model.bias == -3.0);
	for (int i = 0; i < ES_NUM_FEATURES; i++)
	{
		CHECK_STR(es_score_feature_names[i], names[i]);
		CHECKF(es_default_score_model.weight[i] == weights[i], "weight %s", names[i]);
	}
}

static void
test_examples(void)
{
	EsVisitorActivity nothing = {0};
	EsVisitorActivity bounce = {.pageviews = 1, .engaged_ms = 10000, .sessions = 1};
	EsVisitorActivity reader = {
		.pageviews = 2, .heartbeats = 3 * HEARTBEATS_PER_MINUTE, .max_scroll = 100,
		.engaged_ms = 3 * 60000, .sessions = 1,
	};
	EsVisitorActivity r;
	int			s;

	CHECK_INT(score(nothing), 5);

	/* a first-visit bounce: about 8 */
	s = score(bounce);
	CHECKF(s >= 7 && s <= 10, "bounce scores %d", s);
	CHECK_INT(s, 7);
	r = bounce;
	r.engaged_ms = 15000;
	r.heartbeats = 1;
	s = score(r);
	CHECKF(s >= 7 && s <= 10, "bounce after one heartbeat scores %d", s);
	r = bounce;
	r.engaged_ms = 0;
	CHECK_INT(score(r), 7);

	/* a reader: two pages, to the end, three minutes: 50+ */
	s = score(reader);
	CHECKF(s >= 50, "reader scores %d", s);
	CHECK_INT(s, 59);

	/* returning and converting visitors come out on top */
	r = reader;
	r.sessions = 3;
	CHECK_INT(score(r), 76);
	r = reader;
	r.goals = 1;
	CHECK_INT(score(r), 81);
	r.sessions = 3;
	CHECK_INT(score(r), 90);
	r = bounce;
	r.sessions = 3;
	CHECK_INT(score(r), 15);
	r = bounce;
	r.goals = 1;
	CHECK_INT(score(r), 19);

	/* the first session adds nothing, a second one does */
	r = bounce;
	r.sessions = 0;
	CHECK_INT(score(r), score(bounce));
	r.sessions = 2;
	CHECK(score(r) > score(bounce));
}

static void
test_monotonic(void)
{
	static const double steps[] = {0, 0.5, 1, 2, 3, 5, 10, 25, 50, 75, 100, 1e3, 1e6, 1e9, 1e300};
	EsVisitorActivity base = {.pageviews = 1, .sessions = 1};

	for (int f = 0; f < ES_NUM_FEATURES; f++)
	{
		int			prev = -1;

		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		{
			EsVisitorActivity a = base;
			double	   *field[] = {
				&a.pageviews, &a.heartbeats, &a.max_scroll, &a.interactions,
				&a.engaged_ms, &a.sessions, &a.goals,
			};
			int			s;

			*field[f] = steps[i];
			s = score(a);
			CHECKF(s >= prev && s >= 0 && s <= 100, "%s = %g scores %d after %d",
				   es_score_feature_names[f], steps[i], s, prev);
			prev = s;
		}
	}
}

static void
test_garbage(void)
{
	EsVisitorActivity bounce = {.pageviews = 1, .sessions = 1};
	EsVisitorActivity a;
	EsScoreModel m;
	int			want = score(bounce);

	/* non-finite or negative counts are 0 */
	a = bounce;
	a.heartbeats = NAN;
	a.max_scroll = -INFINITY;
	a.interactions = -3;
	a.engaged_ms = NAN;
	a.goals = -1e300;
	CHECK_INT(score(a), want);
	a.pageviews = INFINITY;
	CHECK_INT(score(a), score((EsVisitorActivity) {.sessions = 1}));
	a = bounce;
	a.max_scroll = 250;				/* more than 100 % reads as 100 % */
	CHECK_INT(score(a), score((EsVisitorActivity) {.pageviews = 1, .sessions = 1, .max_scroll = 100}));

	/* extreme models still give 0..100 */
	m = es_default_score_model;
	m.bias = 1e6;
	CHECK_INT(es_value_score(&bounce, &m), 100);
	m.bias = -1e6;
	CHECK_INT(es_value_score(&bounce, &m), 0);
	m.bias = NAN;
	m.weight[ES_FEATURE_PAGEVIEWS] = INFINITY;
	CHECK_INT(es_value_score(&bounce, &m), 50);
	m = es_default_score_model;
	m.weight[ES_FEATURE_GOALS] = -1e6;
	a = bounce;
	a.goals = 1e300;
	CHECK_INT(es_value_score(&a, &m), 0);
	m.weight[ES_FEATURE_PAGEVIEWS] = 1e6;
	a.pageviews = 1e300;
	CHECKF(es_value_score(&a, &m) >= 0 && es_value_score(&a, &m) <= 100, "in range");
}

void
test_score(void)
{
	test_defaults();
	test_examples();
	test_monotonic();
	test_garbage();
}
