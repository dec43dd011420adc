/*-------------------------------------------------------------------------
 *
 * writer.c
 *	  The second half of the pipeline: a batch is stored in one statement,
 *	  in the caller's transaction; then live marks, NOTIFY and the live
 *	  feed (docs/data-model.md, docs/notify.md).
 *
 * The batch is merged in memory first, so that the statement touches each
 * session row and each visitor row once: events are sorted by session and
 * by visitor and folded.  The statement inserts the raw events, merges the
 * sessions (maxima only grow, counters add), and feeds how much each
 * session's cumulative et and ic grew into the visitor merge, all through
 * data-modifying CTEs.  The arrays are unnested in the select list, which
 * streams them (unnest in FROM would first copy them into a tuplestore),
 * and rows reach each upsert sorted by key (sessions as the arrays are
 * built, visitors past the join by ORDER BY), so that concurrent writers
 * lock rows in the same order and cannot deadlock.
 *
 * A visitor's location is the latest one found, taken whole (a lookup
 * that found only a country does not keep an older city).
 *
 * The value score of a new visitor is computed here; an existing
 * visitor's is recomputed by the statement itself (edgestat.value_score)
 * only on every fifth heartbeat or when its scroll or interaction state
 * grew.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "batch.h"
#include "live.h"
#include "score.h"
#include "stats.h"

extern void es_score_model(EsScoreModel *model);

static char *notify_channel = NULL;

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

void
es_writer_init(void)
{
	DefineCustomStringVariable("edgestat.notify_channel",
							   "LISTEN/NOTIFY channel for committed events.",
							   NULL, &notify_channel, "edgestat",
							   PGC_SIGHUP, 0, check_notify_channel, NULL, NULL);
}

/* ---- arrays for unnest() ---- */

typedef struct Column
{
	Oid			type;
	Datum	   *values;
	bool	   *nulls;
} Column;

static void
column_init(Column *col, Oid type, int n)
{
	col->type = type;
	col->values = palloc(sizeof(Datum) * Max(n, 1));
	col->nulls = palloc0(sizeof(bool) * Max(n, 1));
}

static void
column_text(Column *col, int i, const char *s)
{
	if (s)
		col->values[i] = CStringGetTextDatum(s);
	else
		col->nulls[i] = true;
}

static Datum
column_array(Column *col, int n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(col->type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(col->values, col->nulls, 1, dims,
											  lbs, col->type, typlen,
											  typbyval, typalign));
}

/* ---- the statement ---- */

enum
{
	/* events */
	E_TS, E_SITE, E_VISITOR, E_SESSION, E_NAME, E_PATH, E_REFERRER,
	E_UTM_SOURCE, E_UTM_MEDIUM, E_UTM_CAMPAIGN, E_SEQ, E_SCROLL, E_ENGAGED,
	E_INTERACTIONS, E_VIEWPORT, E_COUNTRY, E_REGION, E_CITY, E_LAT, E_LON,
	E_BROWSER, E_OS, E_DEVICE, E_PROPS,
	/* sessions */
	S_SITE, S_SESSION, S_VISITOR, S_STARTED, S_LAST, S_ENTRY, S_EXIT,
	S_REFERRER, S_UTM_SOURCE, S_UTM_MEDIUM, S_UTM_CAMPAIGN, S_COUNTRY,
	S_REGION, S_CITY, S_BROWSER, S_OS, S_DEVICE, S_EVENTS, S_PAGEVIEWS,
	S_HEARTBEATS, S_GOALS, S_SCROLL, S_ENGAGED, S_INTERACTIONS,
	/* visitors */
	V_SITE, V_VISITOR, V_FIRST, V_LAST, V_EVENTS, V_PAGEVIEWS, V_HEARTBEATS,
	V_GOALS, V_SCROLL, V_COUNTRY, V_REGION, V_CITY, V_LAT, V_LON, V_SCORE,
	NUM_PARAMS
};

