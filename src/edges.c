/*-------------------------------------------------------------------------
 *
 * edges.c
 *	  The center's side of edges (docs/scale.md): events that logical
 *	  replication applies from an edge go through the same writer as local
 *	  ingest, one batch per replicated transaction; and the one remote call
 *	  attach_edge/detach_edge/edges() need on the edge.
 *
 * An edge publishes edgestat.events through its partition root, so the
 * apply worker inserts into the center's edgestat.events.  A BEFORE ROW
 * trigger (ENABLE ALWAYS, so that it fires in the apply worker, whose
 * session_replication_role is replica) takes each row out of that insert
 * and collects it; the first row of a transaction also inserts a marker
 * into edgestat.edge_flush, whose deferred constraint trigger runs at
 * commit, after every row of the transaction was collected.  That trigger
 * drops events another edge already delivered (a client that retried
 * elsewhere), then hands the rest to es_batch_write: raw events, the
 * max-merge into sessions and visitors, and the rollups folded in C, as an
 * edge's HTTP worker writes them.  The apply worker applies one edge
 * transaction -- one HTTP batch of that edge -- as one transaction here,
 * so the center writes as many statements as the edges did.
 *
 * Merges from different edges are serialized by an advisory lock held to
 * commit: the duplicate check reads what the other edge's merge wrote,
 * and the writer's "session created concurrently" check would otherwise
 * fail one of two edges that carry the same session.
 *
 * What /metrics says of each edge lives in shared memory: the apply
 * workers note their merges there, the SQL functions the list of edges,
 * and the HTTP worker that answers a scrape reads it with the apply
 * workers' own shared state -- no catalog, no query, so a scrape never
 * waits behind a lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "replication/logicalworker.h"
#include "replication/origin.h"
#include "replication/walreceiver.h"
#include "replication/worker_internal.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

#include "batch.h"
#include "edges.h"
#include "pipeline.h"
#include "shmem.h"

/* Rows the apply worker gave us in this transaction; NULL: none yet. */
static EsBatch *pending = NULL;
static bool flushing = false;
static bool callback_registered = false;
static uint32 flushes = 0;

/* edge_nodes is brought up to date once a second (edgestat_edge_flush) */
static TimestampTz nodes_updated = 0;
static int64 unrecorded_events = 0;
static TimestampTz unrecorded_last = 0;

/*
 * site_id -> domain, for the NOTIFY payload, read once and again after
 * edgestat.sites changes (its statement trigger sends the invalidation).
 */
typedef struct SiteName
{
	int32		id;
	char	   *domain;
} SiteName;

static SiteName *site_names = NULL;
static int	nsite_names = 0;
static bool site_names_valid = false;
static MemoryContext site_names_cxt = NULL;
static Oid	sites_relid = InvalidOid;

static void
site_names_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == sites_relid)
		site_names_valid = false;
}

/* edgestat.center_conninfo: how edges reach this center for its sites */
static char *center_conninfo = NULL;

/*
 * One edge as /metrics shows it.  The edge's WAL position is measured now
 * and then over a connection of its own; the bytes behind are that
 * position less the furthest the center is known to have got (what it
 * merged, what the edge's walsender reported last), so the figure drops
 * as the center catches up between two measurements, never below zero.
 */
#define ES_MAX_EDGES 32
#define ES_EDGE_MEASURE_MS	10000

typedef struct EsEdgeStat
{
	bool		used;
	bool		enabled;
	bool		slot_left;
	char		name[NAMEDATALEN];
	Oid			subid;
	uint64		merged;			/* events merged since the center started */
	TimestampTz last_event;		/* the newest merged event's ts */
	TimestampTz last_commit;	/* the edge's commit of the last merge */
	TimestampTz last_merge;		/* when the center merged it */
	XLogRecPtr	applied_lsn;	/* the edge's end of that transaction */
	XLogRecPtr	edge_lsn;		/* the edge's WAL position, measured */
	TimestampTz edge_lsn_at;
} EsEdgeStat;

typedef struct EsEdgesShared
{
	slock_t		mutex;
	EsEdgeStat	edges[ES_MAX_EDGES];
} EsEdgesShared;

static EsEdgesShared *edges_shared = NULL;

static Size
edges_shmem_size(void)
{
	return sizeof(EsEdgesShared);
}

static void
edges_shmem_attach(void *ptr, bool found)
{
	edges_shared = ptr;
	if (!found)
	{
		memset(edges_shared, 0, sizeof(EsEdgesShared));
		SpinLockInit(&edges_shared->mutex);
	}
}

static const EsShmemPart edges_part = {
	"edgestat edges", edges_shmem_size, edges_shmem_attach, NULL, 0
};

