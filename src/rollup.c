/*-------------------------------------------------------------------------
 *
 * rollup.c
 *	  Folds a batch into the report rollups (rollup_hourly,
 *	  rollup_dims_hourly, rollup_dims_daily, rollup_open) in C, so that
 *	  the batch statement only upserts rows already summed.
 *
 * The counters are those the 1.0 triggers keep (docs/data-model.md,
 * "rollups"), to the row: an event counts in its hour's totals and under
 * its page and its name; a session counts under its start hour and each
 * of its twelve attributes, and a session that changes is counted as its
 * new image minus its old one, so that counts stay exact as sessions grow,
 * move their exit page or start earlier.  Groups whose sums are all zero
 * are not written, and the daily rows are the sums of the hourly groups
 * written, as the triggers did.  Visitor sketches are built by the
 * statement (hll_add_agg over the batch's distinct visitors per hour);
 * the breakdowns' sketches stay with the seal (maintenance.c).
 *
 * Rows are emitted sorted by key, byte order, so that concurrent batches
 * take rollup row locks in one order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "column.h"
#include "rollup.h"

const char *const es_session_dim_names[ES_SESSION_DIMS] = {
	"entry_page", "exit_page", "referrer", "utm_source", "utm_medium",
	"utm_campaign", "country", "region", "city", "browser", "os", "device"
};

typedef struct HourTotals
{
	int32		site_id;
	TimestampTz hour;
	bool		has_events;
	int64		pageviews;
	int64		events;
	int64		visits;
	int64		bounces;
	int64		visit_pageviews;
	int64		visit_duration_ms;
} HourTotals;

typedef struct DimCount
{
	int32		site_id;
	const char *dim;
	TimestampTz hour;			/* or day, once folded by day */
	const char *value;			/* '' for none */
	int64		visits;
	int64		pageviews;
	int64		events;
} DimCount;

typedef struct HourVisitor
{
	int32		site_id;
	TimestampTz hour;
	pg_uuid_t	visitor;
} HourVisitor;

typedef struct SiteHour
{
	int32		site_id;
	TimestampTz hour;
} SiteHour;

/* A growing array of one of the above. */
typedef struct Pile
{
	char	   *items;
	int			n;
	int			cap;
	Size		size;
} Pile;

struct EsRollupFold
{
	Pile		totals;			/* HourTotals */
	Pile		dims;			/* DimCount */
	Pile		visitors;		/* HourVisitor */
};

static void
pile_init(Pile *p, Size size, int cap)
{
	p->size = size;
	p->cap = Max(cap, 16);
	p->n = 0;
	p->items = palloc(p->size * p->cap);
}

static void *
pile_push(Pile *p)
{
	if (p->n == p->cap)
	{
		p->cap *= 2;
		p->items = repalloc(p->items, p->size * p->cap);
	}
	return memset(p->items + p->size * p->n++, 0, p->size);
}

static inline void *
pile_at(const Pile *p, int i)
{
	return p->items + p->size * i;
}

/* UTC hours and days are whole multiples from PostgreSQL's epoch. */
static TimestampTz
floor_to(TimestampTz ts, int64 unit)
{
	TimestampTz r = ts - ts % unit;

	return (ts % unit < 0) ? r - unit : r;
}

#define HOUR_US		INT64CONST(3600000000)
#define DAY_US		(24 * HOUR_US)

EsRollupFold *
es_rollup_begin(int nevents, int nsessions)
{
	EsRollupFold *fold = palloc(sizeof(EsRollupFold));

	pile_init(&fold->totals, sizeof(HourTotals), nevents + 2 * nsessions);
	pile_init(&fold->dims, sizeof(DimCount),
			  2 * nevents + 2 * ES_SESSION_DIMS * nsessions);
	pile_init(&fold->visitors, sizeof(HourVisitor), nevents);
	return fold;
}

static void
add_dim(EsRollupFold *fold, int32 site_id, const char *dim, TimestampTz hour,
		const char *value, int64 visits, int64 pageviews, int64 events)
{
	DimCount   *d = pile_push(&fold->dims);

	d->site_id = site_id;
	d->dim = dim;
	d->hour = hour;
	d->value = value ? value : "";
	d->visits = visits;
	d->pageviews = pageviews;
	d->events = events;
}