static const Oid param_types[NUM_PARAMS] = {
	TIMESTAMPTZARRAYOID, INT4ARRAYOID, UUIDARRAYOID, UUIDARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, INT4ARRAYOID, INT2ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID,
	FLOAT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,

	INT4ARRAYOID, UUIDARRAYOID, UUIDARRAYOID, TIMESTAMPTZARRAYOID,
	TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
	INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT2ARRAYOID, INT8ARRAYOID,
	INT8ARRAYOID,

	INT4ARRAYOID, UUIDARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID,
	INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT2ARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
	INT2ARRAYOID,
};

static const char *const write_sql =
"WITH ev AS ("
" INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path,"
"  referrer_host, utm_source, utm_medium, utm_campaign, seq, scroll, engaged_ms,"
"  interactions, viewport, country, region, city, latitude, longitude, browser,"
"  os, device, props)"
" SELECT pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
"  pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11),"
"  pg_catalog.unnest($12), pg_catalog.unnest($13), pg_catalog.unnest($14), pg_catalog.unnest($15), pg_catalog.unnest($16),"
"  pg_catalog.unnest($17), pg_catalog.unnest($18), pg_catalog.unnest($19), pg_catalog.unnest($20), pg_catalog.unnest($21),"
"  pg_catalog.unnest($22), pg_catalog.unnest($23), pg_catalog.unnest($24)::jsonb"
"), se AS ("
" INSERT INTO edgestat.sessions AS s (site_id, session_id, visitor_id,"
"  started_at, last_seen, entry_page, exit_page, referrer_host, utm_source,"
"  utm_medium, utm_campaign, country, region, city, browser, os, device, events,"
"  pageviews, heartbeats, goals, max_scroll, engaged_ms, interactions,"
"  grown_engaged_ms, grown_interactions)"
" SELECT i.*, i.engaged_ms, i.interactions"
" FROM (SELECT pg_catalog.unnest($25) AS site_id, pg_catalog.unnest($26) AS session_id,"
"  pg_catalog.unnest($27) AS visitor_id, pg_catalog.unnest($28) AS started_at,"
"  pg_catalog.unnest($29) AS last_seen, pg_catalog.unnest($30) AS entry_page,"
"  pg_catalog.unnest($31) AS exit_page, pg_catalog.unnest($32) AS referrer_host,"
"  pg_catalog.unnest($33) AS utm_source, pg_catalog.unnest($34) AS utm_medium,"
"  pg_catalog.unnest($35) AS utm_campaign, pg_catalog.unnest($36) AS country,"
"  pg_catalog.unnest($37) AS region, pg_catalog.unnest($38) AS city, pg_catalog.unnest($39) AS browser,"
"  pg_catalog.unnest($40) AS os, pg_catalog.unnest($41) AS device, pg_catalog.unnest($42) AS events,"
"  pg_catalog.unnest($43) AS pageviews, pg_catalog.unnest($44) AS heartbeats,"
"  pg_catalog.unnest($45) AS goals, pg_catalog.unnest($46) AS max_scroll,"
"  pg_catalog.unnest($47) AS engaged_ms, pg_catalog.unnest($48) AS interactions) i"
" ON CONFLICT (site_id, session_id) DO UPDATE SET"
"  started_at = LEAST(s.started_at, excluded.started_at),"
"  last_seen = GREATEST(s.last_seen, excluded.last_seen),"
"  entry_page = CASE WHEN excluded.started_at < s.started_at"
"   THEN excluded.entry_page ELSE s.entry_page END,"
"  exit_page = CASE WHEN excluded.last_seen >= s.last_seen"
"   THEN excluded.exit_page ELSE s.exit_page END,"
"  referrer_host = COALESCE(s.referrer_host, excluded.referrer_host),"
"  utm_source = COALESCE(s.utm_source, excluded.utm_source),"
"  utm_medium = COALESCE(s.utm_medium, excluded.utm_medium),"
"  utm_campaign = COALESCE(s.utm_campaign, excluded.utm_campaign),"
"  country = COALESCE(s.country, excluded.country),"
"  region = COALESCE(s.region, excluded.region),"
"  city = COALESCE(s.city, excluded.city),"
"  browser = COALESCE(s.browser, excluded.browser),"
"  os = COALESCE(s.os, excluded.os),"
"  device = COALESCE(s.device, excluded.device),"
"  events = s.events + excluded.events,"
"  pageviews = s.pageviews + excluded.pageviews,"
"  heartbeats = s.heartbeats + excluded.heartbeats,"
"  goals = s.goals + excluded.goals,"
"  max_scroll = GREATEST(s.max_scroll, excluded.max_scroll),"
"  engaged_ms = GREATEST(s.engaged_ms, excluded.engaged_ms),"
"  interactions = GREATEST(s.interactions, excluded.interactions),"
"  grown_engaged_ms = GREATEST(s.engaged_ms, excluded.engaged_ms) - s.engaged_ms,"
"  grown_interactions = GREATEST(s.interactions, excluded.interactions) - s.interactions"
" RETURNING s.site_id, s.visitor_id, (s.xmax = 0) AS fresh, s.grown_engaged_ms,"
"  s.grown_interactions"
"), sg AS ("
" SELECT site_id, visitor_id, (count(*) FILTER (WHERE fresh))::int AS sessions,"
"  sum(grown_engaged_ms)::bigint AS engaged_ms,"
"  sum(grown_interactions)::bigint AS interactions"
" FROM se GROUP BY site_id, visitor_id"
")"
" INSERT INTO edgestat.visitors AS v (site_id, visitor_id, first_seen, last_seen,"
"  sessions, events, pageviews, heartbeats, goals, max_scroll, engaged_ms,"
"  interactions, score, country, region, city, latitude, longitude)"
" SELECT i.site_id, i.visitor_id, i.first_seen, i.last_seen,"
"  COALESCE(sg.sessions, 0), i.events, i.pageviews, i.heartbeats, i.goals,"
"  i.max_scroll, COALESCE(sg.engaged_ms, 0), COALESCE(sg.interactions, 0),"
"  i.score, i.country, i.region, i.city, i.latitude, i.longitude"
" FROM (SELECT pg_catalog.unnest($49) AS site_id, pg_catalog.unnest($50) AS visitor_id,"
"  pg_catalog.unnest($51) AS first_seen, pg_catalog.unnest($52) AS last_seen,"
"  pg_catalog.unnest($53) AS events, pg_catalog.unnest($54) AS pageviews,"
"  pg_catalog.unnest($55) AS heartbeats, pg_catalog.unnest($56) AS goals,"
"  pg_catalog.unnest($57) AS max_scroll, pg_catalog.unnest($58) AS country,"
"  pg_catalog.unnest($59) AS region, pg_catalog.unnest($60) AS city, pg_catalog.unnest($61) AS latitude,"
"  pg_catalog.unnest($62) AS longitude, pg_catalog.unnest($63) AS score) i"
"  LEFT JOIN sg USING (site_id, visitor_id)"
" ORDER BY i.site_id, i.visitor_id"
" ON CONFLICT (site_id, visitor_id) DO UPDATE SET"
"  first_seen = LEAST(v.first_seen, excluded.first_seen),"
"  last_seen = GREATEST(v.last_seen, excluded.last_seen),"
"  sessions = v.sessions + excluded.sessions,"
"  events = v.events + excluded.events,"
"  pageviews = v.pageviews + excluded.pageviews,"
"  heartbeats = v.heartbeats + excluded.heartbeats,"
"  goals = v.goals + excluded.goals,"
"  max_scroll = GREATEST(v.max_scroll, excluded.max_scroll),"
"  engaged_ms = v.engaged_ms + excluded.engaged_ms,"
"  interactions = v.interactions + excluded.interactions,"
"  score = CASE WHEN (v.heartbeats + excluded.heartbeats) / 5 > v.heartbeats / 5"
"   OR excluded.max_scroll > v.max_scroll OR excluded.interactions > 0"
"   THEN edgestat.value_score(v.pageviews + excluded.pageviews,"
"    v.heartbeats + excluded.heartbeats,"
"    GREATEST(v.max_scroll, excluded.max_scroll),"
"    v.interactions + excluded.interactions,"
"    v.engaged_ms + excluded.engaged_ms,"
"    v.sessions + excluded.sessions, v.goals + excluded.goals)"
"   ELSE v.score END,"
"  country = CASE WHEN excluded.country IS NULL THEN v.country ELSE excluded.country END,"
"  region = CASE WHEN excluded.country IS NULL THEN v.region ELSE excluded.region END,"
"  city = CASE WHEN excluded.country IS NULL THEN v.city ELSE excluded.city END,"
"  latitude = CASE WHEN excluded.country IS NULL THEN v.latitude ELSE excluded.latitude END,"
"  longitude = CASE WHEN excluded.country IS NULL THEN v.longitude ELSE excluded.longitude END"
" RETURNING v.site_id, v.visitor_id, v.score, v.country, v.city, v.latitude,"
"  v.longitude, (v.xmax = 0) AS fresh";

