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
 * Rollups: a process whose triggers are off (session_replication_role =
 * replica: the HTTP workers) folds the batch into the rollup counters in
 * C (rollup.c) and the same statement upserts them; no trigger, no
 * transition table.  It first reads the batch's existing sessions FOR
 * UPDATE, in key order, since a session that grows counts as its new
 * image minus its old one.  Any other writer (edgestat.ingest() from SQL,
 * rows inserted by hand) keeps the rollups through the 1.0 triggers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "batch.h"
#include "column.h"
#include "rollup.h"
#include "score.h"
#include "scoring.h"
#include "statement.h"
#include "stats.h"


/*
 * The batch statement, prepared once per process in up to four forms:
 * [rollups folded here][1.1's SQL objects: revenue columns, site-aware
 * value_score].
 */
static SPIPlanPtr write_plans[2][2];

/* The batch's sessions as they are, locked, in key order. */
static const char *const old_sessions_sql =
"SELECT s.site_id, s.session_id, s.started_at, s.last_seen, s.events,"
" s.pageviews, s.entry_page, s.exit_page, s.referrer_host, s.utm_source,"
" s.utm_medium, s.utm_campaign, s.country, s.region, s.city, s.browser, s.os,"
" s.device"
" FROM edgestat.sessions s"
" JOIN (SELECT pg_catalog.unnest($1) AS site_id,"
"  pg_catalog.unnest($2) AS session_id) k"
" ON s.site_id = k.site_id AND s.session_id = k.session_id"
" ORDER BY s.site_id, s.session_id"
" FOR UPDATE OF s";
static SPIPlanPtr old_sessions_plan = NULL;

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

/* A session of the batch: its part in a new visitor's score, its image. */
typedef struct SessionFold
{
	int32		site_id;
	pg_uuid_t	session;
	pg_uuid_t	visitor;
	int64		engaged_ms;
	int64		interactions;
	EsSessionImage image;		/* what the batch alone makes of it */
} SessionFold;

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


/* What a session's or a visitor's events of one batch count. */
typedef struct EventTally
{
	int32		events;
	int32		pageviews;
	int32		heartbeats;
	int32		goals;
	int16		max_scroll;
} EventTally;

static void
tally_add(EventTally *t, const EsEventRow *e)
{
	t->events++;
	if (e->kind == ES_EVENT_PAGEVIEW)
		t->pageviews++;
	else if (e->kind == ES_EVENT_HEARTBEAT)
		t->heartbeats++;
	else if (e->kind == ES_EVENT_CUSTOM)
		t->goals++;
	if (e->has_scroll)
		t->max_scroll = Max(t->max_scroll, e->scroll);
}

/* Everything one call of es_batch_write builds, in its memory context. */
typedef struct WriteState
{
	EsBatch    *batch;
	int			n;				/* events */
	EsEventRow **order;
	EsColumn	cols[ES_BATCH_PARAMS];
	Datum		params[ES_BATCH_PARAMS + ES_ROLLUP_PARAMS];
	SessionFold *sessions;
	int			nsessions;
	EsVisitorNote *visitors;
	int			nvisitors;
	EsRollupFold *rollups;		/* NULL: the triggers keep the rollups */
	int			fresh_sessions; /* sessions rollup.c took for new */
} WriteState;