void
es_rollup_add_event(EsRollupFold *fold, const EsEventRow *e)
{
	TimestampTz hour = floor_to(e->ts, HOUR_US);
	int64		pageview = e->kind == ES_EVENT_PAGEVIEW ? 1 : 0;
	HourTotals *t = pile_push(&fold->totals);
	HourVisitor *v = pile_push(&fold->visitors);

	t->site_id = e->site_id;
	t->hour = hour;
	t->has_events = true;
	t->pageviews = pageview;
	t->events = 1;
	v->site_id = e->site_id;
	v->hour = hour;
	v->visitor = e->visitor;
	add_dim(fold, e->site_id, "page", hour, e->path, 0, pageview, 1);
	add_dim(fold, e->site_id, "event", hour, e->name, 0, pageview, 1);
}

void
es_rollup_add_session(EsRollupFold *fold, const EsSessionImage *image,
					  int sign)
{
	TimestampTz hour = floor_to(image->started, HOUR_US);
	HourTotals *t = pile_push(&fold->totals);
	int64		duration_us = image->last - image->started;

	t->site_id = image->site_id;
	t->hour = hour;
	t->visits = sign;
	t->bounces = image->pageviews == 1 ? sign : 0;
	t->visit_pageviews = sign * image->pageviews;
	/* as extract(epoch ...) * 1000 cast to bigint: rounded half away */
	t->visit_duration_ms = sign * ((duration_us + 500) / 1000);
	for (int i = 0; i < ES_SESSION_DIMS; i++)
		add_dim(fold, image->site_id, es_session_dim_names[i], hour,
				image->dims[i], sign, sign * image->pageviews,
				sign * image->events);
}

/* ---- folding and sorting ---- */

static int
cmp_site_hour(int32 sa, TimestampTz ha, int32 sb, TimestampTz hb)
{
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (ha != hb)
		return ha < hb ? -1 : 1;
	return 0;
}

static int
cmp_totals(const void *a, const void *b)
{
	const HourTotals *x = a;
	const HourTotals *y = b;

	return cmp_site_hour(x->site_id, x->hour, y->site_id, y->hour);
}

static int
cmp_dims(const void *a, const void *b)
{
	const DimCount *x = a;
	const DimCount *y = b;
	int			c;

	if (x->site_id != y->site_id)
		return x->site_id < y->site_id ? -1 : 1;
	if ((c = strcmp(x->dim, y->dim)) != 0)
		return c;
	if (x->hour != y->hour)
		return x->hour < y->hour ? -1 : 1;
	return strcmp(x->value, y->value);
}

static int
cmp_visitors(const void *a, const void *b)
{
	const HourVisitor *x = a;
	const HourVisitor *y = b;
	int			c = cmp_site_hour(x->site_id, x->hour, y->site_id, y->hour);

	return c != 0 ? c : memcmp(x->visitor.data, y->visitor.data, UUID_LEN);
}

static int
cmp_site_hours(const void *a, const void *b)
{
	const SiteHour *x = a;
	const SiteHour *y = b;

	return cmp_site_hour(x->site_id, x->hour, y->site_id, y->hour);
}

/* Sums the totals of each (site, hour) in place; returns how many. */
static int
fold_totals(Pile *p)
{
	int			n = 0;

	qsort(p->items, p->n, p->size, cmp_totals);
	for (int i = 0; i < p->n; i++)
	{
		HourTotals *t = pile_at(p, i);
		HourTotals *out;

		if (n > 0 && cmp_totals(pile_at(p, n - 1), t) == 0)
		{
			out = pile_at(p, n - 1);
			out->has_events |= t->has_events;
			out->pageviews += t->pageviews;
			out->events += t->events;
			out->visits += t->visits;
			out->bounces += t->bounces;
			out->visit_pageviews += t->visit_pageviews;
			out->visit_duration_ms += t->visit_duration_ms;
			continue;
		}
		/* the previous group is final: keep it only if it counts */
		if (n > 0)
		{
			out = pile_at(p, n - 1);
			if (!out->has_events && out->visits == 0 && out->bounces == 0 &&
				out->visit_pageviews == 0 && out->visit_duration_ms == 0)
				n--;
		}
		memmove(pile_at(p, n++), t, p->size);
	}
	if (n > 0)
	{
		HourTotals *out = pile_at(p, n - 1);

		if (!out->has_events && out->visits == 0 && out->bounces == 0 &&
			out->visit_pageviews == 0 && out->visit_duration_ms == 0)
			n--;
	}
	p->n = n;
	return n;
}

