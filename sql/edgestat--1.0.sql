-- edgestat 1.0: tables.  Written to from C (src/writer.c) in one statement
-- per batch; no foreign keys on the hot tables, since each would cost a
-- query per inserted row.

\echo Use "CREATE EXTENSION edgestat" to load this file. \quit

CREATE TABLE edgestat.sites (
	site_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	domain text NOT NULL UNIQUE
		CHECK (domain = lower(domain) AND domain ~ '^[a-z0-9]([a-z0-9.:-]{0,251}[a-z0-9])?$'),
	allowed_origins text[] NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE edgestat.sites IS 'registered sites; beacons for other domains are refused (403)';

-- Raw events, one partition per UTC day so that retention drops whole
-- partitions.  The client address is never stored.
CREATE TABLE edgestat.events (
	ts timestamptz NOT NULL,
	site_id int NOT NULL,
	visitor_id uuid NOT NULL,
	session_id uuid NOT NULL,
	name text NOT NULL,
	path text NOT NULL,
	referrer_host text,
	utm_source text,
	utm_medium text,
	utm_campaign text,
	seq int,
	scroll smallint,
	engaged_ms bigint,
	interactions bigint,
	viewport int,
	country text,
	region text,
	city text,
	latitude double precision,
	longitude double precision,
	browser text,
	os text,
	device text,
	props jsonb
) PARTITION BY RANGE (ts);
CREATE INDEX events_site_ts ON edgestat.events (site_id, ts);
CREATE TABLE edgestat.events_default PARTITION OF edgestat.events DEFAULT;
COMMENT ON TABLE edgestat.events IS 'raw events, partitioned by UTC day';

-- Sessions and visitors are updated in place by every batch: room on each
-- page (fillfactor) and no index on a column that changes keep those
-- updates HOT, with no index entry to write.  Who was seen lately comes
-- from shared memory (edgestat.live_visitor_ids), not from an index on
-- last_seen.
--
-- One row per session, merged on every batch: maxima only grow, counters
-- add each accepted event once.  grown_* carry how much the last merge
-- raised the session-cumulative et and ic, so that the same statement can
-- add exactly that growth to the visitor, whatever order beacons come in.
CREATE TABLE edgestat.sessions (
	site_id int NOT NULL,
	session_id uuid NOT NULL,
	visitor_id uuid NOT NULL,
	started_at timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	entry_page text NOT NULL,
	exit_page text NOT NULL,
	referrer_host text,
	utm_source text,
	utm_medium text,
	utm_campaign text,
	country text,
	region text,
	city text,
	browser text,
	os text,
	device text,
	events int NOT NULL DEFAULT 0,
	pageviews int NOT NULL DEFAULT 0,
	heartbeats int NOT NULL DEFAULT 0,
	goals int NOT NULL DEFAULT 0,
	max_scroll smallint NOT NULL DEFAULT 0,
	engaged_ms bigint NOT NULL DEFAULT 0,
	interactions bigint NOT NULL DEFAULT 0,
	grown_engaged_ms bigint NOT NULL DEFAULT 0,
	grown_interactions bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, session_id)
) WITH (fillfactor = 70);
CREATE INDEX sessions_site_started ON edgestat.sessions (site_id, started_at);

CREATE TABLE edgestat.visitors (
	site_id int NOT NULL,
	visitor_id uuid NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	sessions int NOT NULL DEFAULT 0,
	events bigint NOT NULL DEFAULT 0,
	pageviews int NOT NULL DEFAULT 0,
	heartbeats int NOT NULL DEFAULT 0,
	goals int NOT NULL DEFAULT 0,
	max_scroll smallint NOT NULL DEFAULT 0,
	engaged_ms bigint NOT NULL DEFAULT 0,
	interactions bigint NOT NULL DEFAULT 0,
	score smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
	country text,
	region text,
	city text,
	latitude double precision,
	longitude double precision,
	PRIMARY KEY (site_id, visitor_id)
) WITH (fillfactor = 70);

-- The value score's logistic model: score = 100 / (1 + exp(-(bias + sum
-- weight * feature))).  Defaults and their reasons are in the README.
CREATE TABLE edgestat.score_weights (
	feature text PRIMARY KEY
		CHECK (feature IN ('bias', 'pageviews', 'heartbeats', 'scroll',
						   'interactions', 'engaged', 'sessions', 'goals')),
	weight double precision NOT NULL CHECK (weight = weight AND abs(weight) < 1e6)
);
INSERT INTO edgestat.score_weights VALUES
	('bias', -3.0), ('pageviews', 0.6), ('heartbeats', 0.35),
	('scroll', 1.2), ('interactions', 0.5), ('engaged', 0.45),
	('sessions', 0.7), ('goals', 1.5);