static SPIPlanPtr write_plan = NULL;

/* ---- merging in memory ---- */

/*
 * Arrival order: by receive time, then by place in the batch, which is the
 * order of the events within a body and of bodies within a batch.
 */
static int
cmp_arrival(const EsEventRow *x, const EsEventRow *y)
{
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return (x > y) - (x < y);
}

/* Rows are keyed by (site, uuid), in the order the tables' keys sort. */
static inline int
cmp_key(int32 site_a, const pg_uuid_t *a, int32 site_b, const pg_uuid_t *b)
{
	if (site_a != site_b)
		return site_a < site_b ? -1 : 1;
	return memcmp(a->data, b->data, UUID_LEN);
}

static int
cmp_by_session(const void *a, const void *b)
{
	const EsEventRow *x = *(EsEventRow *const *) a;
	const EsEventRow *y = *(EsEventRow *const *) b;
	int			c = cmp_key(x->site_id, &x->session, y->site_id, &y->session);

	return c != 0 ? c : cmp_arrival(x, y);
}

static int
cmp_by_visitor(const void *a, const void *b)
{
	const EsEventRow *x = *(EsEventRow *const *) a;
	const EsEventRow *y = *(EsEventRow *const *) b;
	int			c = cmp_key(x->site_id, &x->visitor, y->site_id, &y->visitor);

	return c != 0 ? c : cmp_arrival(x, y);
}