static bool
dim_counts(const DimCount *d)
{
	return d->visits != 0 || d->pageviews != 0 || d->events != 0;
}

/* Sums equal keys in place; with drop_zero, groups summing to nothing go. */
static void
fold_dims(Pile *p, bool drop_zero)
{
	int			n = 0;

	qsort(p->items, p->n, p->size, cmp_dims);
	for (int i = 0; i < p->n; i++)
	{
		DimCount   *d = pile_at(p, i);

		if (n > 0 && cmp_dims(pile_at(p, n - 1), d) == 0)
		{
			DimCount   *out = pile_at(p, n - 1);

			out->visits += d->visits;
			out->pageviews += d->pageviews;
			out->events += d->events;
			continue;
		}
		if (drop_zero && n > 0 && !dim_counts(pile_at(p, n - 1)))
			n--;
		memmove(pile_at(p, n++), d, p->size);
	}
	if (drop_zero && n > 0 && !dim_counts(pile_at(p, n - 1)))
		n--;
	p->n = n;
}

/* ---- the statement's parameters ---- */

enum
{
	RH_SITE, RH_HOUR, RH_PAGEVIEWS, RH_EVENTS, RH_VISITS, RH_BOUNCES,
	RH_VISIT_PAGEVIEWS, RH_DURATION,
	HV_SITE, HV_HOUR, HV_VISITOR,
	DH_SITE, DH_DIM, DH_HOUR, DH_VALUE, DH_VISITS, DH_PAGEVIEWS, DH_EVENTS,
	DD_SITE, DD_DIM, DD_DAY, DD_VALUE, DD_VISITS, DD_PAGEVIEWS, DD_EVENTS,
	RO_SITE, RO_HOUR,
	NUM_ROLLUP_PARAMS
};

StaticAssertDecl(NUM_ROLLUP_PARAMS == ES_ROLLUP_PARAMS,
				 "rollup parameters out of step with rollup.h");

const Oid	es_rollup_param_types[ES_ROLLUP_PARAMS] = {
	INT4ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	INT4ARRAYOID, TIMESTAMPTZARRAYOID, UUIDARRAYOID,
	INT4ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,
	INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	INT4ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,
	INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	INT4ARRAYOID, TIMESTAMPTZARRAYOID,
};

static void
dims_columns(const Pile *p, EsColumn *cols, Datum *params, int first)
{
	for (int c = 0; c < 7; c++)
		es_column_init(&cols[c], es_rollup_param_types[first + c], p->n);
	for (int i = 0; i < p->n; i++)
	{
		const DimCount *d = pile_at(p, i);

		cols[0].values[i] = Int32GetDatum(d->site_id);
		es_column_text(&cols[1], i, d->dim);
		cols[2].values[i] = TimestampTzGetDatum(d->hour);
		es_column_text(&cols[3], i, d->value);
		cols[4].values[i] = Int64GetDatum(d->visits);
		cols[5].values[i] = Int64GetDatum(d->pageviews);
		cols[6].values[i] = Int64GetDatum(d->events);
	}
	for (int c = 0; c < 7; c++)
		params[first + c] = es_column_array(&cols[c], p->n);
}

