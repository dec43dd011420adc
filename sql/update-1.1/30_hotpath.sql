-- The hot path: an ingest batch stores events, sessions, visitors and the
-- rollup counters, and nothing else.  Sealing hours (building the
-- breakdowns' visitor sketches) moves from the events trigger to the
-- maintenance worker (src/maintenance.c), which calls seal_rollups() every
-- edgestat.maintenance_interval for the hours that ended more than two
-- hours ago; so do partitions and retention, which the writer ran before
-- its first batch of each day.  Reports are unchanged: an hour not sealed
-- yet is read from its raw rows, as an open hour always was.
CREATE OR REPLACE FUNCTION edgestat.rollup_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, edgestat, pg_temp
SET enable_hashagg = off AS $$
BEGIN
	WITH n AS MATERIALIZED (
		SELECT site_id, date_trunc('hour', ts, 'UTC') AS hour,
			   hll_hash_any(visitor_id) AS vh, name, path
		FROM new_events
	), tot AS (
		INSERT INTO edgestat.rollup_hourly AS r (site_id, hour, visitors, pageviews, events)
		SELECT site_id, hour, hll_add_agg(vh, 14, 5, -1, 1),
			   count(*) FILTER (WHERE name = 'pageview'), count(*)
		FROM n GROUP BY site_id, hour ORDER BY site_id, hour
		ON CONFLICT (site_id, hour) DO UPDATE SET
			visitors = hll_union(r.visitors, excluded.visitors),
			pageviews = r.pageviews + excluded.pageviews,
			events = r.events + excluded.events
	), d AS MATERIALIZED (
		-- counters only: the sketches are built when the hour is sealed
		SELECT n.site_id, x.dim, n.hour, x.value,
			   count(*) FILTER (WHERE n.name = 'pageview') AS pageviews,
			   count(*) AS events
		FROM n, LATERAL (VALUES ('page', n.path), ('event', n.name)) AS x(dim, value)
		GROUP BY n.site_id, x.dim, n.hour, x.value
	), h AS (
		INSERT INTO edgestat.rollup_dims_hourly AS r (site_id, dim, hour, value, pageviews, events)
		SELECT site_id, dim, hour, value, pageviews, events
		FROM d ORDER BY site_id, dim, hour, value
		ON CONFLICT (site_id, dim, hour, value) DO UPDATE SET
			pageviews = r.pageviews + excluded.pageviews,
			events = r.events + excluded.events
	), o AS (
		INSERT INTO edgestat.rollup_open (site_id, hour)
		SELECT DISTINCT site_id, hour FROM n ORDER BY 1, 2
		ON CONFLICT DO NOTHING
	)
	INSERT INTO edgestat.rollup_dims_daily AS r (site_id, dim, day, value, pageviews, events)
	SELECT site_id, dim, date_trunc('day', hour, 'UTC'), value, sum(pageviews), sum(events)
	FROM d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
	ON CONFLICT (site_id, dim, day, value) DO UPDATE SET
		pageviews = r.pageviews + excluded.pageviews,
		events = r.events + excluded.events;
	RETURN NULL;
END
$$;

-- CREATE OR REPLACE took the function's settings from its SET clause:
-- hll's schema goes back on its search_path, as 1.0 put it there.
DO $do$
DECLARE
	hll_schema name;
BEGIN
	SELECT n.nspname INTO STRICT hll_schema
	FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
	WHERE e.extname = 'hll';
	IF hll_schema NOT IN ('pg_catalog', 'edgestat') THEN
		EXECUTE format('ALTER FUNCTION edgestat.rollup_events() SET search_path = pg_catalog, edgestat, %I, pg_temp',
					   hll_schema);
	END IF;
END
$do$;