void
es_edges_init(void)
{
	DefineCustomStringVariable("edgestat.center_conninfo",
							   "How edges reach this center for its sites (attach_edge's default).",
							   NULL, &center_conninfo, "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	es_shmem_register(&edges_part);
}

/* The entry of an edge, made if asked; the caller holds the mutex. */
static EsEdgeStat *
edge_stat(const char *name, bool create)
{
	EsEdgeStat *free_one = NULL;

	for (int i = 0; i < ES_MAX_EDGES; i++)
	{
		EsEdgeStat *e = &edges_shared->edges[i];

		if (e->used && strcmp(e->name, name) == 0)
			return e;
		if (!e->used && free_one == NULL)
			free_one = e;
	}
	if (!create || free_one == NULL)
		return NULL;
	memset(free_one, 0, sizeof(*free_one));
	free_one->used = true;
	free_one->enabled = true;
	strlcpy(free_one->name, name, sizeof(free_one->name));
	return free_one;
}

/*
 * The first column of the first row of a walrcv_exec result as a palloc'd
 * string, or NULL (no rows, a NULL, or not a result with rows).
 */
static char *
result_first_text(WalRcvExecResult *res)
{
	char	   *value = NULL;
	TupleTableSlot *slot;

	if (res->status != WALRCV_OK_TUPLES || res->tuplestore == NULL)
		return NULL;
	slot = MakeSingleTupleTableSlot(res->tupledesc, &TTSOpsMinimalTuple);
	if (tuplestore_gettupleslot(res->tuplestore, true, false, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, 1, &isnull);

		if (!isnull)
			value = TextDatumGetCString(d);
	}
	ExecDropSingleTupleTableSlot(slot);
	return value;
}

/*
 * The edge's current WAL position, or InvalidXLogRecPtr when it cannot be
 * had at once.  walrcv_connect and walrcv_exec report failures in their
 * results rather than raising them, so a merge is never failed by this.
 */
static XLogRecPtr
measure_edge_lsn(const char *conninfo)
{
	WalReceiverConn *conn;
	WalRcvExecResult *res;
	char	   *err = NULL;
	Oid			types[1] = {TEXTOID};
	XLogRecPtr	lsn = InvalidXLogRecPtr;
	char	   *info = psprintf("%s connect_timeout=2", conninfo);
	char	   *value;

	load_file("libpqwalreceiver", false);
	conn = walrcv_connect(info, true, "edgestat", &err);
	if (conn == NULL)
		return InvalidXLogRecPtr;
	res = walrcv_exec(conn, "SELECT pg_catalog.pg_current_wal_lsn()::text", 1, types);
	value = result_first_text(res);
	if (value)
	{
		bool		bad = false;

		lsn = pg_lsn_in_internal(value, &bad);
		if (bad)
			lsn = InvalidXLogRecPtr;
	}
	walrcv_clear_result(res);
	walrcv_disconnect(conn);
	return lsn;
}

/*
 * In the apply worker, before a merge takes the merge lock: the edge's WAL
 * position, when the last measurement is ES_EDGE_MEASURE_MS old.  Before
 * the lock, so that a slow edge delays its own merge only.
 */
static void
measure_if_due(const char *edge)
{
	EsEdgeStat *e;
	TimestampTz now = GetCurrentTimestamp();
	bool		measure = false;
	XLogRecPtr	lsn;

	if (edges_shared == NULL || MySubscription == NULL ||
		MySubscription->conninfo == NULL)
		return;
	SpinLockAcquire(&edges_shared->mutex);
	e = edge_stat(edge, true);
	if (e != NULL &&
		(e->edge_lsn_at == 0 ||
		 TimestampDifferenceExceeds(e->edge_lsn_at, now, ES_EDGE_MEASURE_MS)))
	{
		e->edge_lsn_at = now;
		measure = true;
	}
	SpinLockRelease(&edges_shared->mutex);
	if (!measure)
		return;

	lsn = measure_edge_lsn(MySubscription->conninfo);
	if (lsn == InvalidXLogRecPtr)
		return;
	SpinLockAcquire(&edges_shared->mutex);
	e = edge_stat(edge, false);
	if (e != NULL)
		e->edge_lsn = lsn;
	SpinLockRelease(&edges_shared->mutex);
}

/* In the apply worker, after a merge: what /metrics shows of its edge. */
static void
note_merge(const char *edge, int64 merged, TimestampTz last)
{
	EsEdgeStat *e;

	if (edges_shared == NULL)
		return;
	SpinLockAcquire(&edges_shared->mutex);
	e = edge_stat(edge, true);
	if (e != NULL)
	{
		e->subid = MySubscription ? MySubscription->oid : InvalidOid;
		e->merged += merged;
		if (last > e->last_event)
			e->last_event = last;
		e->last_commit = replorigin_session_origin_timestamp;
		e->last_merge = GetCurrentTimestamp();
		if (replorigin_session_origin_lsn > e->applied_lsn)
			e->applied_lsn = replorigin_session_origin_lsn;
	}
	SpinLockRelease(&edges_shared->mutex);
}

/*
 * The attribute numbers of the events columns a merge reads, looked up by
 * name once per partition and transaction rather than for every column of
 * every replicated row (partitions made by create_day_partition's move
 * path may number their columns differently from the parent).  The apply
 * worker holds its lock on the partition until commit, so the numbers
 * cannot change under it; reset with the batch at transaction end.
 */
static const char *const event_columns[] = {
	"ts", "site_id", "visitor_id", "session_id", "name", "path",
	"referrer_host", "utm_source", "utm_medium", "utm_campaign", "seq",
	"scroll", "engaged_ms", "interactions", "viewport", "browser", "os",
	"device", "country", "region", "city", "latitude", "longitude", "props",
};
enum
{
	C_TS, C_SITE_ID, C_VISITOR_ID, C_SESSION_ID, C_NAME, C_PATH,
	C_REFERRER_HOST, C_UTM_SOURCE, C_UTM_MEDIUM, C_UTM_CAMPAIGN, C_SEQ,
	C_SCROLL, C_ENGAGED_MS, C_INTERACTIONS, C_VIEWPORT, C_BROWSER, C_OS,
	C_DEVICE, C_COUNTRY, C_REGION, C_CITY, C_LATITUDE, C_LONGITUDE, C_PROPS,
	C_COUNT
};
static Oid	columns_relid = InvalidOid;
static int	columns[C_COUNT];

static void
edges_xact_callback(XactEvent event, void *arg)
{
	/* The batch lives in TopTransactionContext: gone with it. */
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
	{
		pending = NULL;
		flushing = false;
		columns_relid = InvalidOid;
	}
}

static void
resolve_columns(Relation rel)
{
	if (RelationGetRelid(rel) == columns_relid)
		return;
	for (int c = 0; c < C_COUNT; c++)
	{
		columns[c] = SPI_fnumber(RelationGetDescr(rel), event_columns[c]);
		if (columns[c] <= 0)
			elog(ERROR, "edgestat: edgestat.events has no column \"%s\"",
				 event_columns[c]);
	}
	columns_relid = RelationGetRelid(rel);
}

static Datum
attr(HeapTuple tup, TupleDesc desc, int c, bool *isnull)
{
	return heap_getattr(tup, columns[c], desc, isnull);
}

/* A text column as a string in cxt, or NULL. */
static char *
text_attr(HeapTuple tup, TupleDesc desc, int c, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = attr(tup, desc, c, &isnull);
	MemoryContext old;
	char	   *str;

	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	str = TextDatumGetCString(d);
	MemoryContextSwitchTo(old);
	return str;
}

static EsEventKind
kind_of(const char *name)
{
	if (strcmp(name, "pageview") == 0)
		return ES_EVENT_PAGEVIEW;
	if (strcmp(name, "heartbeat") == 0)
		return ES_EVENT_HEARTBEAT;
	if (strcmp(name, "scroll") == 0)
		return ES_EVENT_SCROLL;
	if (strcmp(name, "interaction") == 0)
		return ES_EVENT_INTERACTION;
	if (strcmp(name, "leave") == 0)
		return ES_EVENT_LEAVE;
	return ES_EVENT_CUSTOM;
}

/* One replicated events row, as the pipeline would have enriched it. */
static void
collect_row(EsBatch *batch, HeapTuple tup, TupleDesc desc)
{
	MemoryContext cxt = batch->cxt;
	EsEventRow *row;
	EsGeo	   *geo;
	bool		isnull;
	Datum		d;

	if (batch->nrows >= batch->maxrows)
	{
		batch->maxrows = Max(64, batch->maxrows * 2);
		if (batch->rows == NULL)
			batch->rows = MemoryContextAlloc(cxt, batch->maxrows * sizeof(EsEventRow));
		else
			batch->rows = repalloc(batch->rows, batch->maxrows * sizeof(EsEventRow));
	}
	row = &batch->rows[batch->nrows];
	memset(row, 0, sizeof(*row));

	row->ts = DatumGetTimestampTz(attr(tup, desc, C_TS, &isnull));
	row->site_id = DatumGetInt32(attr(tup, desc, C_SITE_ID, &isnull));
	row->domain = "";
	memcpy(row->visitor.data,
		   DatumGetUUIDP(attr(tup, desc, C_VISITOR_ID, &isnull))->data, 16);
	memcpy(row->session.data,
		   DatumGetUUIDP(attr(tup, desc, C_SESSION_ID, &isnull))->data, 16);
	row->name = text_attr(tup, desc, C_NAME, cxt);
	row->kind = kind_of(row->name);
	row->path = text_attr(tup, desc, C_PATH, cxt);
	row->referrer_host = text_attr(tup, desc, C_REFERRER_HOST, cxt);
	row->utm_source = text_attr(tup, desc, C_UTM_SOURCE, cxt);
	row->utm_medium = text_attr(tup, desc, C_UTM_MEDIUM, cxt);
	row->utm_campaign = text_attr(tup, desc, C_UTM_CAMPAIGN, cxt);

	d = attr(tup, desc, C_SEQ, &isnull);
	row->has_seq = !isnull;
	row->seq = isnull ? 0 : DatumGetInt32(d);
	d = attr(tup, desc, C_SCROLL, &isnull);
	row->has_scroll = !isnull;
	row->scroll = isnull ? 0 : DatumGetInt16(d);
	d = attr(tup, desc, C_ENGAGED_MS, &isnull);
	row->has_engaged = !isnull;
	row->engaged_ms = isnull ? 0 : DatumGetInt64(d);
	d = attr(tup, desc, C_INTERACTIONS, &isnull);
	row->has_interactions = !isnull;
	row->interactions = isnull ? 0 : DatumGetInt64(d);
	d = attr(tup, desc, C_VIEWPORT, &isnull);
	row->has_width = !isnull;
	row->viewport = isnull ? 0 : DatumGetInt32(d);

	row->browser = text_attr(tup, desc, C_BROWSER, cxt);
	row->os = text_attr(tup, desc, C_OS, cxt);
	row->device = text_attr(tup, desc, C_DEVICE, cxt);

	/*
	 * The edge stored its lookup's fields, empty ones as NULL: a row with
	 * any of them was a found lookup.
	 */
	geo = MemoryContextAllocZero(cxt, sizeof(EsGeo));
	{
		char	   *country = text_attr(tup, desc, C_COUNTRY, cxt);
		char	   *region = text_attr(tup, desc, C_REGION, cxt);
		char	   *city = text_attr(tup, desc, C_CITY, cxt);
		Datum		lat = attr(tup, desc, C_LATITUDE, &isnull);

		if (!isnull)
		{
			bool		lonnull;
			Datum		lon = attr(tup, desc, C_LONGITUDE, &lonnull);

			geo->has_location = !lonnull;
			geo->latitude = DatumGetFloat8(lat);
			geo->longitude = lonnull ? 0 : DatumGetFloat8(lon);
		}
		if (country)
			strlcpy(geo->country, country, sizeof(geo->country));
		if (region)
			strlcpy(geo->region, region, sizeof(geo->region));
		if (city)
			strlcpy(geo->city, city, sizeof(geo->city));
		geo->found = country || region || city || geo->has_location;
	}
	row->geo = geo->found ? geo : NULL;

	d = attr(tup, desc, C_PROPS, &isnull);
	if (!isnull)
		row->props = MemoryContextStrdup(cxt,
										 JsonbToCString(NULL,
														&DatumGetJsonbP(d)->root,
														VARSIZE(DatumGetPointer(d))));
	batch->nrows++;
}

PG_FUNCTION_INFO_V1(edgestat_edge_collect);

/*
 * BEFORE INSERT FOR EACH ROW on edgestat.events (ENABLE ALWAYS): in the
 * apply worker, takes the row for the merge at commit; anywhere else, or
 * for the merge's own insert, lets the row through.
 */
Datum
edgestat_edge_collect(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edgestat.edge_collect() must be a BEFORE INSERT row trigger")));

	if (!IsLogicalWorker() || flushing)
		return PointerGetDatum(td->tg_trigtuple);

	if (!callback_registered)
	{
		RegisterXactCallback(edges_xact_callback, NULL);
		callback_registered = true;
	}
	if (pending == NULL)
	{
		int			rc;

		pending = es_batch_create(TopTransactionContext);
		/* the marker whose deferred trigger merges at commit */
		SPI_connect();
		rc = SPI_execute("INSERT INTO edgestat.edge_flush DEFAULT VALUES",
						 false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "edgestat: could not queue the edge merge: %s",
				 SPI_result_code_string(rc));
		SPI_finish();
	}
	resolve_columns(td->tg_relation);
	collect_row(pending, td->tg_trigtuple, RelationGetDescr(td->tg_relation));
	return PointerGetDatum(NULL);
}

/* The subscription's edge: subscriptions are named edgestat_<edge>. */
static const char *
current_edge(void)
{
	if (MySubscription && strncmp(MySubscription->name, "edgestat_", 9) == 0)
		return MySubscription->name + 9;
	return MySubscription ? MySubscription->name : "";
}

static const char *const dedup_sql =
"WITH k AS MATERIALIZED ("
"  SELECT u.i, pg_catalog.md5(pg_catalog.concat_ws(';', u.s, u.v, u.se, u.n, u.p, u.q))::uuid AS key, u.t"
"  FROM ROWS FROM (pg_catalog.unnest($1::int[]), pg_catalog.unnest($2::uuid[]),"
"                  pg_catalog.unnest($3::uuid[]), pg_catalog.unnest($4::text[]),"
"                  pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::int[]),"
"                  pg_catalog.unnest($7::timestamptz[]))"
"       WITH ORDINALITY AS u(s, v, se, n, p, q, t, i)"
"), dup AS MATERIALIZED ("
"  SELECT k.i FROM k JOIN edgestat.edge_dedup d ON d.key = k.key"
"  WHERE d.key = ANY (ARRAY(SELECT k.key FROM k))"
"    AND d.edge <> $8 AND k.t >= d.ts - $9 AND k.t <= d.ts + $9"
"), ins AS ("
"  INSERT INTO edgestat.edge_dedup AS d (key, edge, ts)"
"  SELECT DISTINCT ON (k.key) k.key, $8, k.t FROM k"
"  WHERE k.i NOT IN (SELECT i FROM dup) ORDER BY k.key, k.t DESC"
"  ON CONFLICT (key) DO UPDATE SET edge = excluded.edge, ts = excluded.ts"
") SELECT i::int FROM dup";
static SPIPlanPtr dedup_plan = NULL;

static Datum
build_array(Datum *values, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, type,
											  typlen, typbyval, typalign));
}