void
es_rollup_params(EsRollupFold *fold, Datum *params)
{
	EsColumn	cols[ES_ROLLUP_PARAMS];
	Pile		daily;
	Pile		open;
	int			nvisitors = 0;
	int			nopen = 0;

	/* totals per (site, hour) */
	fold_totals(&fold->totals);
	for (int c = RH_SITE; c <= RH_DURATION; c++)
		es_column_init(&cols[c], es_rollup_param_types[c], fold->totals.n);
	pile_init(&open, sizeof(SiteHour), fold->totals.n + fold->dims.n);
	for (int i = 0; i < fold->totals.n; i++)
	{
		const HourTotals *t = pile_at(&fold->totals, i);

		cols[RH_SITE].values[i] = Int32GetDatum(t->site_id);
		cols[RH_HOUR].values[i] = TimestampTzGetDatum(t->hour);
		cols[RH_PAGEVIEWS].values[i] = Int64GetDatum(t->pageviews);
		cols[RH_EVENTS].values[i] = Int64GetDatum(t->events);
		cols[RH_VISITS].values[i] = Int64GetDatum(t->visits);
		cols[RH_BOUNCES].values[i] = Int64GetDatum(t->bounces);
		cols[RH_VISIT_PAGEVIEWS].values[i] = Int64GetDatum(t->visit_pageviews);
		cols[RH_DURATION].values[i] = Int64GetDatum(t->visit_duration_ms);
		/* every hour with events is open until the seal builds sketches */
		if (t->has_events)
		{
			SiteHour   *o = pile_push(&open);

			o->site_id = t->site_id;
			o->hour = t->hour;
		}
	}
	for (int c = RH_SITE; c <= RH_DURATION; c++)
		params[c] = es_column_array(&cols[c], fold->totals.n);

	/* the distinct visitors of each (site, hour), for its sketch */
	qsort(fold->visitors.items, fold->visitors.n, fold->visitors.size,
		  cmp_visitors);
	for (int c = HV_SITE; c <= HV_VISITOR; c++)
		es_column_init(&cols[c], es_rollup_param_types[c], fold->visitors.n);
	for (int i = 0; i < fold->visitors.n; i++)
	{
		HourVisitor *v = pile_at(&fold->visitors, i);

		if (i > 0 && cmp_visitors(pile_at(&fold->visitors, i - 1), v) == 0)
			continue;
		cols[HV_SITE].values[nvisitors] = Int32GetDatum(v->site_id);
		cols[HV_HOUR].values[nvisitors] = TimestampTzGetDatum(v->hour);
		cols[HV_VISITOR].values[nvisitors] = UUIDPGetDatum(&v->visitor);
		nvisitors++;
	}
	for (int c = HV_SITE; c <= HV_VISITOR; c++)
		params[c] = es_column_array(&cols[c], nvisitors);

	/* dimensions per hour; a session moving in or out opens its hour */
	fold_dims(&fold->dims, true);
	pile_init(&daily, sizeof(DimCount), fold->dims.n);
	for (int i = 0; i < fold->dims.n; i++)
	{
		const DimCount *d = pile_at(&fold->dims, i);
		DimCount   *day = pile_push(&daily);

		*day = *d;
		day->hour = floor_to(d->hour, DAY_US);
		if (d->visits != 0)
		{
			SiteHour   *o = pile_push(&open);

			o->site_id = d->site_id;
			o->hour = d->hour;
		}
	}
	dims_columns(&fold->dims, &cols[DH_SITE], params, DH_SITE);
	fold_dims(&daily, false);
	dims_columns(&daily, &cols[DD_SITE], params, DD_SITE);

	/* open hours, once each */
	qsort(open.items, open.n, open.size, cmp_site_hours);
	for (int c = RO_SITE; c <= RO_HOUR; c++)
		es_column_init(&cols[c], es_rollup_param_types[c], open.n);
	for (int i = 0; i < open.n; i++)
	{
		SiteHour   *o = pile_at(&open, i);

		if (i > 0 && cmp_site_hours(pile_at(&open, i - 1), o) == 0)
			continue;
		cols[RO_SITE].values[nopen] = Int32GetDatum(o->site_id);
		cols[RO_HOUR].values[nopen] = TimestampTzGetDatum(o->hour);
		nopen++;
	}
	for (int c = RO_SITE; c <= RO_HOUR; c++)
		params[c] = es_column_array(&cols[c], nopen);
}

/* ---- the statement's rollup part ---- */