/* What a batch knows of one visitor, for its row and its NOTIFY. */
typedef struct VisitorFold
{
	int32		site_id;
	pg_uuid_t	visitor;
	const EsEventRow *last;		/* latest event: n and path of the payload */
} VisitorFold;

/* A session's part in a new visitor's score. */
typedef struct SessionFold
{
	int32		site_id;
	pg_uuid_t	visitor;
	int64		engaged_ms;
	int64		interactions;
} SessionFold;

static int
cmp_fold(const void *a, const void *b)
{
	const VisitorFold *x = a;
	const VisitorFold *y = b;

	return cmp_key(x->site_id, &x->visitor, y->site_id, &y->visitor);
}

static int
cmp_session_fold(const void *a, const void *b)
{
	const SessionFold *x = a;
	const SessionFold *y = b;

	return cmp_key(x->site_id, &x->visitor, y->site_id, &y->visitor);
}

static Datum
uuid_datum(const pg_uuid_t *uuid)
{
	return UUIDPGetDatum(uuid);
}

#define GEO_TEXT(row, field) \
	((row) && (row)->geo && (row)->geo->field[0] ? (row)->geo->field : NULL)

/* ---- after the statement: live, NOTIFY, feed ---- */

typedef struct SiteLive
{
	int32		site_id;
	int64		live;
} SiteLive;