/* The events, as they came. */
static void
event_columns(WriteState *ws)
{
	EsColumn   *cols = ws->cols;

	for (int i = 0; i < ws->n; i++)
	{
		EsEventRow *e = &ws->batch->rows[i];

		ws->order[i] = e;
		cols[E_TS].values[i] = TimestampTzGetDatum(e->ts);
		cols[E_SITE].values[i] = Int32GetDatum(e->site_id);
		cols[E_VISITOR].values[i] = uuid_datum(&e->visitor);
		cols[E_SESSION].values[i] = uuid_datum(&e->session);
		es_column_text(&cols[E_NAME], i, e->name);
		es_column_text(&cols[E_PATH], i, e->path);
		es_column_text(&cols[E_REFERRER], i, e->referrer_host);
		es_column_text(&cols[E_UTM_SOURCE], i, e->utm_source);
		es_column_text(&cols[E_UTM_MEDIUM], i, e->utm_medium);
		es_column_text(&cols[E_UTM_CAMPAIGN], i, e->utm_campaign);
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
		es_column_text(&cols[E_COUNTRY], i, GEO_TEXT(e, country));
		es_column_text(&cols[E_REGION], i, GEO_TEXT(e, region));
		es_column_text(&cols[E_CITY], i, GEO_TEXT(e, city));
		cols[E_LAT].values[i] = Float8GetDatum(e->geo ? e->geo->latitude : 0);
		cols[E_LAT].nulls[i] = !(e->geo && e->geo->has_location);
		cols[E_LON].values[i] = Float8GetDatum(e->geo ? e->geo->longitude : 0);
		cols[E_LON].nulls[i] = !(e->geo && e->geo->has_location);
		es_column_text(&cols[E_BROWSER], i, e->browser);
		es_column_text(&cols[E_OS], i, e->os);
		es_column_text(&cols[E_DEVICE], i, e->device);
		es_column_text(&cols[E_PROPS], i, e->props);
		es_column_text(&cols[E_REVENUE], i, e->revenue);
		es_column_text(&cols[E_CURRENCY], i, e->currency);
		if (ws->rollups)
			es_rollup_add_event(ws->rollups, e);
	}
}