/*
 * Drops from the batch the events another edge delivered already within
 * the duplicate window.  Key: (site, visitor, session, name, path, seq),
 * what the event table keeps of the edge's own dedup key.  The keys probe
 * edge_dedup's primary key as one array: a join on them alone was planned
 * (once, generically, for the life of the apply worker) as a hash join
 * over the whole table, a scan per merge that grew with every event
 * merged -- 60 % of the merge's time after 20,000 events.
 */
static void
drop_duplicates(EsBatch *batch, const char *edge)
{
	int			n = batch->nrows;
	Datum	   *cols[7];
	bool	   *nulls[7];
	Datum		params[9];
	char		pnulls[9];
	static const Oid elem[7] = {INT4OID, UUIDOID, UUIDOID, TEXTOID, TEXTOID,
	INT4OID, TIMESTAMPTZOID};
	bool	   *drop;
	int			rc;
	int			kept;

	for (int c = 0; c < 7; c++)
	{
		cols[c] = palloc(sizeof(Datum) * n);
		nulls[c] = palloc0(sizeof(bool) * n);
	}
	for (int i = 0; i < n; i++)
	{
		EsEventRow *r = &batch->rows[i];

		cols[0][i] = Int32GetDatum(r->site_id);
		cols[1][i] = UUIDPGetDatum(&r->visitor);
		cols[2][i] = UUIDPGetDatum(&r->session);
		cols[3][i] = CStringGetTextDatum(r->name);
		cols[4][i] = CStringGetTextDatum(r->path);
		cols[5][i] = Int32GetDatum(r->seq);
		nulls[5][i] = !r->has_seq;
		cols[6][i] = TimestampTzGetDatum(r->ts);
	}
	for (int c = 0; c < 7; c++)
		params[c] = build_array(cols[c], nulls[c], n, elem[c]);
	params[7] = CStringGetTextDatum(edge);
	params[8] = DirectFunctionCall3(interval_in,
									CStringGetDatum(GetConfigOption("edgestat.dedup_window",
																	   false, false)),
									ObjectIdGetDatum(InvalidOid),
									Int32GetDatum(-1));
	memset(pnulls, ' ', sizeof(pnulls));

	if (dedup_plan == NULL)
	{
		Oid			types[9] = {INT4ARRAYOID, UUIDARRAYOID, UUIDARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID,
		TEXTOID, INTERVALOID};
		SPIPlanPtr	plan = SPI_prepare(dedup_sql, 9, types);

		if (plan == NULL)
			elog(ERROR, "edgestat: could not prepare the edge dedup: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		dedup_plan = plan;
	}
	rc = SPI_execute_plan(dedup_plan, params, pnulls, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "edgestat: edge dedup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return;

	drop = palloc0(sizeof(bool) * n);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int			i = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r],
													SPI_tuptable->tupdesc, 1, &isnull));

		drop[i - 1] = true;
	}
	kept = 0;
	for (int i = 0; i < n; i++)
	{
		if (!drop[i])
			batch->rows[kept++] = batch->rows[i];
	}
	batch->nrows = kept;
}