static void
append_json_number(StringInfo buf, const char *key, bool isnull, double value)
{
	appendStringInfo(buf, ",\"%s\":", key);
	if (isnull)
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.6f", value);
}

static void
append_json_text(StringInfo buf, const char *key, const char *value, int maxbytes)
{
	appendStringInfo(buf, ",\"%s\":", key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
	{
		int			len = strlen(value);

		if (len > maxbytes)
		{
			char	   *clipped = pnstrdup(value,
										   pg_mbcliplen(value, len, maxbytes));

			escape_json(buf, clipped);
			pfree(clipped);
		}
		else
			escape_json(buf, value);
	}
}

static void
announce(VisitorFold *folds, int nfolds, SiteLive *lives, int *nlives)
{
	char	   *channel = notify_channel;
	StringInfoData buf;
	uint64		notified = 0;

	initStringInfo(&buf);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		VisitorFold key;
		VisitorFold *fold;
		int64		live = 0;
		char		vtext[37];
		char	   *country,
				   *city;
		double		lat,
					lon;
		bool		nolat,
					nolon;
		int			i;

		key.site_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		memcpy(key.visitor.data,
			   DatumGetUUIDP(SPI_getbinval(tup, desc, 2, &isnull))->data, UUID_LEN);
		fold = bsearch(&key, folds, nfolds, sizeof(VisitorFold), cmp_fold);
		if (fold == NULL)
			continue;

		/* 7. live */
		es_live_touch(fold->site_id, fold->visitor.data);
		for (i = 0; i < *nlives; i++)
			if (lives[i].site_id == fold->site_id)
				break;
		if (i == *nlives)
		{
			lives[i].site_id = fold->site_id;
			lives[i].live = -1;
			(*nlives)++;
		}
		/* counted after this visitor's touch, once per site and batch */
		if (lives[i].live < 0)
			lives[i].live = es_live_count(fold->site_id);
		live = lives[i].live;

		/* 8. the payload */
		country = SPI_getvalue(tup, desc, 4);
		city = SPI_getvalue(tup, desc, 5);
		lat = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &nolat));
		lon = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &nolon));
		es_uuid_format(fold->visitor.data, vtext);

		resetStringInfo(&buf);
		appendStringInfoString(&buf, "{\"site\":");
		escape_json(&buf, fold->last->domain);
		appendStringInfo(&buf, ",\"v\":\"%s\"", vtext);
		append_json_text(&buf, "n", fold->last->name, 256);
		append_json_text(&buf, "path", fold->last->path, 1024);
		append_json_text(&buf, "country", country, 16);
		append_json_text(&buf, "city", city, 256);
		append_json_number(&buf, "lat", nolat, nolat ? 0 : lat);
		append_json_number(&buf, "lon", nolon, nolon ? 0 : lon);
		appendStringInfo(&buf, ",\"score\":%d,\"live\":" INT64_FORMAT ",\"ts\":",
						 DatumGetInt16(SPI_getbinval(tup, desc, 3, &isnull)), live);
		escape_json(&buf, timestamptz_to_str(fold->last->ts));
		appendStringInfoChar(&buf, '}');

		Async_Notify(channel, buf.data);
		es_feed_queue(fold->site_id, buf.data);
		notified++;
	}
	es_count(ES_C_NOTIFICATIONS, notified);
	pfree(buf.data);
}