/* Sessions: each run of one session folded, oldest event first. */
static void
fold_sessions(WriteState *ws)
{
	EsColumn   *cols = ws->cols;
	EsEventRow **order = ws->order;
	int			n = ws->n;

	qsort(order, n, sizeof(EsEventRow *), cmp_by_session);
	for (int i = 0; i < n;)
	{
		const EsEventRow *first = order[i];
		const EsEventRow *entry = NULL;
		const char *referrer = NULL,
				   *utm_source = NULL,
				   *utm_medium = NULL,
				   *utm_campaign = NULL;
		EventTally	tally = {0};
		int64		engaged = 0,
					interactions = 0;
		int			j;
		int			s = ws->nsessions++;
		SessionFold *fold = &ws->sessions[s];
		const char *const *dims = fold->image.dims;

		for (j = i; j < n && cmp_key(order[j]->site_id, &order[j]->session,
									 first->site_id, &first->session) == 0; j++)
		{
			const EsEventRow *e = order[j];

			tally_add(&tally, e);
			if (e->kind == ES_EVENT_PAGEVIEW && entry == NULL)
				entry = e;
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

		fold->site_id = first->site_id;
		fold->session = first->session;
		fold->visitor = first->visitor;
		fold->engaged_ms = engaged;
		fold->interactions = interactions;
		fold->image.site_id = first->site_id;
		fold->image.started = first->ts;
		fold->image.last = order[j - 1]->ts;
		fold->image.events = tally.events;
		fold->image.pageviews = tally.pageviews;
		{
			const char *values[ES_SESSION_DIMS] = {
				entry->path, order[j - 1]->path, referrer, utm_source,
				utm_medium, utm_campaign, GEO_TEXT(first, country),
				GEO_TEXT(first, region), GEO_TEXT(first, city),
				first->browser, first->os, first->device
			};

			memcpy((void *) dims, values, sizeof(values));
		}

		cols[S_SITE].values[s] = Int32GetDatum(first->site_id);
		cols[S_SESSION].values[s] = uuid_datum(&fold->session);
		cols[S_VISITOR].values[s] = uuid_datum(&fold->visitor);
		cols[S_STARTED].values[s] = TimestampTzGetDatum(fold->image.started);
		cols[S_LAST].values[s] = TimestampTzGetDatum(fold->image.last);
		for (int d = 0; d < ES_SESSION_DIMS; d++)
			es_column_text(&cols[S_ENTRY + d], s, dims[d]);
		cols[S_EVENTS].values[s] = Int32GetDatum(tally.events);
		cols[S_PAGEVIEWS].values[s] = Int32GetDatum(tally.pageviews);
		cols[S_HEARTBEATS].values[s] = Int32GetDatum(tally.heartbeats);
		cols[S_GOALS].values[s] = Int32GetDatum(tally.goals);
		cols[S_SCROLL].values[s] = Int16GetDatum(tally.max_scroll);
		cols[S_ENGAGED].values[s] = Int64GetDatum(engaged);
		cols[S_INTERACTIONS].values[s] = Int64GetDatum(interactions);
		i = j;
	}
}

/* Visitors: each run of one visitor folded. */
static void
fold_visitors(WriteState *ws)
{
	EsColumn   *cols = ws->cols;
	EsEventRow **order = ws->order;
	SessionFold *sfolds = ws->sessions;
	int			n = ws->n;
	int			nextsession = 0;
	EsScoreModel model;
	int32		model_site = 0;

	qsort(sfolds, ws->nsessions, sizeof(SessionFold), cmp_session_fold);
	qsort(order, n, sizeof(EsEventRow *), cmp_by_visitor);
	for (int i = 0; i < n;)
	{
		const EsEventRow *first = order[i];
		const EsEventRow *located = NULL;
		EsVisitorActivity activity;
		EventTally	tally = {0};
		int			j;
		int			v = ws->nvisitors++;

		/* a site may have weights of its own (train_score) */
		if (model_site != first->site_id)
		{
			es_score_model_for_site(first->site_id, &model);
			model_site = first->site_id;
		}
		memset(&activity, 0, sizeof(activity));
		for (j = i; j < n && cmp_key(order[j]->site_id, &order[j]->visitor,
									 first->site_id, &first->visitor) == 0; j++)
		{
			const EsEventRow *e = order[j];

			tally_add(&tally, e);
			if (e->geo && e->geo->found)
				located = e;
		}

		/*
		 * A new visitor's et and ic are the sums of its sessions' maxima;
		 * sessions are sorted by visitor too, so this is a merge.
		 */
		while (nextsession < ws->nsessions &&
			   cmp_key(sfolds[nextsession].site_id, &sfolds[nextsession].visitor,
					   first->site_id, &first->visitor) < 0)
			nextsession++;
		while (nextsession < ws->nsessions &&
			   cmp_key(sfolds[nextsession].site_id, &sfolds[nextsession].visitor,
					   first->site_id, &first->visitor) == 0)
		{
			activity.sessions++;
			activity.engaged_ms += sfolds[nextsession].engaged_ms;
			activity.interactions += sfolds[nextsession].interactions;
			nextsession++;
		}
		activity.sessions = Max(activity.sessions, 1);
		activity.pageviews = tally.pageviews;
		activity.heartbeats = tally.heartbeats;
		activity.max_scroll = tally.max_scroll;
		activity.goals = tally.goals;

		ws->visitors[v].site_id = first->site_id;
		ws->visitors[v].visitor = first->visitor;
		ws->visitors[v].last = order[j - 1];

		cols[V_SITE].values[v] = Int32GetDatum(first->site_id);
		cols[V_VISITOR].values[v] = uuid_datum(&first->visitor);
		cols[V_FIRST].values[v] = TimestampTzGetDatum(first->ts);
		cols[V_LAST].values[v] = TimestampTzGetDatum(order[j - 1]->ts);
		cols[V_EVENTS].values[v] = Int64GetDatum(tally.events);
		cols[V_PAGEVIEWS].values[v] = Int32GetDatum(tally.pageviews);
		cols[V_HEARTBEATS].values[v] = Int32GetDatum(tally.heartbeats);
		cols[V_GOALS].values[v] = Int32GetDatum(tally.goals);
		cols[V_SCROLL].values[v] = Int16GetDatum(tally.max_scroll);
		es_column_text(&cols[V_COUNTRY], v, GEO_TEXT(located, country));
		es_column_text(&cols[V_REGION], v, GEO_TEXT(located, region));
		es_column_text(&cols[V_CITY], v, GEO_TEXT(located, city));
		cols[V_LAT].values[v] = Float8GetDatum(located ? located->geo->latitude : 0);
		cols[V_LAT].nulls[v] = !(located && located->geo->has_location);
		cols[V_LON].values[v] = Float8GetDatum(located ? located->geo->longitude : 0);
		cols[V_LON].nulls[v] = !(located && located->geo->has_location);
		cols[V_SCORE].values[v] = Int16GetDatum((int16) es_value_score(&activity, &model));
		i = j;
	}
}

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, const Oid *types, int options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) types, options);

	if (plan == NULL)
		elog(ERROR, "edgestat: could not prepare the batch statement: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/* hll's schema, quoted: it is wherever CREATE EXTENSION hll put it. */
static char *
hll_schema(void)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute("SELECT pg_catalog.quote_ident(n.nspname)"
					" FROM pg_catalog.pg_extension e"
					" JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
					" WHERE e.extname = 'hll'", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "edgestat: the extension hll is not installed");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return TextDatumGetCString(d);
}