/* The domain of a site, or NULL; in an SPI connection. */
static const char *
site_domain(int32 site_id)
{
	if (!site_names_valid)
	{
		static bool callback_done = false;
		int			rc;

		if (!callback_done)
		{
			CacheRegisterRelcacheCallback(site_names_invalidate, (Datum) 0);
			callback_done = true;
		}
		if (site_names_cxt == NULL)
			site_names_cxt = AllocSetContextCreate(CacheMemoryContext,
												   "edgestat edge site names",
												   ALLOCSET_SMALL_SIZES);
		MemoryContextReset(site_names_cxt);
		site_names = NULL;
		nsite_names = 0;
		sites_relid = get_relname_relid("sites", get_namespace_oid("edgestat", false));
		/* valid from here: a change while reading invalidates this load */
		site_names_valid = true;
		rc = SPI_execute("SELECT site_id, domain FROM edgestat.sites", true, 0);
		if (rc != SPI_OK_SELECT)
		{
			site_names_valid = false;
			return NULL;
		}
		site_names = MemoryContextAlloc(site_names_cxt,
										sizeof(SiteName) * Max(SPI_processed, 1));
		for (uint64 s = 0; s < SPI_processed; s++)
		{
			bool		isnull;

			site_names[s].id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[s],
														   SPI_tuptable->tupdesc, 1, &isnull));
			site_names[s].domain = MemoryContextStrdup(site_names_cxt,
													   SPI_getvalue(SPI_tuptable->vals[s],
																	SPI_tuptable->tupdesc, 2));
		}
		nsite_names = (int) SPI_processed;
	}
	for (int s = 0; s < nsite_names; s++)
		if (site_names[s].id == site_id)
			return site_names[s].domain;
	return NULL;
}