SELECT pg_catalog.pg_extension_config_dump('edgestat.sites', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.score_weights', '');
-- edgestat 1.0: the SQL interface of SPEC section 4 that is not reports:
-- sites, ingest, live counts, counters, the score function.
--
-- Privileges: nothing here is granted to PUBLIC.  A role that only reads
-- reports gets USAGE on the schema and EXECUTE on the report functions;
-- it cannot write events.  A role that ingests from SQL gets EXECUTE on
-- edgestat.ingest, which runs as the extension's owner.

CREATE FUNCTION edgestat.add_site(domain text, allowed_origins text[] DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d text := lower(btrim(domain));
	o text;
	origins text[] := '{}';
	id int;
BEGIN
	IF d IS NULL OR d !~ '^[a-z0-9]([a-z0-9.:-]{0,251}[a-z0-9])?$' THEN
		RAISE EXCEPTION 'invalid site domain "%"', domain
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A domain is a host name such as example.com: letters, digits, dots and hyphens, at most 253 characters.';
	END IF;
	FOREACH o IN ARRAY coalesce(allowed_origins, '{}') LOOP
		o := lower(rtrim(btrim(o), '/'));
		IF o IS NULL OR o !~ '^https?://[a-z0-9.:\[\]-]+$' THEN
			RAISE EXCEPTION 'invalid allowed origin "%"', o
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'An origin is scheme://host[:port], such as https://www.example.org, without a path.';
		END IF;
		origins := origins || o;
	END LOOP;

	INSERT INTO edgestat.sites AS s (domain, allowed_origins)
	VALUES (d, origins)
	ON CONFLICT ON CONSTRAINT sites_domain_key DO UPDATE
		SET allowed_origins = CASE WHEN add_site.allowed_origins IS NULL
								   THEN s.allowed_origins
								   ELSE excluded.allowed_origins END
	RETURNING s.site_id INTO id;
	RETURN id;
END
$$;
COMMENT ON FUNCTION edgestat.add_site(text, text[]) IS
'registers a site (or updates its allowed origins) and returns its id';

CREATE FUNCTION edgestat.ingest(body text, client_ip inet DEFAULT NULL,
								user_agent text DEFAULT NULL)
RETURNS int
AS 'MODULE_PATHNAME', 'edgestat_ingest'
LANGUAGE C CALLED ON NULL INPUT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION edgestat.ingest(text, inet, text) IS
'runs one beacon body through the pipeline in this transaction; returns the events accepted';

CREATE FUNCTION edgestat.live_visitors(site text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'edgestat_live_visitors'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION edgestat.live_visitors(text) IS
'visitors of the site seen within edgestat.live_ttl, from shared memory';

CREATE FUNCTION edgestat.live_visitor_ids(site text, lim int DEFAULT 500,
										  OUT visitor_id uuid, OUT last_seen timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'edgestat_live_visitor_ids'
LANGUAGE C STRICT VOLATILE ROWS 100;
COMMENT ON FUNCTION edgestat.live_visitor_ids(text, int) IS
'the live visitors of the site (seen within edgestat.live_ttl), newest first, from shared memory';

CREATE FUNCTION edgestat.stats(OUT name text, OUT value bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'edgestat_stats'
LANGUAGE C STRICT VOLATILE ROWS 20;
COMMENT ON FUNCTION edgestat.stats() IS 'the pipeline''s counters since server start';

CREATE FUNCTION edgestat.value_score(pageviews bigint, heartbeats bigint,
									 max_scroll bigint, interactions bigint,
									 engaged_ms bigint, sessions bigint,
									 goals bigint)
RETURNS smallint
AS 'MODULE_PATHNAME', 'edgestat_value_score'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION edgestat.value_score(bigint, bigint, bigint, bigint, bigint, bigint, bigint) IS
'the engagement value score (0-100) of the given activity under edgestat.score_weights';

-- Changes to sites and weights reach the caches of every process
-- (the HTTP workers included) when they commit.
CREATE FUNCTION edgestat.invalidate_caches() RETURNS trigger
AS 'MODULE_PATHNAME', 'edgestat_invalidate_caches'
LANGUAGE C;
CREATE TRIGGER sites_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON edgestat.sites
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.invalidate_caches();
CREATE TRIGGER score_weights_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON edgestat.score_weights
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.invalidate_caches();

REVOKE ALL ON ALL TABLES IN SCHEMA edgestat FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edgestat.add_site(text, text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edgestat.ingest(text, inet, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edgestat.live_visitor_ids(text, int) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edgestat.value_score(bigint, bigint, bigint, bigint, bigint, bigint, bigint) FROM PUBLIC;
-- edgestat 1.0: reports.  Owns the rollup tables, the statement-level
-- triggers that maintain them at ingest, and the report functions
-- edgestat.summary(), edgestat.timeseries() and edgestat.breakdown().
--
-- Why rollups: a report over 30 days must not read 10 million raw events.
-- Every batch the writer commits (one INSERT ... ON CONFLICT statement into
-- events, sessions and visitors) fires one AFTER ... FOR EACH STATEMENT
-- trigger per table and event kind; each trigger folds the whole batch,
-- through its transition table, into a handful of aggregate upserts.  There
-- are no per-row triggers.
--
-- Granularity: one rollup row per UTC hour (and, for breakdowns, also per
-- UTC day so that a 30-day breakdown reads ~30 rows per value, not ~720).
-- A report over [since, until) therefore covers every whole UTC hour that
-- starts in [date_trunc('hour', since), until): both ends are widened to
-- whole hours.
--
-- Unique visitors are approximate: HyperLogLog sketches (extension hll),
-- log2m = 14, regwidth = 5: a relative standard error of 1.04/sqrt(2^14) =
-- 0.81 % (about 1.6 % at 2 sigma), and exact up to 1280 distinct visitors
-- per sketch (hll's "explicit" representation; every sketch of the
-- regression test is exact).  An exact distinct count over a month reads
-- every raw event of it: ~300 ms per 300K events (bench/reports/run).
--
-- Which rows count where:
--   visitors, pageviews, events     from events, by event hour;
--   visits, bounce_rate, views_per_visit, visit_duration
--                                   from sessions, by session start hour
--                                   (a bounce is a visit with exactly one
--                                   pageview; views_per_visit is the
--                                   sessions' pageviews over visits);
--   breakdown page, event           from events (visitors who sent an event
--                                   with that path/name, its pageviews and
--                                   events);
--   breakdown of the session attributes (entry_page, exit_page, referrer,
--   utm_*, country, region, city, browser, os, device)
--                                   from sessions started in the range:
--                                   their visitors, and the pageviews and
--                                   events those sessions have so far.
--
-- Session rows change after they are first written (their pageviews grow,
-- exit_page moves, a late earlier beacon moves started_at and entry_page, a
-- NULL attribute is filled in).  The UPDATE trigger therefore applies the
-- difference NEW - OLD to the counters, which stay exact.
--
-- Sketches are what costs at ingest: every hll_add_agg group allocates
-- and zeroes a full sketch (~128 kB), and a batch touches ~1000 breakdown
-- groups.  So the triggers keep only integer counters for the breakdowns,
-- and one visitor sketch per site and hour (rollup_hourly, for summary and
-- timeseries: one sketch group per batch).  The breakdowns' sketches are
-- built once per hour, when the hour is "sealed", two hours after it ended
-- (at most one hour per batch, by the batch that sees the clock pass; the
-- clock is the batch's newest event, i.e. ingest time): from the hour's raw
-- rows (events for page and event, the sessions that started in the hour
-- for the session attributes), then folded into the day.  Hours touched
-- since their seal are listed in rollup_open; a report reads days holding
-- open hours hour by hour, and computes the visitors of the open hours
-- themselves from their raw rows (normally the last 2-3 hours).
--
-- Because the sketches come from the rows as they are at the seal, a
-- session attribute that moves (exit page, a late earlier beacon moving
-- the entry page, a referrer filled in) counts its visitor under the new
-- value only.  A change after the hour was sealed reopens the hour, and its
-- reseal rebuilds the day's sketches of that hour's values from the day's
-- hours.  Raw rows dropped by retention before their hour was sealed leave
-- it without sketches (ingest seals every hour within ~2 hours; retention
-- keeps days).

-- ---------------------------------------------------------------------
-- Rollup tables.  They outlive the raw events (apply_retention() keeps
-- them), so they cannot be rebuilt and pg_dump must dump their rows:
-- pg_extension_config_dump below.
-- ---------------------------------------------------------------------

-- Per site and UTC hour.  Event columns (visitors, pageviews, events) by
-- event time, session columns (visits ...) by session start time.
CREATE TABLE edgestat.rollup_hourly (
	site_id int NOT NULL,
	hour timestamptz NOT NULL,
	visitors hll(14, 5, -1, 1) NOT NULL DEFAULT hll_empty(14, 5, -1, 1),
	pageviews bigint NOT NULL DEFAULT 0,
	events bigint NOT NULL DEFAULT 0,
	visits bigint NOT NULL DEFAULT 0,
	bounces bigint NOT NULL DEFAULT 0,
	visit_pageviews bigint NOT NULL DEFAULT 0,
	visit_duration_ms bigint NOT NULL DEFAULT 0,
	sealed bool NOT NULL DEFAULT false,	-- folded into the daily sketches once
	PRIMARY KEY (site_id, hour)
);
COMMENT ON TABLE edgestat.rollup_hourly IS
	'per site and UTC hour: visitor sketch, pageviews, events (by event time); visits, bounces, visit pageviews and duration (by session start)';

-- Per site, dimension, UTC hour (or day) and value.  NULL values (no
-- referrer, unknown country ...) are stored as '' so they can be part of
-- the key; reports turn '' back into NULL.
CREATE TABLE edgestat.rollup_dims_hourly (
	site_id int NOT NULL,
	dim text NOT NULL,
	hour timestamptz NOT NULL,
	value text NOT NULL,
	visitors hll(14, 5, -1, 1) NOT NULL DEFAULT hll_empty(14, 5, -1, 1),
	visits bigint NOT NULL DEFAULT 0,
	pageviews bigint NOT NULL DEFAULT 0,
	events bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, dim, hour, value)
);
COMMENT ON TABLE edgestat.rollup_dims_hourly IS
	'breakdown rollup per site, dimension, UTC hour and value ('''' = none)';

CREATE TABLE edgestat.rollup_dims_daily (
	site_id int NOT NULL,
	dim text NOT NULL,
	day timestamptz NOT NULL,
	value text NOT NULL,
	visitors hll(14, 5, -1, 1) NOT NULL DEFAULT hll_empty(14, 5, -1, 1),
	visits bigint NOT NULL DEFAULT 0,
	pageviews bigint NOT NULL DEFAULT 0,
	events bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, dim, day, value)
);
COMMENT ON TABLE edgestat.rollup_dims_daily IS
	'breakdown rollup per site, dimension, UTC day and value ('''' = none)';

-- (site, hour) whose sketches changed since the hour was last sealed
-- (every hour with data is listed until its first seal).
CREATE TABLE edgestat.rollup_open (
	site_id int NOT NULL,
	hour timestamptz NOT NULL,
	PRIMARY KEY (site_id, hour)
);
COMMENT ON TABLE edgestat.rollup_open IS
	'hours whose visitor sketches are not folded into the daily rollup yet (see seal_rollups())';

SELECT pg_catalog.pg_extension_config_dump('edgestat.rollup_hourly', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.rollup_dims_hourly', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.rollup_dims_daily', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.rollup_open', '');

REVOKE ALL ON edgestat.rollup_hourly, edgestat.rollup_dims_hourly,
	edgestat.rollup_dims_daily, edgestat.rollup_open FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Triggers.  Every upsert sorts its rows by key, so that concurrent batches
-- lock rollup rows in the same order and cannot deadlock each other.  The
-- only sketch they build is the events trigger's per (site, hour) one;
-- enable_hashagg is off where hll_add_agg runs (its per-group state is
-- large, so a hash aggregate over many groups spills to disk, while a sorted
-- group aggregate frees each state as it goes).  The
-- trigger functions are SECURITY DEFINER: whoever may insert events or
-- sessions (edgestat.ingest's caller, a role granted INSERT) keeps the
-- rollups right without privileges on them.
-- ---------------------------------------------------------------------

-- Events: hourly totals, and the event-scoped dimensions page and event.
CREATE FUNCTION edgestat.rollup_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, edgestat, pg_temp
SET enable_hashagg = off AS $$
DECLARE
	clock timestamptz;
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

	SELECT max(ts) INTO clock FROM new_events;
	IF clock IS NOT NULL THEN
		PERFORM edgestat.seal_rollups(clock - interval '2 hours', 1);
	END IF;
	RETURN NULL;
END
$$;

-- Sessions, both INSERT and UPDATE.  PostgreSQL allows transition tables
-- only on a trigger for a single event, and an INSERT ... ON CONFLICT DO
-- UPDATE fires the INSERT trigger with the inserted rows and the UPDATE
-- trigger with the updated ones (old and new images).  So there are two
-- trigger functions, made below from one template: an inserted row counts
-- +1; an updated row counts its new image +1 and its old image -1.  Groups
-- whose deltas are all zero (a session whose country did not change ...)
-- are not written at all, so an update usually touches only the totals and
-- exit_page rows.  No sketches here: a group with a visit moving in or out
-- (a new session, an attribute that changed) marks its start hour open, and
-- the seal builds the hour's sketches from its sessions.
DO $do$
DECLARE
	template constant text := $t$
CREATE FUNCTION edgestat.%I() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, edgestat, pg_temp AS $f$
BEGIN
	WITH s AS MATERIALIZED (
		%s
	), tot AS (
		INSERT INTO edgestat.rollup_hourly AS r
			(site_id, hour, visits, bounces, visit_pageviews, visit_duration_ms)
		SELECT site_id, hour, sum(sign), sum(sign * bounce),
			   sum(sign * pageviews), sum(sign * duration_ms)
		FROM s GROUP BY site_id, hour
		HAVING sum(sign) <> 0 OR sum(sign * bounce) <> 0
			OR sum(sign * pageviews) <> 0 OR sum(sign * duration_ms) <> 0
		ORDER BY site_id, hour
		ON CONFLICT (site_id, hour) DO UPDATE SET
			visits = r.visits + excluded.visits,
			bounces = r.bounces + excluded.bounces,
			visit_pageviews = r.visit_pageviews + excluded.visit_pageviews,
			visit_duration_ms = r.visit_duration_ms + excluded.visit_duration_ms
	), d AS MATERIALIZED (
		SELECT s.site_id, x.dim, s.hour, coalesce(x.value, '') AS value,
			   sum(s.sign) AS visits, sum(s.sign * s.pageviews) AS pageviews,
			   sum(s.sign * s.events) AS events
		FROM s, LATERAL (VALUES
			('entry_page', s.entry_page), ('exit_page', s.exit_page),
			('referrer', s.referrer_host), ('utm_source', s.utm_source),
			('utm_medium', s.utm_medium), ('utm_campaign', s.utm_campaign),
			('country', s.country), ('region', s.region), ('city', s.city),
			('browser', s.browser), ('os', s.os), ('device', s.device)
		) AS x(dim, value)
		GROUP BY 1, 2, 3, 4
		HAVING sum(s.sign) <> 0 OR sum(s.sign * s.pageviews) <> 0
			OR sum(s.sign * s.events) <> 0
	), h AS (
		INSERT INTO edgestat.rollup_dims_hourly AS r
			(site_id, dim, hour, value, visits, pageviews, events)
		SELECT site_id, dim, hour, value, visits, pageviews, events
		FROM d ORDER BY site_id, dim, hour, value
		ON CONFLICT (site_id, dim, hour, value) DO UPDATE SET
			visits = r.visits + excluded.visits,
			pageviews = r.pageviews + excluded.pageviews,
			events = r.events + excluded.events
	), o AS (
		INSERT INTO edgestat.rollup_open (site_id, hour)
		SELECT DISTINCT site_id, hour FROM d WHERE visits <> 0
		ORDER BY 1, 2
		ON CONFLICT DO NOTHING
	)
	INSERT INTO edgestat.rollup_dims_daily AS r
		(site_id, dim, day, value, visits, pageviews, events)
	SELECT site_id, dim, date_trunc('day', hour, 'UTC'), value,
		   sum(visits), sum(pageviews), sum(events)
	FROM d GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
	ON CONFLICT (site_id, dim, day, value) DO UPDATE SET
		visits = r.visits + excluded.visits,
		pageviews = r.pageviews + excluded.pageviews,
		events = r.events + excluded.events;
	RETURN NULL;
END
$f$;
$t$;
	-- One signed row per session image, with what the rollups need.
	image constant text := $i$
		SELECT site_id, date_trunc('hour', started_at, 'UTC') AS hour,
			   %s AS sign,
			   pageviews, events, (pageviews = 1)::int AS bounce,
			   (extract(epoch FROM last_seen - started_at) * 1000)::bigint AS duration_ms,
			   entry_page, exit_page, referrer_host, utm_source, utm_medium,
			   utm_campaign, country, region, city, browser, os, device
		FROM %s$i$;
BEGIN
	EXECUTE format(template, 'rollup_sessions_insert',
				   format(image, '1', 'new_sessions'));
	EXECUTE format(template, 'rollup_sessions_update',
				   format(image, '1', 'new_sessions') || E'\n\t\tUNION ALL'
				   || format(image, '-1', 'old_sessions'));
END
$do$;

-- Seal open hours that started before "before", oldest first, at most
-- max_hours of them (NULL: all): compute the hour's breakdown sketches from
-- its events and sessions, then fold them into its day.  The triggers call
-- it with the batch's clock minus 2 hours and a limit of one, so the cost
-- per batch is bounded by one hour of data (one sealing per site and hour:
-- an index range scan of the hour's events and of its sessions, one
-- aggregate each, and ~1000 sketch merges into the day).  Sealing early is
-- harmless, only wasted work: an hour touched again is reopened and sealed
-- again (its sketches recomputed, the day's rebuilt).
CREATE FUNCTION edgestat.seal_rollups(before timestamptz, max_hours int DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, edgestat, pg_temp
SET enable_hashagg = off AS $$
DECLARE
	o record;
	resealing bool;
	sealed int := 0;
BEGIN
	FOR o IN
		DELETE FROM edgestat.rollup_open r
		WHERE (r.site_id, r.hour) IN (
			SELECT x.site_id, x.hour FROM edgestat.rollup_open x
			WHERE x.hour < before ORDER BY x.hour, x.site_id LIMIT max_hours
			FOR UPDATE SKIP LOCKED)	-- a concurrent batch seals the others
		RETURNING r.site_id, r.hour
	LOOP
		-- Dynamic SQL: planned afresh each time.  A plan cached by the
		-- ingest backend while the rollups were small (nested loops over
		-- sequential scans) gets slower with every row they gain.

		-- The hour's sketches, from its raw rows as they are now: page and
		-- event from its events, the session attributes from the sessions
		-- that started in it.  A value no session holds any more (an exit
		-- page the sessions moved on from: no visits left) gets an empty
		-- sketch.
		EXECUTE $q$
			UPDATE edgestat.rollup_dims_hourly r
			SET visitors = x.visitors
			FROM (
				SELECT x.dim, x.value,
					   hll_add_agg(hll_hash_any(e.visitor_id), 14, 5, -1, 1) AS visitors
				FROM edgestat.events e,
					 LATERAL (VALUES ('page', e.path), ('event', e.name)) AS x(dim, value)
				WHERE e.site_id = $1 AND e.ts >= $2 AND e.ts < $2 + interval '1 hour'
				GROUP BY 1, 2
			) x
			WHERE r.site_id = $1 AND r.dim = x.dim AND r.hour = $2
			  AND r.value = x.value$q$ USING o.site_id, o.hour;
		EXECUTE $q$
			UPDATE edgestat.rollup_dims_hourly r
			SET visitors = x.visitors
			FROM (
				SELECT x.dim, coalesce(x.value, '') AS value,
					   hll_add_agg(hll_hash_any(s.visitor_id), 14, 5, -1, 1) AS visitors
				FROM edgestat.sessions s, LATERAL (VALUES
					('entry_page', s.entry_page), ('exit_page', s.exit_page),
					('referrer', s.referrer_host), ('utm_source', s.utm_source),
					('utm_medium', s.utm_medium), ('utm_campaign', s.utm_campaign),
					('country', s.country), ('region', s.region), ('city', s.city),
					('browser', s.browser), ('os', s.os), ('device', s.device)
				) AS x(dim, value)
				WHERE s.site_id = $1 AND s.started_at >= $2
				  AND s.started_at < $2 + interval '1 hour'
				GROUP BY 1, 2
			) x
			WHERE r.site_id = $1 AND r.dim = x.dim AND r.hour = $2
			  AND r.value = x.value$q$ USING o.site_id, o.hour;
		EXECUTE $q$
			UPDATE edgestat.rollup_dims_hourly r
			SET visitors = hll_empty(14, 5, -1, 1)
			WHERE r.site_id = $1 AND r.dim <> ALL ('{page,event}') AND r.hour = $2
			  AND r.visits = 0 AND r.visitors <> hll_empty(14, 5, -1, 1)$q$
			USING o.site_id, o.hour;

		SELECT r.sealed INTO resealing FROM edgestat.rollup_hourly r
		WHERE r.site_id = o.site_id AND r.hour = o.hour;
		IF resealing THEN
			-- Sealed before: the hour's previous sketches are in the day's,
			-- and a session attribute may have moved since (a late beacon):
			-- rebuild the day's sketches of this hour's values from the
			-- day's hours (a union cannot forget a visitor).
			EXECUTE $q$
				UPDATE edgestat.rollup_dims_daily d
				SET visitors = x.visitors
				FROM (
					SELECT h.dim, h.value, hll_union_agg(h.visitors) AS visitors
					FROM edgestat.rollup_dims_hourly h
					WHERE h.site_id = $1 AND h.hour >= date_trunc('day', $2, 'UTC')
					  AND h.hour < date_trunc('day', $2, 'UTC') + interval '24 hours'
					  AND (h.dim, h.value) IN (
						SELECT c.dim, c.value FROM edgestat.rollup_dims_hourly c
						WHERE c.site_id = $1 AND c.hour = $2)
					GROUP BY 1, 2
				) x
				WHERE d.site_id = $1 AND d.dim = x.dim
				  AND d.day = date_trunc('day', $2, 'UTC') AND d.value = x.value$q$
				USING o.site_id, o.hour;
		ELSE
			EXECUTE $q$
				UPDATE edgestat.rollup_dims_daily d
				SET visitors = hll_union(d.visitors, h.visitors)
				FROM edgestat.rollup_dims_hourly h
				WHERE h.site_id = $1 AND h.hour = $2
				  AND h.visitors <> hll_empty(14, 5, -1, 1)
				  AND d.site_id = $1 AND d.dim = h.dim
				  AND d.day = date_trunc('day', $2, 'UTC') AND d.value = h.value$q$
				USING o.site_id, o.hour;
			UPDATE edgestat.rollup_hourly r SET sealed = true
			WHERE r.site_id = o.site_id AND r.hour = o.hour;
		END IF;
		sealed := sealed + 1;
	END LOOP;
	RETURN sealed;
END
$$;
COMMENT ON FUNCTION edgestat.seal_rollups(timestamptz, int) IS
	'builds the breakdown visitor sketches of open hours before "before" (at most max_hours) from their raw rows and folds them into the daily rollup; ingest calls it';

CREATE TRIGGER rollup_events AFTER INSERT ON edgestat.events
	REFERENCING NEW TABLE AS new_events
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.rollup_events();
CREATE TRIGGER rollup_sessions_insert AFTER INSERT ON edgestat.sessions
	REFERENCING NEW TABLE AS new_sessions
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.rollup_sessions_insert();
CREATE TRIGGER rollup_sessions_update AFTER UPDATE ON edgestat.sessions
	REFERENCING OLD TABLE AS old_sessions NEW TABLE AS new_sessions
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.rollup_sessions_update();

-- ---------------------------------------------------------------------
-- Report functions.  SECURITY DEFINER, so a reporting role needs no table
-- privileges, only:
--   GRANT USAGE ON SCHEMA edgestat TO reporter;
--   GRANT EXECUTE ON FUNCTION edgestat.summary(text, timestamptz, timestamptz),
--     edgestat.timeseries(text, timestamptz, timestamptz, interval),
--     edgestat.breakdown(text, text, timestamptz, timestamptz, int) TO reporter;
-- EXECUTE is revoked from PUBLIC below, since these functions read every
-- site's figures.  All are STRICT: a NULL argument gives no rows.  They
-- turn jit off for their own queries (set_config, restored on the way
-- out; a function-level SET jit clause measured ~18 ms per call): the
-- plans cost enough to trigger JIT compilation, which costs 30-70 ms more
-- than it saves here.
-- ---------------------------------------------------------------------

-- The site id of a domain; ERROR 42704 (undefined_object) if unknown.
CREATE FUNCTION edgestat.report_site_id(site text) RETURNS int
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, edgestat, pg_temp AS $$
DECLARE
	id int;
BEGIN
	SELECT s.site_id INTO id FROM edgestat.sites s WHERE s.domain = lower(site);
	IF id IS NULL THEN
		RAISE EXCEPTION 'site "%" does not exist', site
			USING ERRCODE = 'undefined_object',
				  HINT = 'Register it with edgestat.add_site().';
	END IF;
	RETURN id;
END
$$;

-- The first whole UTC hour at or after t: the exclusive end of a range.
CREATE FUNCTION edgestat.hour_ceil(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, edgestat, pg_temp
RETURN CASE WHEN date_trunc('hour', t, 'UTC') = t THEN t
			ELSE date_trunc('hour', t, 'UTC') + interval '1 hour' END;

-- visitors: distinct visitors with any event in the range (HLL estimate);
-- visits, views_per_visit, bounce_rate, visit_duration: over sessions that
-- started in the range (NULL when there are none); pageviews: pageview
-- events in the range.  The range is [since, until) widened to whole UTC
-- hours.  Unknown site: ERROR 42704.
CREATE FUNCTION edgestat.summary(site text, since timestamptz, until timestamptz)
RETURNS TABLE (visitors bigint, visits bigint, pageviews bigint,
			   views_per_visit numeric, bounce_rate numeric, visit_duration numeric)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp AS $$
#variable_conflict use_column
DECLARE
	sid int := edgestat.report_site_id(site);
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	jit_was text := current_setting('jit');
BEGIN
	PERFORM set_config('jit', 'off', true);
	RETURN QUERY
	SELECT coalesce(round(hll_cardinality(hll_union_agg(r.visitors)))::bigint, 0),
		   coalesce(sum(r.visits), 0)::bigint,
		   coalesce(sum(r.pageviews), 0)::bigint,
		   round(sum(r.visit_pageviews) / nullif(sum(r.visits), 0), 2),
		   round(100 * sum(r.bounces) / nullif(sum(r.visits), 0), 2),
		   round(sum(r.visit_duration_ms) / 1000.0 / nullif(sum(r.visits), 0), 2)
	FROM edgestat.rollup_hourly r
	WHERE r.site_id = sid AND r.hour >= lo AND r.hour < hi;
	PERFORM set_config('jit', jit_was, true);
END
$$;
COMMENT ON FUNCTION edgestat.summary(text, timestamptz, timestamptz) IS
	'visitors, visits, pageviews, views per visit, bounce rate (%), mean visit duration (s) over whole UTC hours in [since, until); unknown site: ERROR 42704';

-- One row per bucket from date_trunc('hour', since) on, empty buckets
-- included, the last one possibly cut short by until.  bucket must be a
-- positive whole number of hours (days count as 24 hours; months are
-- refused): ERROR 22023 otherwise.  visitors are distinct per bucket.
--
-- The parameter and the output column are both named bucket (SPEC), which
-- PL/pgSQL refuses, so the work is in report_timeseries() and timeseries()
-- is a SQL wrapper.
CREATE FUNCTION edgestat.report_timeseries(site text, since timestamptz, until timestamptz,
										   step interval)
RETURNS TABLE (bucket timestamptz, visitors bigint, visits bigint, pageviews bigint)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, edgestat, pg_temp AS $$
#variable_conflict use_column
DECLARE
	sid int := edgestat.report_site_id(site);
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	secs numeric := extract(epoch FROM step);
	jit_was text := current_setting('jit');
BEGIN
	IF extract(year FROM step) <> 0 OR extract(month FROM step) <> 0
	   OR secs <= 0 OR secs % 3600 <> 0 THEN
		RAISE EXCEPTION 'invalid bucket "%"', step
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A bucket must be a positive whole number of hours or days, such as ''1 hour'', ''6 hours'' or ''1 day''.';
	END IF;
	-- in seconds: adding '1 day' to a timestamptz would follow TimeZone's DST
	step := secs * interval '1 second';
	PERFORM set_config('jit', 'off', true);
	RETURN QUERY
	WITH r AS (
		SELECT floor(extract(epoch FROM r.hour - lo) / secs)::int AS i,
			   hll_union_agg(r.visitors) AS v, sum(r.visits) AS vi,
			   sum(r.pageviews) AS pv
		FROM edgestat.rollup_hourly r
		WHERE r.site_id = sid AND r.hour >= lo AND r.hour < hi
		GROUP BY 1
	)
	SELECT lo + g.i * step,
		   coalesce(round(hll_cardinality(r.v))::bigint, 0),
		   coalesce(r.vi, 0)::bigint, coalesce(r.pv, 0)::bigint
	FROM generate_series(0, ceil(extract(epoch FROM hi - lo) / secs)::int - 1) AS g(i)
	LEFT JOIN r ON r.i = g.i
	ORDER BY g.i;
	PERFORM set_config('jit', jit_was, true);
END
$$;

CREATE FUNCTION edgestat.timeseries(site text, since timestamptz, until timestamptz,
									bucket interval DEFAULT '1 hour')
RETURNS TABLE (bucket timestamptz, visitors bigint, visits bigint, pageviews bigint)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$ SELECT * FROM edgestat.report_timeseries($1, $2, $3, $4) $$;
COMMENT ON FUNCTION edgestat.timeseries(text, timestamptz, timestamptz, interval) IS
	'visitors, visits, pageviews per bucket (whole hours) from date_trunc(''hour'', since) to until, UTC; unknown site: ERROR 42704';

-- Top values of a dimension, by visitors, then pageviews, then events.
-- page and event count events in the range; the other dimensions are
-- attributes of the sessions that started in the range (see the head of
-- this file).  value is NULL for "none" (direct traffic, unknown country).
-- Unknown dimension or negative lim: ERROR 22023; unknown site: 42704.
CREATE FUNCTION edgestat.breakdown(site text, dimension text, since timestamptz,
								   until timestamptz, lim int DEFAULT 10)
RETURNS TABLE (value text, visitors bigint, pageviews bigint, events bigint)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp AS $$
#variable_conflict use_column
DECLARE
	dims constant text[] := '{page,entry_page,exit_page,referrer,utm_source,utm_medium,utm_campaign,country,region,city,browser,os,device,event}';
	sid int;
	by_session bool := dimension NOT IN ('page', 'event');
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	dlo timestamptz;	-- whole UTC days [dlo, dhi) are read from the daily
	dhi timestamptz;	-- rollup, the hours around them from the hourly one
	candidates text[];
	jit_was text := current_setting('jit');
BEGIN
	IF NOT dimension = ANY (dims) THEN
		RAISE EXCEPTION 'unknown dimension "%"', dimension
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Valid dimensions are: ' || array_to_string(dims, ', ') || '.';
	END IF;
	IF lim < 0 THEN
		RAISE EXCEPTION 'lim must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	sid := edgestat.report_site_id(site);
	dlo := date_trunc('day', lo, 'UTC');
	IF dlo < lo THEN
		dlo := dlo + interval '24 hours';
	END IF;
	dhi := date_trunc('day', hi, 'UTC');
	IF dlo >= dhi THEN
		dlo := hi;
		dhi := hi;
	END IF;
	PERFORM set_config('jit', 'off', true);

	-- Merging sketches is the cost (a 30-day city breakdown has ~25000
	-- of them), so first pick the candidates by the exact counters (visits
	-- for session attributes, events for page and event): the top
	-- 2 * lim + 10.  Visitors rank like visits almost everywhere; the
	-- candidates margin covers the rest.  Counters are current in both
	-- rollups, sealed or not.
	EXECUTE $q$
		SELECT array_agg(c.value) FROM (
			SELECT u.value FROM (
				SELECT r.value, r.visits, r.events FROM edgestat.rollup_dims_hourly r
				WHERE r.site_id = $1 AND r.dim = $2 AND r.hour >= $3 AND r.hour < $5
				UNION ALL
				SELECT r.value, r.visits, r.events FROM edgestat.rollup_dims_hourly r
				WHERE r.site_id = $1 AND r.dim = $2 AND r.hour >= $6 AND r.hour < $4
				UNION ALL
				SELECT r.value, r.visits, r.events FROM edgestat.rollup_dims_daily r
				WHERE r.site_id = $1 AND r.dim = $2 AND r.day >= $5 AND r.day < $6
			) u
			GROUP BY u.value
			HAVING CASE WHEN $7 THEN sum(u.visits) > 0 ELSE sum(u.events) > 0 END
			ORDER BY CASE WHEN $7 THEN sum(u.visits) ELSE sum(u.events) END DESC,
					 u.value COLLATE "C"
			LIMIT 2 * $8::bigint + 10
		) c$q$
	INTO candidates
	USING sid, dimension, lo, hi, dlo, dhi, by_session, lim;

	-- Open hours (not sealed, or touched since) are not in the daily
	-- sketches yet: days holding one are read hour by hour.  Their own
	-- sketches are missing or stale: those visitors come from the hours'
	-- raw rows (events for page and event, else sessions by start).  Open
	-- hours are normally only the last two or three.
	-- dynamic SQL: planned for these bounds every time (a generic plan
	-- cached by a long-lived dashboard session could be far off)
	RETURN QUERY EXECUTE format($q$
	WITH open AS (
		SELECT o.hour FROM edgestat.rollup_open o
		WHERE o.site_id = $1 AND o.hour >= $3 AND o.hour < $4
	), open_days AS (
		SELECT DISTINCT date_trunc('day', open.hour, 'UTC') AS day FROM open
		WHERE open.hour >= $5 AND open.hour < $6
	), hourly AS (
		SELECT r.hour, r.value, r.visitors, r.visits, r.pageviews, r.events
		FROM edgestat.rollup_dims_hourly r
		WHERE r.site_id = $1 AND r.dim = $2 AND r.hour >= $3 AND r.hour < $5
		  AND r.value = ANY ($9)
		UNION ALL
		SELECT r.hour, r.value, r.visitors, r.visits, r.pageviews, r.events
		FROM edgestat.rollup_dims_hourly r
		WHERE r.site_id = $1 AND r.dim = $2 AND r.hour >= $6 AND r.hour < $4
		  AND r.value = ANY ($9)
		UNION ALL
		SELECT r.hour, r.value, r.visitors, r.visits, r.pageviews, r.events
		FROM open_days JOIN edgestat.rollup_dims_hourly r
		  ON r.site_id = $1 AND r.dim = $2 AND r.hour >= open_days.day
		 AND r.hour < open_days.day + interval '24 hours'
		 AND r.value = ANY ($9)
	), rows AS (
		SELECT h.value,
			   CASE WHEN h.hour IN (SELECT open.hour FROM open)
					THEN hll_empty(14, 5, -1, 1) ELSE h.visitors END AS visitors,
			   h.visits, h.pageviews, h.events
		FROM hourly h
		UNION ALL
		SELECT r.value, r.visitors, r.visits, r.pageviews, r.events
		FROM edgestat.rollup_dims_daily r
		WHERE r.site_id = $1 AND r.dim = $2 AND r.day >= $5 AND r.day < $6
		  AND r.value = ANY ($9)
		  AND r.day NOT IN (SELECT open_days.day FROM open_days)
		UNION ALL
		-- (per open hour, so that it is an index range scan of the raw rows)
		SELECT x.value, x.visitors, 0, 0, 0
		FROM open CROSS JOIN LATERAL (
			SELECT coalesce(raw.%1$I, '') AS value,
				   hll_add_agg(hll_hash_any(raw.visitor_id), 14, 5, -1, 1) AS visitors
			FROM edgestat.%2$I raw
			WHERE raw.site_id = $1 AND raw.%3$I >= open.hour
			  AND raw.%3$I < open.hour + interval '1 hour'
			GROUP BY 1
		) x
		WHERE x.value = ANY ($9)
	), g AS (
		SELECT rows.value,
			   round(hll_cardinality(hll_union_agg(rows.visitors)))::bigint AS visitors,
			   sum(rows.pageviews)::bigint AS pageviews,
			   sum(rows.events)::bigint AS events
		FROM rows
		GROUP BY rows.value
		-- a session attribute value no session holds any more (an exit
		-- page the sessions moved on from) has no visits left
		HAVING CASE WHEN $7 THEN sum(rows.visits) > 0
					ELSE sum(rows.events) > 0 END
	)
	SELECT nullif(g.value, ''), g.visitors, g.pageviews, g.events
	FROM g
	ORDER BY g.visitors DESC, g.pageviews DESC, g.events DESC, g.value COLLATE "C"
	LIMIT $8$q$,
		CASE dimension WHEN 'page' THEN 'path' WHEN 'event' THEN 'name'
			WHEN 'referrer' THEN 'referrer_host' ELSE dimension END,
		CASE WHEN by_session THEN 'sessions' ELSE 'events' END,
		CASE WHEN by_session THEN 'started_at' ELSE 'ts' END)
	USING sid, dimension, lo, hi, dlo, dhi, by_session, lim, candidates;
	PERFORM set_config('jit', jit_was, true);
END
$$;
COMMENT ON FUNCTION edgestat.breakdown(text, text, timestamptz, timestamptz, int) IS
	'top values of a dimension over whole UTC hours in [since, until); unknown dimension: ERROR 22023; unknown site: ERROR 42704';

-- hll may live in any schema (CREATE EXTENSION ... CASCADE puts it in the
-- creation schema, usually public); PostgreSQL 15 has no @extschema:hll@,
-- so add its schema to the search_path of every function here that uses it.
DO $do$
DECLARE
	hll_schema name;
	f regprocedure;
BEGIN
	SELECT n.nspname INTO STRICT hll_schema
	FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
	WHERE e.extname = 'hll';
	IF hll_schema IN ('pg_catalog', 'edgestat') THEN
		RETURN;
	END IF;
	FOREACH f IN ARRAY ARRAY[
		'edgestat.rollup_events()', 'edgestat.rollup_sessions_insert()',
		'edgestat.rollup_sessions_update()', 'edgestat.seal_rollups(timestamptz, int)',
		'edgestat.summary(text, timestamptz, timestamptz)',
		'edgestat.report_timeseries(text, timestamptz, timestamptz, interval)',
		'edgestat.breakdown(text, text, timestamptz, timestamptz, int)']::regprocedure[]
	LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, edgestat, %I, pg_temp',
					   f, hll_schema);
	END LOOP;
END
$do$;

REVOKE ALL ON FUNCTION edgestat.rollup_events(), edgestat.rollup_sessions_insert(),
	edgestat.rollup_sessions_update(), edgestat.seal_rollups(timestamptz, int),
	edgestat.report_site_id(text),
	edgestat.report_timeseries(text, timestamptz, timestamptz, interval),
	edgestat.summary(text, timestamptz, timestamptz),
	edgestat.timeseries(text, timestamptz, timestamptz, interval),
	edgestat.breakdown(text, text, timestamptz, timestamptz, int) FROM PUBLIC;
-- edgestat 1.0: daily partitions of edgestat.events and retention.  Owns
-- edgestat.create_day_partition(), edgestat.ensure_partitions() (called by
-- the writer at start and when the UTC date rolls over) and
-- edgestat.apply_retention().
--
-- Raw events live in one partition per UTC day, edgestat.events_YYYYMMDD,
-- so that retention drops whole tables instead of deleting rows.  Rollups
-- (30_reports.sql) are not touched: reports keep answering for dropped days.
--
-- Partition maintenance serialises on one transaction-level advisory lock,
-- (classid, objid) = (x'65647374' 'edst', 1), so concurrent callers (two
-- workers crossing midnight together) neither fail nor create twice.

-- Create the partition for one UTC day unless it exists; returns whether it
-- created one.  Rows of that day that already sit in the DEFAULT partition
-- (written before the partition existed) are moved into it: with the
-- parent locked against inserts, they are moved into a new table that is
-- then attached.  Moving writes to the partitions directly, so the rollup
-- triggers (on the parent) do not count those rows twice.
CREATE FUNCTION edgestat.create_day_partition(day date) RETURNS bool
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, edgestat, pg_temp AS $$
DECLARE
	part text := 'events_' || to_char(day, 'YYYYMMDD');
	lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
	hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
	-- bounds spelled out in UTC, independent of DateStyle and TimeZone
	bounds text := format('FOR VALUES FROM (%L) TO (%L)',
						  to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
						  to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
BEGIN
	PERFORM pg_advisory_xact_lock(x'65647374'::int, 1);
	IF to_regclass(format('edgestat.%I', part)) IS NOT NULL THEN
		RETURN false;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM edgestat.events_default WHERE ts >= lo AND ts < hi) THEN
		EXECUTE format('CREATE TABLE edgestat.%I PARTITION OF edgestat.events %s', part, bounds);
		RETURN true;
	END IF;

	-- SHARE ROW EXCLUSIVE blocks inserts (ROW EXCLUSIVE) until commit, so
	-- no row of that day can reach the default partition behind our back.
	LOCK TABLE edgestat.events IN SHARE ROW EXCLUSIVE MODE;
	EXECUTE format('CREATE TABLE edgestat.%I (LIKE edgestat.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
	EXECUTE format('WITH m AS (DELETE FROM edgestat.events_default WHERE ts >= $1 AND ts < $2 RETURNING *)'
				   ' INSERT INTO edgestat.%I SELECT * FROM m', part)
		USING lo, hi;
	-- attaching builds the partition's index from the parent's
	EXECUTE format('ALTER TABLE edgestat.events ATTACH PARTITION edgestat.%I %s', part, bounds);
	RETURN true;
END
$$;
COMMENT ON FUNCTION edgestat.create_day_partition(date) IS
	'creates edgestat.events_YYYYMMDD for one UTC day if missing, moving that day''s rows out of the default partition';

-- Partitions for the UTC days today .. today + days_ahead; returns how many
-- it created.  Idempotent.
CREATE FUNCTION edgestat.ensure_partitions(days_ahead int DEFAULT 2) RETURNS int
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, edgestat, pg_temp AS $$
DECLARE
	today date := (now() AT TIME ZONE 'UTC')::date;
	created int := 0;
BEGIN
	IF days_ahead NOT BETWEEN 0 AND 366 THEN
		RAISE EXCEPTION 'days_ahead must be between 0 and 366, not %', days_ahead
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR i IN 0 .. days_ahead LOOP
		IF edgestat.create_day_partition(today + i) THEN
			created := created + 1;
		END IF;
	END LOOP;
	RETURN created;
END
$$;
COMMENT ON FUNCTION edgestat.ensure_partitions(int) IS
	'creates the daily partitions of edgestat.events for UTC today .. today + days_ahead; returns how many were created';

-- Drop raw events older than keep: every partition whose upper bound is at
-- or before now() - keep is detached and dropped whole; rows that old in
-- the DEFAULT partition (days that never had a partition; normally none)
-- are deleted.  Rollups are kept, so reports still cover those days.
-- keep defaults to the setting edgestat.retention, else 90 days.  Returns
-- the number of partitions dropped.
CREATE FUNCTION edgestat.apply_retention(
	keep interval DEFAULT coalesce(nullif(current_setting('edgestat.retention', true), ''),
								   '90 days')::interval)
RETURNS int
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, edgestat, pg_temp AS $$
DECLARE
	cutoff timestamptz := now() - keep;
	p record;
	dropped int := 0;
BEGIN
	IF keep < interval '0' THEN
		RAISE EXCEPTION 'keep must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pg_advisory_xact_lock(x'65647374'::int, 1);
	FOR p IN
		SELECT c.oid::regclass AS part,
			   substring(pg_get_expr(c.relpartbound, c.oid)
						 FROM $re$ TO \('([^']+)'\)$re$)::timestamptz AS upper
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'edgestat.events'::regclass
		  AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
		ORDER BY 2
	LOOP
		CONTINUE WHEN p.upper IS NULL OR p.upper > cutoff;
		EXECUTE format('ALTER TABLE edgestat.events DETACH PARTITION %s', p.part);
		EXECUTE format('DROP TABLE %s', p.part);
		dropped := dropped + 1;
	END LOOP;
	DELETE FROM edgestat.events_default WHERE ts < cutoff;
	RETURN dropped;
END
$$;
COMMENT ON FUNCTION edgestat.apply_retention(interval) IS
	'drops the daily partitions of edgestat.events older than keep (default: edgestat.retention, else 90 days); rollups are kept';

REVOKE ALL ON FUNCTION edgestat.create_day_partition(date),
	edgestat.ensure_partitions(int), edgestat.apply_retention(interval) FROM PUBLIC;
-- edgestat 1.0: the dashboard's side of the database.
--
-- The HTTP worker serves the static dashboard from
-- <sharedir>/extension/edgestat/dashboard/ and answers GET /api/<endpoint>
-- by calling edgestat.dashboard_api(token, endpoint, params).  A token is
-- bound to one site; only its sha256 is stored, so a leaked table does not
-- leak working tokens.  Every answer is computed for the token's site alone.

CREATE TABLE edgestat.dashboard_tokens (
	token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
	site_id int NOT NULL REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_tokens_site ON edgestat.dashboard_tokens (site_id);
COMMENT ON TABLE edgestat.dashboard_tokens IS
	'read-only dashboard tokens, one site each; only the sha256 of a token is kept';
REVOKE ALL ON edgestat.dashboard_tokens FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('edgestat.dashboard_tokens', '');

-- A new secret token for a site, shown once: 256 bits from two
-- gen_random_uuid() (pg_strong_random), hashed into 64 hex characters.
CREATE FUNCTION edgestat.dashboard_token(site text) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$
DECLARE
	sid int;
	tok text;
BEGIN
	sid := edgestat.report_site_id(site);	-- 42704 if unknown
	tok := encode(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
						 || uuid_send(gen_random_uuid())), 'hex');
	INSERT INTO edgestat.dashboard_tokens (token_sha256, site_id)
		VALUES (sha256(convert_to(tok, 'UTF8')), sid);
	RETURN tok;
END
$$;
COMMENT ON FUNCTION edgestat.dashboard_token(text) IS
	'creates and returns a new dashboard token for a site (only its hash is stored)';
REVOKE ALL ON FUNCTION edgestat.dashboard_token(text) FROM PUBLIC;

-- Revoke one token (returns whether it existed).
CREATE FUNCTION edgestat.dashboard_revoke(token text) RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$
	WITH d AS (
		DELETE FROM edgestat.dashboard_tokens
		WHERE token_sha256 = sha256(convert_to(token, 'UTF8'))
		RETURNING 1)
	SELECT count(*) > 0 FROM d
$$;
REVOKE ALL ON FUNCTION edgestat.dashboard_revoke(text) FROM PUBLIC;

-- The dashboard's JSON API.  params is a flat object of strings (the query
-- string less token).  Errors: 28000 bad token (HTTP 401), class 22 bad
-- parameter (HTTP 400).
CREATE FUNCTION edgestat.dashboard_api(token text, endpoint text, params jsonb DEFAULT '{}')
RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$
DECLARE
	sid int;
	dom text;
	p jsonb := coalesce(params, '{}'::jsonb);
	t_until timestamptz;
	t_since timestamptz;
	bkt interval;
	lim int;
	dim text;
	ttl int;
	res json;
BEGIN
	IF token IS NULL OR length(token) NOT BETWEEN 16 AND 256 THEN
		RAISE EXCEPTION 'edgestat: invalid or missing dashboard token'
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	SELECT s.site_id, s.domain INTO sid, dom
	FROM edgestat.dashboard_tokens t JOIN edgestat.sites s USING (site_id)
	WHERE t.token_sha256 = sha256(convert_to(token, 'UTF8'));
	IF sid IS NULL THEN
		RAISE EXCEPTION 'edgestat: invalid or missing dashboard token'
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'edgestat: params must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Time range: default the last 24 hours.  Bad values raise class 22.
	t_until := coalesce(nullif(p->>'until', '')::timestamptz, now());
	t_since := coalesce(nullif(p->>'since', '')::timestamptz, t_until - interval '24 hours');
	IF t_since > t_until THEN
		RAISE EXCEPTION 'edgestat: since is after until'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	CASE endpoint
	WHEN 'site' THEN
		res := json_build_object('site_id', sid, 'domain', dom);

	WHEN 'summary' THEN
		SELECT row_to_json(x) INTO res
		FROM edgestat.summary(dom, t_since, t_until) x;
		res := coalesce(res, '{}'::json);

	WHEN 'timeseries' THEN
		bkt := coalesce(nullif(p->>'bucket', '')::interval,
						CASE WHEN t_until - t_since > interval '3 days'
							 THEN interval '1 day' ELSE interval '1 hour' END);
		IF bkt < interval '1 minute' THEN
			RAISE EXCEPTION 'edgestat: bucket must be at least 1 minute'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF extract(epoch FROM t_until - t_since) / extract(epoch FROM bkt) > 5000 THEN
			RAISE EXCEPTION 'edgestat: too many buckets (at most 5000)'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT coalesce(json_agg(x ORDER BY x.bucket), '[]'::json) INTO res
		FROM edgestat.timeseries(dom, t_since, t_until, bkt) x;

	WHEN 'breakdown' THEN
		dim := coalesce(nullif(p->>'dimension', ''), 'page');
		IF dim NOT IN ('page', 'entry_page', 'exit_page', 'referrer', 'utm_source',
					   'utm_medium', 'utm_campaign', 'country', 'region', 'city',
					   'browser', 'os', 'device', 'event') THEN
			RAISE EXCEPTION 'edgestat: unknown dimension "%"', dim
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		lim := least(greatest(coalesce(nullif(p->>'lim', '')::int, 10), 1), 100);
		SELECT coalesce(json_agg(x), '[]'::json) INTO res
		FROM edgestat.breakdown(dom, dim, t_since, t_until, lim) x;

	WHEN 'live' THEN
		-- SHOW gives the GUC with its unit ("5min"); as an interval it reads back.
		ttl := coalesce(extract(epoch FROM nullif(current_setting('edgestat.live_ttl', true), '')::interval)::int, 300);
		SELECT json_build_object(
			'live', edgestat.live_visitors(dom),
			'ttl', ttl,
			'visitors', coalesce(json_agg(json_build_object(
				'v', l.visitor_id, 'lat', l.latitude, 'lon', l.longitude,
				'score', l.score, 'country', l.country, 'city', l.city,
				'last_seen', l.last_seen) ORDER BY l.last_seen DESC), '[]'::json))
		INTO res
		FROM (SELECT vi.* FROM edgestat.live_visitor_ids(dom, 2000) lv
			  JOIN edgestat.visitors vi
				ON vi.site_id = sid AND vi.visitor_id = lv.visitor_id
			  WHERE vi.latitude IS NOT NULL AND vi.longitude IS NOT NULL
			  ORDER BY lv.last_seen DESC
			  LIMIT 500) l;

	WHEN 'recent' THEN
		SELECT coalesce(json_agg(json_build_object(
			'ts', e.ts, 'n', e.name, 'path', e.path, 'v', e.visitor_id,
			'country', e.country, 'city', e.city, 'referrer', e.referrer_host,
			'device', e.device, 'browser', e.browser, 'score', vi.score)
			ORDER BY e.ts DESC), '[]'::json)
		INTO res
		FROM (SELECT * FROM edgestat.events ev
			  WHERE ev.site_id = sid
			  ORDER BY ev.ts DESC
			  LIMIT 50) e
		LEFT JOIN edgestat.visitors vi
			ON vi.site_id = sid AND vi.visitor_id = e.visitor_id;

	ELSE
		RAISE EXCEPTION 'edgestat: unknown dashboard endpoint "%"', endpoint
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Endpoints: site, summary, timeseries, breakdown, live, recent.';
	END CASE;
	RETURN res;
END
$$;
COMMENT ON FUNCTION edgestat.dashboard_api(text, text, jsonb) IS
	'JSON API of the dashboard, called by the HTTP worker for GET /api/<endpoint>';