static SPIPlanPtr
batch_plan(bool fold_rollups, bool sql_1_1)
{
	StringInfoData sql;
	Oid			types[ES_BATCH_PARAMS + ES_ROLLUP_PARAMS];
	int			nparams = ES_BATCH_PARAMS;

	if (write_plans[fold_rollups][sql_1_1])
		return write_plans[fold_rollups][sql_1_1];

	memcpy(types, es_batch_param_types, sizeof(es_batch_param_types));
	initStringInfo(&sql);
	appendStringInfo(&sql, es_batch_sql_head,
					 sql_1_1 ? es_batch_sql_revenue_columns : "",
					 sql_1_1 ? es_batch_sql_revenue_values : "");
	if (fold_rollups)
	{
		memcpy(types + ES_BATCH_PARAMS, es_rollup_param_types,
			   sizeof(es_rollup_param_types));
		appendStringInfoString(&sql, es_rollup_sql(ES_BATCH_PARAMS + 1, hll_schema()));
		nparams += ES_ROLLUP_PARAMS;
	}
	appendStringInfo(&sql, es_batch_sql_tail,
					 sql_1_1 ? es_batch_sql_score_site : "");

	/*
	 * Generic at once: the statement reads no table but through its
	 * conflict arbiters, so its plan does not depend on the arrays or on
	 * the tables' sizes, and a custom plan would replan it every batch.
	 */
	return write_plans[fold_rollups][sql_1_1] =
		prepare_kept(sql.data, nparams, types, CURSOR_OPT_GENERIC_PLAN);
}

/*
 * Whether the SQL objects are 1.1's (edgestat.events has its revenue
 * columns): a 1.1 library may serve 1.0's objects until ALTER EXTENSION
 * ... UPDATE (catalog lookups per batch only until 1.1 is seen).
 */
static bool
sql_objects_1_1(void)
{
	/* an update never goes back: once seen, no more lookups */
	static bool seen = false;
	Oid			events;

	if (seen)
		return true;
	events = get_relname_relid("events", get_namespace_oid("edgestat", false));
	seen = OidIsValid(events) &&
		get_attnum(events, "revenue") != InvalidAttrNumber;
	return seen;
}

static char *
copy_value(HeapTuple tup, TupleDesc desc, int col)
{
	return SPI_getvalue(tup, desc, col);
}

/*
 * The rollups count a session that the batch changes as its new image
 * minus its old one: the old ones are read, locked, in key order (the
 * sessions are sorted by key), and the new ones computed here exactly as
 * the statement's upsert merges them.
 */