PG_FUNCTION_INFO_V1(edgestat_edge_flush);

/*
 * Deferred AFTER INSERT constraint trigger on edgestat.edge_flush (ENABLE
 * ALWAYS): at commit of a replicated transaction, merges what
 * edge_collect took.
 */
Datum
edgestat_edge_flush(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	EsBatch    *batch = pending;
	const char *edge;
	MemoryContext old;
	TimestampTz last = 0;
	int64		merged;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("edgestat.edge_flush() must be an AFTER trigger")));
	if (batch == NULL)
		return PointerGetDatum(NULL);

	pending = NULL;
	edge = current_edge();
	old = MemoryContextSwitchTo(batch->cxt);

	measure_if_due(edge);
	DirectFunctionCall2(pg_advisory_xact_lock_int4,
						Int32GetDatum(1701078131), Int32GetDatum(14));

	SPI_connect();
	/* the NOTIFY payload names the site's domain */
	for (int i = 0; i < batch->nrows; i++)
	{
		EsEventRow *r = &batch->rows[i];
		const char *domain = site_domain(r->site_id);

		if (domain)
			r->domain = MemoryContextStrdup(batch->cxt, domain);
	}

	drop_duplicates(batch, edge);
	for (int i = 0; i < batch->nrows; i++)
		last = Max(last, batch->rows[i].ts);
	merged = batch->nrows;

	/* Rare pruning of keys far past any duplicate window. */
	if ((++flushes & 255) == 0)
		SPI_execute("DELETE FROM edgestat.edge_dedup WHERE ts < pg_catalog.now() - interval '1 day'",
					false, 0);

	/*
	 * edge_nodes once a second at most: an update per merge costs the
	 * merge a row version, and /metrics and edges() read the exact figures
	 * from shared memory meanwhile.
	 */
	unrecorded_events += merged;
	if (last > unrecorded_last)
		unrecorded_last = last;
	if (TimestampDifferenceExceeds(nodes_updated, GetCurrentTimestamp(), 1000))
	{
		Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, INT8OID};
		Datum		vals[3] = {CStringGetTextDatum(edge),
			TimestampTzGetDatum(unrecorded_last),
		Int64GetDatum(unrecorded_events)};
		char		nulls[3] = {' ', unrecorded_last != 0 ? ' ' : 'n', ' '};

		SPI_execute_with_args("UPDATE edgestat.edge_nodes SET"
							  " last_event = GREATEST(last_event, $2),"
							  " events = events + $3"
							  " WHERE name = $1",
							  3, types, vals, nulls, false, 0);
		nodes_updated = GetCurrentTimestamp();
		unrecorded_events = 0;
		unrecorded_last = 0;
	}

	/* the markers are done with: now and then, not a delete per merge */
	if ((flushes & 63) == 0)
		SPI_execute("DELETE FROM edgestat.edge_flush", false, 0);
	SPI_finish();

	flushing = true;
	PG_TRY();
	{
		es_batch_write(batch);
	}
	PG_FINALLY();
	{
		flushing = false;
	}
	PG_END_TRY();

	note_merge(edge, merged, last);

	MemoryContextSwitchTo(old);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(edgestat_edge_remote);