void
es_batch_write(EsBatch *batch)
{
	int			n = batch->nrows;
	MemoryContext old;
	MemoryContext work;
	EsEventRow **order;
	Column		cols[NUM_PARAMS];
	Datum		params[NUM_PARAMS];
	int			nsessions = 0;
	int			nvisitors = 0;
	VisitorFold *folds;
	SessionFold *sfolds;
	int			nextsession = 0;
	SiteLive   *lives;
	int			nlives = 0;
	EsScoreModel model;
	int			rc;
	uint64		fresh_visitors = 0;

	if (n == 0)
		return;

	/*
	 * Under the transaction's context: a batch that fails leaves nothing
	 * behind once its transaction is aborted.
	 */
	work = AllocSetContextCreate(TopTransactionContext, "edgestat write",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);

	for (int c = 0; c < NUM_PARAMS; c++)
		column_init(&cols[c], get_element_type(param_types[c]), n);
	order = palloc(sizeof(EsEventRow *) * n);
	folds = palloc(sizeof(VisitorFold) * n);
	sfolds = palloc(sizeof(SessionFold) * n);
	lives = palloc(sizeof(SiteLive) * n);

	/* events, as they came */
	for (int i = 0; i < n; i++)
	{
		EsEventRow *e = &batch->rows[i];

		order[i] = e;
		cols[E_TS].values[i] = TimestampTzGetDatum(e->ts);
		cols[E_SITE].values[i] = Int32GetDatum(e->site_id);
		cols[E_VISITOR].values[i] = uuid_datum(&e->visitor);
		cols[E_SESSION].values[i] = uuid_datum(&e->session);
		column_text(&cols[E_NAME], i, e->name);
		column_text(&cols[E_PATH], i, e->path);
		column_text(&cols[E_REFERRER], i, e->referrer_host);
		column_text(&cols[E_UTM_SOURCE], i, e->utm_source);
		column_text(&cols[E_UTM_MEDIUM], i, e->utm_medium);
		column_text(&cols[E_UTM_CAMPAIGN], i, e->utm_campaign);
		cols[E_SEQ].values[i] = Int32GetDatum(e->seq);
		cols[E_SEQ].nulls[i] = !e->has_seq;
		cols[E_SCROLL].values[i] = Int16GetDatum(e->scroll);
		cols[E_SCROLL].nulls[i] = !e->has_scroll;
		cols[E_ENGAGED].values[i] = Int64GetDatum(e->engaged_ms);
		cols[E_ENGAGED].nulls[i] = !e->has_engaged;
		cols[E_INTERACTIONS].values[i] = Int64GetDatum(e->interactions);
		cols[E_INTERACTIONS].nulls[i] = !e->has_interactions;
		cols[E_VIEWPORT].values[i] = Int32GetDatum(e->viewport);
		cols[E_VIEWPORT].nulls[i] = !e->has_width;
		column_text(&cols[E_COUNTRY], i, GEO_TEXT(e, country));
		column_text(&cols[E_REGION], i, GEO_TEXT(e, region));
		column_text(&cols[E_CITY], i, GEO_TEXT(e, city));
		cols[E_LAT].values[i] = Float8GetDatum(e->geo ? e->geo->latitude : 0);
		cols[E_LAT].nulls[i] = !(e->geo && e->geo->has_location);
		cols[E_LON].values[i] = Float8GetDatum(e->geo ? e->geo->longitude : 0);
		cols[E_LON].nulls[i] = !(e->geo && e->geo->has_location);
		column_text(&cols[E_BROWSER], i, e->browser);
		column_text(&cols[E_OS], i, e->os);
		column_text(&cols[E_DEVICE], i, e->device);
		column_text(&cols[E_PROPS], i, e->props);
	}

	/* sessions: fold each run of one session, oldest event first */
	qsort(order, n, sizeof(EsEventRow *), cmp_by_session);
	for (int i = 0; i < n;)
	{
		const EsEventRow *first = order[i];
		const EsEventRow *entry = NULL;
		const char *referrer = NULL,
				   *utm_source = NULL,
				   *utm_medium = NULL,
				   *utm_campaign = NULL;
		int32		events = 0,
					pageviews = 0,
					heartbeats = 0,
					goals = 0;
		int16		scroll = 0;
		int64		engaged = 0,
					interactions = 0;
		int			j;
		int			s = nsessions++;

		for (j = i; j < n && cmp_key(order[j]->site_id, &order[j]->session,
									 first->site_id, &first->session) == 0; j++)
		{
			const EsEventRow *e = order[j];

			events++;
			if (e->kind == ES_EVENT_PAGEVIEW)
			{
				pageviews++;
				if (entry == NULL)
					entry = e;
			}
			else if (e->kind == ES_EVENT_HEARTBEAT)
				heartbeats++;
			else if (e->kind == ES_EVENT_CUSTOM)
				goals++;
			if (e->has_scroll)
				scroll = Max(scroll, e->scroll);
			if (e->has_engaged)
				engaged = Max(engaged, e->engaged_ms);
			if (e->has_interactions)
				interactions = Max(interactions, e->interactions);
			if (referrer == NULL)
				referrer = e->referrer_host;
			if (utm_source == NULL)
				utm_source = e->utm_source;
			if (utm_medium == NULL)
				utm_medium = e->utm_medium;
			if (utm_campaign == NULL)
				utm_campaign = e->utm_campaign;
		}
		if (entry == NULL)
			entry = first;

		cols[S_SITE].values[s] = Int32GetDatum(first->site_id);
		cols[S_SESSION].values[s] = uuid_datum(&first->session);
		cols[S_VISITOR].values[s] = uuid_datum(&first->visitor);
		cols[S_STARTED].values[s] = TimestampTzGetDatum(first->ts);
		cols[S_LAST].values[s] = TimestampTzGetDatum(order[j - 1]->ts);
		column_text(&cols[S_ENTRY], s, entry->path);
		column_text(&cols[S_EXIT], s, order[j - 1]->path);
		column_text(&cols[S_REFERRER], s, referrer);
		column_text(&cols[S_UTM_SOURCE], s, utm_source);
		column_text(&cols[S_UTM_MEDIUM], s, utm_medium);
		column_text(&cols[S_UTM_CAMPAIGN], s, utm_campaign);
		column_text(&cols[S_COUNTRY], s, GEO_TEXT(first, country));
		column_text(&cols[S_REGION], s, GEO_TEXT(first, region));
		column_text(&cols[S_CITY], s, GEO_TEXT(first, city));
		column_text(&cols[S_BROWSER], s, first->browser);
		column_text(&cols[S_OS], s, first->os);
		column_text(&cols[S_DEVICE], s, first->device);
		cols[S_EVENTS].values[s] = Int32GetDatum(events);
		cols[S_PAGEVIEWS].values[s] = Int32GetDatum(pageviews);
		cols[S_HEARTBEATS].values[s] = Int32GetDatum(heartbeats);
		cols[S_GOALS].values[s] = Int32GetDatum(goals);
		cols[S_SCROLL].values[s] = Int16GetDatum(scroll);
		cols[S_ENGAGED].values[s] = Int64GetDatum(engaged);
		cols[S_INTERACTIONS].values[s] = Int64GetDatum(interactions);
		sfolds[s].site_id = first->site_id;
		sfolds[s].visitor = first->visitor;
		sfolds[s].engaged_ms = engaged;
		sfolds[s].interactions = interactions;
		i = j;
	}

	/* visitors: fold each run of one visitor */
	qsort(sfolds, nsessions, sizeof(SessionFold), cmp_session_fold);
	es_score_model(&model);
	qsort(order, n, sizeof(EsEventRow *), cmp_by_visitor);
	for (int i = 0; i < n;)
	{
		const EsEventRow *first = order[i];
		const EsEventRow *located = NULL;
		EsVisitorActivity activity;
		int32		events = 0,
					pageviews = 0,
					heartbeats = 0,
					goals = 0;
		int16		scroll = 0;
		int			j;
		int			v = nvisitors++;

		memset(&activity, 0, sizeof(activity));
		for (j = i; j < n && cmp_key(order[j]->site_id, &order[j]->visitor,
									 first->site_id, &first->visitor) == 0; j++)
		{
			const EsEventRow *e = order[j];

			events++;
			if (e->kind == ES_EVENT_PAGEVIEW)
				pageviews++;
			else if (e->kind == ES_EVENT_HEARTBEAT)
				heartbeats++;
			else if (e->kind == ES_EVENT_CUSTOM)
				goals++;
			if (e->has_scroll)
				scroll = Max(scroll, e->scroll);
			if (e->geo && e->geo->found)
				located = e;
		}

		/*
		 * A new visitor's et and ic are the sums of its sessions' maxima;
		 * sessions are sorted by visitor too, so this is a merge.
		 */
		while (nextsession < nsessions &&
			   cmp_key(sfolds[nextsession].site_id, &sfolds[nextsession].visitor,
					   first->site_id, &first->visitor) < 0)
			nextsession++;
		while (nextsession < nsessions &&
			   cmp_key(sfolds[nextsession].site_id, &sfolds[nextsession].visitor,
					   first->site_id, &first->visitor) == 0)
		{
			activity.sessions++;
			activity.engaged_ms += sfolds[nextsession].engaged_ms;
			activity.interactions += sfolds[nextsession].interactions;
			nextsession++;
		}
		activity.sessions = Max(activity.sessions, 1);
		activity.pageviews = pageviews;
		activity.heartbeats = heartbeats;
		activity.max_scroll = scroll;
		activity.goals = goals;

		folds[v].site_id = first->site_id;
		folds[v].visitor = first->visitor;
		folds[v].last = order[j - 1];

		cols[V_SITE].values[v] = Int32GetDatum(first->site_id);
		cols[V_VISITOR].values[v] = uuid_datum(&first->visitor);
		cols[V_FIRST].values[v] = TimestampTzGetDatum(first->ts);
		cols[V_LAST].values[v] = TimestampTzGetDatum(order[j - 1]->ts);
		cols[V_EVENTS].values[v] = Int64GetDatum(events);
		cols[V_PAGEVIEWS].values[v] = Int32GetDatum(pageviews);
		cols[V_HEARTBEATS].values[v] = Int32GetDatum(heartbeats);
		cols[V_GOALS].values[v] = Int32GetDatum(goals);
		cols[V_SCROLL].values[v] = Int16GetDatum(scroll);
		column_text(&cols[V_COUNTRY], v, GEO_TEXT(located, country));
		column_text(&cols[V_REGION], v, GEO_TEXT(located, region));
		column_text(&cols[V_CITY], v, GEO_TEXT(located, city));
		cols[V_LAT].values[v] = Float8GetDatum(located ? located->geo->latitude : 0);
		cols[V_LAT].nulls[v] = !(located && located->geo->has_location);
		cols[V_LON].values[v] = Float8GetDatum(located ? located->geo->longitude : 0);
		cols[V_LON].nulls[v] = !(located && located->geo->has_location);
		cols[V_SCORE].values[v] = Int16GetDatum((int16) es_value_score(&activity, &model));
		i = j;
	}

	for (int c = 0; c < NUM_PARAMS; c++)
	{
		int			len = c < S_SITE ? n : c < V_SITE ? nsessions : nvisitors;

		params[c] = column_array(&cols[c], len);
	}

	/* 5. write */
	SPI_connect();
	if (write_plan == NULL)
	{
		/*
		 * Generic at once: the plan does not depend on the arrays, and a
		 * custom plan would replan this statement for every batch.
		 */
		SPIPlanPtr	plan = SPI_prepare_cursor(write_sql, NUM_PARAMS,
											 (Oid *) param_types,
											 CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "edgestat: could not prepare the batch statement: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		write_plan = plan;
	}
	rc = SPI_execute_plan(write_plan, params, NULL, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "edgestat: batch statement failed: %s",
			 SPI_result_code_string(rc));

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r],
									   SPI_tuptable->tupdesc, 8, &isnull)))
			fresh_visitors++;
	}

	/* 6-8. score count, live, NOTIFY, feed */
	es_count(ES_C_SCORE_RECOMPUTES, fresh_visitors);
	announce(folds, nvisitors, lives, &nlives);
	SPI_finish();

	es_count(ES_C_ACCEPTED, n);
	es_count(ES_C_BATCHES, 1);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
}