static void
fold_session_rollups(WriteState *ws)
{
	static const Oid types[2] = {INT4ARRAYOID, UUIDARRAYOID};
	Datum		keys[2];
	int			rc;
	uint64		next = 0;

	/*
	 * Planned for each batch: a plan kept from when the table was small
	 * would scan it whole, a cost that grows with every session stored.
	 */
	if (old_sessions_plan == NULL)
		old_sessions_plan = prepare_kept(old_sessions_sql, 2, types,
										 CURSOR_OPT_CUSTOM_PLAN);
	keys[0] = ws->params[S_SITE];
	keys[1] = ws->params[S_SESSION];
	rc = SPI_execute_plan(old_sessions_plan, keys, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "edgestat: reading the batch's sessions failed: %s",
			 SPI_result_code_string(rc));

	for (int s = 0; s < ws->nsessions; s++)
	{
		SessionFold *fold = &ws->sessions[s];
		EsSessionImage *batch_image = &fold->image;
		EsSessionImage old;
		EsSessionImage merged;
		HeapTuple	tup = NULL;
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		if (next < SPI_processed)
		{
			HeapTuple	t = SPI_tuptable->vals[next];
			int32		site = DatumGetInt32(SPI_getbinval(t, desc, 1, &isnull));
			pg_uuid_t  *id = DatumGetUUIDP(SPI_getbinval(t, desc, 2, &isnull));

			if (cmp_key(site, id, fold->site_id, &fold->session) == 0)
			{
				tup = t;
				next++;
			}
		}
		if (tup == NULL)
		{
			es_rollup_add_session(ws->rollups, batch_image, 1);
			ws->fresh_sessions++;
			continue;
		}

		old.site_id = fold->site_id;
		old.started = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
		old.last = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		old.events = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		old.pageviews = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		for (int d = 0; d < ES_SESSION_DIMS; d++)
			old.dims[d] = copy_value(tup, desc, 7 + d);

		/* as the upsert of es_batch_sql_head merges them */
		merged = old;
		merged.started = Min(old.started, batch_image->started);
		merged.last = Max(old.last, batch_image->last);
		merged.events = old.events + batch_image->events;
		merged.pageviews = old.pageviews + batch_image->pageviews;
		if (batch_image->started < old.started)
			merged.dims[0] = batch_image->dims[0];
		if (batch_image->last >= old.last)
			merged.dims[1] = batch_image->dims[1];
		for (int d = 2; d < ES_SESSION_DIMS; d++)
			if (old.dims[d] == NULL)
				merged.dims[d] = batch_image->dims[d];

		es_rollup_add_session(ws->rollups, &old, -1);
		es_rollup_add_session(ws->rollups, &merged, 1);
	}
}

void
es_batch_write(EsBatch *batch)
{
	MemoryContext old;
	MemoryContext work;
	WriteState *ws;
	int			rc;
	uint64		fresh_visitors = 0;
	bool		isnull;

	if (batch->nrows == 0)
		return;

	/*
	 * Under the transaction's context: a batch that fails leaves nothing
	 * behind once its transaction is aborted.
	 */
	work = AllocSetContextCreate(TopTransactionContext, "edgestat write",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);

	ws = palloc0(sizeof(WriteState));
	ws->batch = batch;
	ws->n = batch->nrows;
	for (int c = 0; c < ES_BATCH_PARAMS; c++)
		es_column_init(&ws->cols[c], es_batch_param_types[c], ws->n);
	ws->order = palloc(sizeof(EsEventRow *) * ws->n);
	ws->sessions = palloc(sizeof(SessionFold) * ws->n);
	ws->visitors = palloc(sizeof(EsVisitorNote) * ws->n);
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		ws->rollups = es_rollup_begin(ws->n, ws->n);

	event_columns(ws);
	fold_sessions(ws);
	for (int c = 0; c < V_SITE; c++)
		ws->params[c] = es_column_array(&ws->cols[c],
										c < S_SITE ? ws->n : ws->nsessions);

	SPI_connect();
	MemoryContextSwitchTo(work);
	if (ws->rollups)
	{
		fold_session_rollups(ws);
		es_rollup_params(ws->rollups, ws->params + ES_BATCH_PARAMS);
	}
	fold_visitors(ws);
	for (int c = V_SITE; c <= V_SCORE; c++)
		ws->params[c] = es_column_array(&ws->cols[c], ws->nvisitors);
	for (int c = E_REVENUE; c <= E_CURRENCY; c++)
		ws->params[c] = es_column_array(&ws->cols[c], ws->n);

	rc = SPI_execute_plan(batch_plan(ws->rollups != NULL, sql_objects_1_1()),
						  ws->params, NULL,
						  false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "edgestat: batch statement failed: %s",
			 SPI_result_code_string(rc));

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[r],
									   SPI_tuptable->tupdesc, 8, &isnull)))
			fresh_visitors++;
	}

	/*
	 * A session another process created between our read and our upsert
	 * was counted as new: the rollups would be off, so the batch fails and
	 * its requests are retried.
	 */
	if (ws->rollups && SPI_processed > 0 &&
		DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 9, &isnull)) !=
		ws->fresh_sessions)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("edgestat: a session of the batch was created concurrently"),
				 errdetail("The batch is rolled back so that the rollups stay exact; retry.")));

	es_count(ES_C_SCORE_RECOMPUTES, fresh_visitors);
	es_announce(ws->visitors, ws->nvisitors);
	SPI_finish();

	es_count(ES_C_ACCEPTED, ws->n);
	es_count(ES_C_BATCHES, 1);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
}