/*
 * edge_remote(conninfo text, query text) RETURNS text: runs one statement
 * on another node over a replication=database connection (the kind a
 * subscription opens, with the role it would use), returning the first
 * column of the first row as text, or NULL.  Errors of the remote side are
 * raised here with their message.
 */
Datum
edgestat_edge_remote(PG_FUNCTION_ARGS)
{
	char	   *conninfo = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(1));
	WalReceiverConn *conn;
	WalRcvExecResult *res;
	char	   *err = NULL;
	Oid			types[1] = {TEXTOID};
	char	   *value;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may reach edges")));

	load_file("libpqwalreceiver", false);
	conn = walrcv_connect(conninfo, true, "edgestat", &err);
	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to the edge: %s", err ? err : "")));

	res = walrcv_exec(conn, query, 1, types);
	if (res->status == WALRCV_ERROR)
	{
		char	   *msg = pstrdup(res->err ? res->err : "");

		walrcv_disconnect(conn);
		ereport(ERROR,
				(errcode(res->sqlstate ? res->sqlstate : ERRCODE_CONNECTION_EXCEPTION),
				 errmsg("the edge refused: %s", msg),
				 errdetail("Statement: %s", query)));
	}
	value = result_first_text(res);
	walrcv_clear_result(res);
	walrcv_disconnect(conn);

	if (value == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(value));
}