char *
es_rollup_sql(int p, const char *hll)
{
	StringInfoData sql;

	/* $n of the parameter of index i */
#define P(i) (p + (i))
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 ", rh AS ("
					 " INSERT INTO edgestat.rollup_hourly AS r (site_id, hour, visitors,"
					 "  pageviews, events, visits, bounces, visit_pageviews, visit_duration_ms)"
					 " SELECT i.site_id, i.hour,"
					 "  COALESCE(hv.visitors, %s.hll_empty(14, 5, -1, 1)),"
					 "  i.pageviews, i.events, i.visits, i.bounces, i.visit_pageviews,"
					 "  i.visit_duration_ms"
					 " FROM (SELECT pg_catalog.unnest($%d) AS site_id,"
					 "  pg_catalog.unnest($%d) AS hour, pg_catalog.unnest($%d) AS pageviews,"
					 "  pg_catalog.unnest($%d) AS events, pg_catalog.unnest($%d) AS visits,"
					 "  pg_catalog.unnest($%d) AS bounces,"
					 "  pg_catalog.unnest($%d) AS visit_pageviews,"
					 "  pg_catalog.unnest($%d) AS visit_duration_ms) i"
					 "  LEFT JOIN (SELECT site_id, hour,"
					 "   %s.hll_add_agg(%s.hll_hash_any(visitor_id), 14, 5, -1, 1) AS visitors"
					 "   FROM (SELECT pg_catalog.unnest($%d) AS site_id,"
					 "    pg_catalog.unnest($%d) AS hour, pg_catalog.unnest($%d) AS visitor_id) x"
					 "   GROUP BY site_id, hour) hv"
					 "  ON hv.site_id = i.site_id AND hv.hour = i.hour"
					 " ORDER BY i.site_id, i.hour"
					 " ON CONFLICT (site_id, hour) DO UPDATE SET"
					 "  visitors = %s.hll_union(r.visitors, excluded.visitors),"
					 "  pageviews = r.pageviews + excluded.pageviews,"
					 "  events = r.events + excluded.events,"
					 "  visits = r.visits + excluded.visits,"
					 "  bounces = r.bounces + excluded.bounces,"
					 "  visit_pageviews = r.visit_pageviews + excluded.visit_pageviews,"
					 "  visit_duration_ms = r.visit_duration_ms + excluded.visit_duration_ms"
					 ")",
					 hll, P(RH_SITE), P(RH_HOUR), P(RH_PAGEVIEWS), P(RH_EVENTS),
					 P(RH_VISITS), P(RH_BOUNCES), P(RH_VISIT_PAGEVIEWS),
					 P(RH_DURATION), hll, hll, P(HV_SITE), P(HV_HOUR),
					 P(HV_VISITOR), hll);
	for (int daily = 0; daily <= 1; daily++)
	{
		int			b = daily ? DD_SITE : DH_SITE;

		appendStringInfo(&sql,
						 ", %s AS ("
						 " INSERT INTO edgestat.%s AS r (site_id, dim, %s, value, visits,"
						 "  pageviews, events)"
						 " SELECT pg_catalog.unnest($%d), pg_catalog.unnest($%d),"
						 "  pg_catalog.unnest($%d), pg_catalog.unnest($%d),"
						 "  pg_catalog.unnest($%d), pg_catalog.unnest($%d),"
						 "  pg_catalog.unnest($%d)"
						 " ON CONFLICT (site_id, dim, %s, value) DO UPDATE SET"
						 "  visits = r.visits + excluded.visits,"
						 "  pageviews = r.pageviews + excluded.pageviews,"
						 "  events = r.events + excluded.events"
						 ")",
						 daily ? "rdd" : "rdh",
						 daily ? "rollup_dims_daily" : "rollup_dims_hourly",
						 daily ? "day" : "hour",
						 P(b), P(b + 1), P(b + 2), P(b + 3), P(b + 4), P(b + 5),
						 P(b + 6), daily ? "day" : "hour");
	}
	appendStringInfo(&sql,
					 ", ro AS ("
					 " INSERT INTO edgestat.rollup_open (site_id, hour)"
					 " SELECT pg_catalog.unnest($%d), pg_catalog.unnest($%d)"
					 " ON CONFLICT DO NOTHING"
					 ")",
					 P(RO_SITE), P(RO_HOUR));
#undef P
	return sql.data;
}