PG_FUNCTION_INFO_V1(edgestat_edge_metrics_sync);

/*
 * edge_metrics_sync() RETURNS void: makes the edges /metrics shows those
 * of edgestat.edge_nodes (attach, detach, edges() and each retention round
 * call it; after a restart the apply workers' first merges add theirs).
 */
Datum
edgestat_edge_metrics_sync(PG_FUNCTION_ARGS)
{
	int			rc;
	int			n;
	struct
	{
		char		name[NAMEDATALEN];
		Oid			subid;
		bool		enabled;
		bool		slot_left;
	}		   *rows;

	if (edges_shared == NULL)
		PG_RETURN_VOID();

	SPI_connect();
	rc = SPI_execute("SELECT e.name, s.oid, coalesce(s.subenabled, false), e.slot_left"
					 " FROM edgestat.edge_nodes e"
					 " LEFT JOIN pg_catalog.pg_subscription s"
					 "  ON s.subname = 'edgestat_' || e.name"
					 "  AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database"
					 "                   WHERE datname = pg_catalog.current_database())",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "edgestat: could not read the edges: %s",
			 SPI_result_code_string(rc));
	n = (int) SPI_processed;
	rows = palloc0(sizeof(*rows) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		strlcpy(rows[i].name, SPI_getvalue(tup, desc, 1), NAMEDATALEN);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		rows[i].subid = isnull ? InvalidOid : DatumGetObjectId(d);
		rows[i].enabled = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		rows[i].slot_left = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	}
	SPI_finish();

	SpinLockAcquire(&edges_shared->mutex);
	for (int j = 0; j < ES_MAX_EDGES; j++)
	{
		EsEdgeStat *e = &edges_shared->edges[j];
		bool		keep = false;

		for (int i = 0; i < n && e->used && !keep; i++)
			keep = strcmp(e->name, rows[i].name) == 0;
		if (e->used && !keep)
			e->used = false;
	}
	for (int i = 0; i < n; i++)
	{
		EsEdgeStat *e = edge_stat(rows[i].name, true);

		if (e == NULL)
			break;				/* more edges than /metrics has room for */
		if (e->subid != rows[i].subid)
		{
			/* a new subscription: what was merged under the old one is gone */
			e->merged = 0;
			e->applied_lsn = InvalidXLogRecPtr;
			e->edge_lsn = InvalidXLogRecPtr;
			e->edge_lsn_at = 0;
		}
		e->subid = rows[i].subid;
		e->enabled = rows[i].enabled;
		e->slot_left = rows[i].slot_left;
	}
	SpinLockRelease(&edges_shared->mutex);
	PG_RETURN_VOID();
}

static void
append_seconds(StringInfo buf, const char *metric, const char *edge,
			   TimestampTz from, TimestampTz to)
{
	if (from == 0 || to == 0)
		return;
	appendStringInfo(buf, "%s{edge=\"%s\"} %.3f\n", metric, edge,
					 (double) (to - from) / USECS_PER_SEC);
}

/*
 * The per-edge gauges.  Reads this module's shared memory and the apply
 * workers' slots (LogicalRepWorkerLock, held for a copy), nothing else.
 */
void
es_edges_format_metrics(StringInfo buf)
{
	EsEdgeStat	copy[ES_MAX_EDGES];
	TimestampTz recv[ES_MAX_EDGES];
	XLogRecPtr	reply[ES_MAX_EDGES];
	bool		running[ES_MAX_EDGES];
	const char *state[ES_MAX_EDGES];
	int			n = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (edges_shared == NULL)
		return;
	SpinLockAcquire(&edges_shared->mutex);
	for (int i = 0; i < ES_MAX_EDGES; i++)
		if (edges_shared->edges[i].used)
			copy[n++] = edges_shared->edges[i];
	SpinLockRelease(&edges_shared->mutex);
	if (n == 0)
		return;

	LWLockAcquire(LogicalRepWorkerLock, LW_SHARED);
	for (int i = 0; i < n; i++)
	{
		LogicalRepWorker *w = OidIsValid(copy[i].subid) ?
		logicalrep_worker_find(copy[i].subid, InvalidOid, true) : NULL;

		running[i] = w != NULL;
		recv[i] = w ? w->last_recv_time : 0;
		reply[i] = w ? w->reply_lsn : InvalidXLogRecPtr;
	}
	LWLockRelease(LogicalRepWorkerLock);

	for (int i = 0; i < n; i++)
	{
		EsEdgeStat *e = &copy[i];

		if (e->slot_left)
			state[i] = "detached, slot left on edge";
		else if (!OidIsValid(e->subid))
			state[i] = "no subscription";
		else if (!e->enabled)
			state[i] = "disabled";
		else if (!running[i])
			state[i] = "down";
		else if (recv[i] == 0 ||
				 (wal_receiver_timeout > 0 &&
				  TimestampDifferenceExceeds(recv[i], now, wal_receiver_timeout)))
			state[i] = "connecting";
		else
			state[i] = "streaming";
	}

	appendStringInfoString(buf,
						   "# HELP edgestat_edge_up 1 while the edge streams to this center.\n"
						   "# TYPE edgestat_edge_up gauge\n");
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "edgestat_edge_up{edge=\"%s\"} %d\n", copy[i].name,
						 strcmp(state[i], "streaming") == 0);
	appendStringInfoString(buf,
						   "# HELP edgestat_edge_state The edge's state, as edgestat.edges() names it.\n"
						   "# TYPE edgestat_edge_state gauge\n");
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "edgestat_edge_state{edge=\"%s\",state=\"%s\"} 1\n",
						 copy[i].name, state[i]);
	appendStringInfoString(buf,
						   "# HELP edgestat_edge_lag_bytes The edge's WAL, as last measured, that the center has not received.\n"
						   "# TYPE edgestat_edge_lag_bytes gauge\n");
	for (int i = 0; i < n; i++)
	{
		XLogRecPtr	got = Max(copy[i].applied_lsn, reply[i]);

		if (copy[i].edge_lsn == InvalidXLogRecPtr)
			continue;
		appendStringInfo(buf, "edgestat_edge_lag_bytes{edge=\"%s\"} " UINT64_FORMAT "\n",
						 copy[i].name,
						 (uint64) (copy[i].edge_lsn > got ? copy[i].edge_lsn - got : 0));
	}
	appendStringInfoString(buf,
						   "# HELP edgestat_edge_last_event_seconds Seconds since the newest event merged from the edge.\n"
						   "# TYPE edgestat_edge_last_event_seconds gauge\n");
	for (int i = 0; i < n; i++)
		append_seconds(buf, "edgestat_edge_last_event_seconds", copy[i].name,
					   copy[i].last_event, now);
	appendStringInfoString(buf,
						   "# HELP edgestat_edge_last_message_seconds Seconds since the center last heard from the edge.\n"
						   "# TYPE edgestat_edge_last_message_seconds gauge\n");
	for (int i = 0; i < n; i++)
		append_seconds(buf, "edgestat_edge_last_message_seconds", copy[i].name,
					   recv[i], now);
	appendStringInfoString(buf,
						   "# HELP edgestat_edge_apply_delay_seconds From the edge's commit to the center's merge, for the last merged transaction.\n"
						   "# TYPE edgestat_edge_apply_delay_seconds gauge\n");
	for (int i = 0; i < n; i++)
		append_seconds(buf, "edgestat_edge_apply_delay_seconds", copy[i].name,
					   copy[i].last_commit, copy[i].last_merge);
	appendStringInfoString(buf,
						   "# HELP edgestat_edge_merged_events_total Events merged from the edge since this center started.\n"
						   "# TYPE edgestat_edge_merged_events_total counter\n");
	for (int i = 0; i < n; i++)
		appendStringInfo(buf, "edgestat_edge_merged_events_total{edge=\"%s\"} " UINT64_FORMAT "\n",
						 copy[i].name, copy[i].merged);
}

PG_FUNCTION_INFO_V1(edgestat_edge_last_event);

/*
 * edge_last_event(name text) RETURNS timestamptz: the newest event merged
 * from the edge since this center started, or NULL; edge_nodes has it to
 * the second (the merge writes it once a second).
 */
Datum
edgestat_edge_last_event(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz last = 0;
	EsEdgeStat *e;

	if (edges_shared == NULL)
		PG_RETURN_NULL();
	SpinLockAcquire(&edges_shared->mutex);
	e = edge_stat(name, false);
	if (e != NULL)
		last = e->last_event;
	SpinLockRelease(&edges_shared->mutex);
	if (last == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(last);
}
