
-- ---------------------------------------------------------------------
-- Imports of Plausible's CSV export (docs/compat.md): the imported_*.csv
-- files of its export zip are copied into the staging tables below
-- (COPY ... FROM STDIN WITH (FORMAT csv, HEADER MATCH)), then
-- edgestat.import_plausible(site) folds them into the rollups, so that
-- summary(), timeseries() and breakdown() count imported days like any
-- other.  Each imported day lands in the UTC day's first hour.
--
-- Plausible's export holds daily aggregates, not visitors: a day's
-- visitor sketch is made of that many synthetic ids, distinct per site,
-- day, dimension and value.  So a range of imported days counts the sum
-- of their daily visitors (as Plausible's own imported figures do), and a
-- visitor seen on an imported day and again natively counts twice.
--
-- Only past days without any data of the site are imported (the days a
-- site ran Plausible before moving): a day that already has rows, today
-- and later days are skipped and reported, so that importing twice
-- changes nothing.  Events are stamped when they arrive, so an imported
-- day never gets measured data afterwards: its rollup rows stay purely
-- imported, which is what lets the Stats API leave them out exactly
-- (edgestat.stats_api_native, "include": {"imports": false}).  The imported
-- days are listed in edgestat.imported_days (the "imported" flag); the
-- Stats API says so in meta.imports_included.
-- ---------------------------------------------------------------------

CREATE TABLE edgestat.plausible_imported_visitors (
	date date NOT NULL, visitors bigint NOT NULL, pageviews bigint NOT NULL,
	bounces bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL);
CREATE TABLE edgestat.plausible_imported_sources (
	date date NOT NULL, source text, referrer text, utm_source text, utm_medium text,
	utm_campaign text, utm_content text, utm_term text, pageviews bigint NOT NULL,
	visitors bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL,
	bounces bigint NOT NULL);
CREATE TABLE edgestat.plausible_imported_pages (
	date date NOT NULL, hostname text, page text NOT NULL, visits bigint NOT NULL,
	visitors bigint NOT NULL, pageviews bigint NOT NULL, scroll_depth bigint,
	pageleave_visitors bigint);
CREATE TABLE edgestat.plausible_imported_entry_pages (
	date date NOT NULL, entry_page text NOT NULL, visitors bigint NOT NULL,
	entrances bigint NOT NULL, visit_duration bigint NOT NULL, bounces bigint NOT NULL,
	pageviews bigint NOT NULL);
CREATE TABLE edgestat.plausible_imported_exit_pages (
	date date NOT NULL, exit_page text NOT NULL, visitors bigint NOT NULL,
	visit_duration bigint NOT NULL, exits bigint NOT NULL, bounces bigint NOT NULL,
	pageviews bigint NOT NULL);
CREATE TABLE edgestat.plausible_imported_custom_events (
	date date NOT NULL, name text NOT NULL, link_url text, path text,
	visitors bigint NOT NULL, events bigint NOT NULL);
CREATE TABLE edgestat.plausible_imported_locations (
	date date NOT NULL, country text, region text, city bigint, visitors bigint NOT NULL,
	visits bigint NOT NULL, visit_duration bigint NOT NULL, bounces bigint NOT NULL,
	pageviews bigint NOT NULL);
CREATE TABLE edgestat.plausible_imported_devices (
	date date NOT NULL, device text, visitors bigint NOT NULL, visits bigint NOT NULL,
	visit_duration bigint NOT NULL, bounces bigint NOT NULL, pageviews bigint NOT NULL);
CREATE TABLE edgestat.plausible_imported_browsers (
	date date NOT NULL, browser text, browser_version text, visitors bigint NOT NULL,
	visits bigint NOT NULL, visit_duration bigint NOT NULL, bounces bigint NOT NULL,
	pageviews bigint NOT NULL);
CREATE TABLE edgestat.plausible_imported_operating_systems (
	date date NOT NULL, operating_system text, operating_system_version text,
	visitors bigint NOT NULL, visits bigint NOT NULL, visit_duration bigint NOT NULL,
	bounces bigint NOT NULL, pageviews bigint NOT NULL);
REVOKE ALL ON edgestat.plausible_imported_visitors, edgestat.plausible_imported_sources,
	edgestat.plausible_imported_pages, edgestat.plausible_imported_entry_pages,
	edgestat.plausible_imported_exit_pages, edgestat.plausible_imported_custom_events,
	edgestat.plausible_imported_locations, edgestat.plausible_imported_devices,
	edgestat.plausible_imported_browsers, edgestat.plausible_imported_operating_systems
	FROM PUBLIC;

CREATE TABLE edgestat.imports (
	import_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	site_id int NOT NULL REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	source text NOT NULL,
	first_day date,
	last_day date,
	days int NOT NULL,
	skipped_days int NOT NULL,
	imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE edgestat.imported_days (
	site_id int NOT NULL REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	day date NOT NULL,
	import_id int NOT NULL REFERENCES edgestat.imports (import_id) ON DELETE CASCADE,
	PRIMARY KEY (site_id, day)
);
COMMENT ON TABLE edgestat.imports IS 'imports of other tools'' exports (edgestat.import_plausible)';
COMMENT ON TABLE edgestat.imported_days IS
	'days whose figures were imported rather than measured, per site';
REVOKE ALL ON edgestat.imports, edgestat.imported_days FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('edgestat.imports', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.imported_days', '');

-- A sketch of n synthetic visitors, distinct for each key.
CREATE FUNCTION edgestat.import_sketch(n bigint, key text)
RETURNS hll(14, 5, -1, 1)
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT coalesce(hll_add_agg(hll_hash_bigint(g, hashtext(key)), 14, 5, -1, 1),
					hll_empty(14, 5, -1, 1))
	FROM generate_series(1, n) g;
END;

CREATE FUNCTION edgestat.import_plausible(site text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_hashagg = off AS $$
DECLARE
	sid int := edgestat.report_site_id(site);	-- 42704 if unknown
	iid int;
	n_days int;
	n_skipped int;
	d0 date;
	d1 date;
BEGIN
	-- every day of the staging tables, and whether the site has data then
	CREATE TEMP TABLE import_days ON COMMIT DROP AS
	SELECT d.day,
		   d.day >= (now() AT TIME ZONE 'UTC')::date
		   OR EXISTS (SELECT 1 FROM edgestat.rollup_hourly r
				   WHERE r.site_id = sid
					 AND r.hour >= d.day::timestamp AT TIME ZONE 'UTC'
					 AND r.hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC') AS taken
	FROM (SELECT date AS day FROM edgestat.plausible_imported_visitors
		  UNION SELECT date FROM edgestat.plausible_imported_sources
		  UNION SELECT date FROM edgestat.plausible_imported_pages
		  UNION SELECT date FROM edgestat.plausible_imported_entry_pages
		  UNION SELECT date FROM edgestat.plausible_imported_exit_pages
		  UNION SELECT date FROM edgestat.plausible_imported_custom_events
		  UNION SELECT date FROM edgestat.plausible_imported_locations
		  UNION SELECT date FROM edgestat.plausible_imported_devices
		  UNION SELECT date FROM edgestat.plausible_imported_browsers
		  UNION SELECT date FROM edgestat.plausible_imported_operating_systems) d;
	SELECT count(*) FILTER (WHERE NOT taken), count(*) FILTER (WHERE taken),
		   min(day) FILTER (WHERE NOT taken), max(day) FILTER (WHERE NOT taken)
	INTO n_days, n_skipped, d0, d1
	FROM import_days;

	INSERT INTO edgestat.imports (site_id, source, first_day, last_day, days, skipped_days)
	VALUES (sid, 'plausible', d0, d1, n_days, n_skipped)
	RETURNING import_id INTO iid;
	INSERT INTO edgestat.imported_days (site_id, day, import_id)
	SELECT sid, day, iid FROM import_days WHERE NOT taken;

	-- totals: the day's first hour, sealed (no raw rows to seal from)
	INSERT INTO edgestat.rollup_hourly
		(site_id, hour, visitors, pageviews, events, visits, bounces,
		 visit_pageviews, visit_duration_ms, sealed)
	SELECT sid, v.date::timestamp AT TIME ZONE 'UTC',
		   edgestat.import_sketch(v.visitors::bigint, concat_ws('/', sid, v.date, 'total')),
		   v.pageviews,
		   v.pageviews + coalesce((SELECT sum(c.events) FROM edgestat.plausible_imported_custom_events c
								   WHERE c.date = v.date), 0),
		   v.visits, v.bounces, v.pageviews, v.visit_duration * 1000, true
	FROM (SELECT date, sum(visitors) AS visitors, sum(pageviews) AS pageviews,
				 sum(bounces) AS bounces, sum(visits) AS visits,
				 sum(visit_duration) AS visit_duration
		  FROM edgestat.plausible_imported_visitors GROUP BY date) v
	JOIN import_days i ON i.day = v.date AND NOT i.taken
	ORDER BY 1, 2;

	-- breakdowns: (day, dim, value, visitors, visits, pageviews, events)
	CREATE TEMP TABLE import_dims ON COMMIT DROP AS
	SELECT x.date, x.dim, x.value, sum(x.visitors) AS visitors, sum(x.visits) AS visits,
		   sum(x.pageviews) AS pageviews, sum(x.events) AS events
	FROM (
		SELECT date, 'page' AS dim, page AS value, visitors, 0 AS visits, pageviews,
			   pageviews AS events
		FROM edgestat.plausible_imported_pages
		UNION ALL
		SELECT date, 'event', 'pageview', visitors, 0, pageviews, pageviews
		FROM edgestat.plausible_imported_visitors
		UNION ALL
		SELECT date, 'event', name, visitors, 0, 0, events
		FROM edgestat.plausible_imported_custom_events
		UNION ALL
		SELECT date, 'entry_page', entry_page, visitors, entrances, pageviews, pageviews
		FROM edgestat.plausible_imported_entry_pages
		UNION ALL
		SELECT date, 'exit_page', exit_page, visitors, exits, pageviews, pageviews
		FROM edgestat.plausible_imported_exit_pages
		UNION ALL
		-- edgestat's referrer is the host; Plausible's source names it when
		-- there is no referrer URL
		SELECT date, 'referrer',
			   coalesce(nullif(lower(substring(referrer FROM '^(?:[a-z]+://)?(?:www\.)?([^/:?#]+)')), ''),
						CASE WHEN source IN ('', 'Direct / None') THEN '' ELSE source END, ''),
			   visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_sources
		UNION ALL
		SELECT date, 'utm_source', coalesce(utm_source, ''), visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_sources
		UNION ALL
		SELECT date, 'utm_medium', coalesce(utm_medium, ''), visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_sources
		UNION ALL
		SELECT date, 'utm_campaign', coalesce(utm_campaign, ''), visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_sources
		UNION ALL
		SELECT date, 'country', CASE WHEN country = 'ZZ' THEN '' ELSE coalesce(country, '') END,
			   visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_locations
		UNION ALL
		SELECT date, 'region', coalesce(region, ''), visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_locations
		UNION ALL
		SELECT date, 'device',
			   CASE lower(coalesce(device, '')) WHEN 'laptop' THEN 'desktop'
					WHEN '(not set)' THEN '' ELSE lower(coalesce(device, '')) END,
			   visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_devices
		UNION ALL
		SELECT date, 'browser', CASE WHEN browser = '(not set)' THEN '' ELSE coalesce(browser, '') END,
			   visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_browsers
		UNION ALL
		SELECT date, 'os',
			   CASE operating_system WHEN 'Mac' THEN 'macOS' WHEN 'GNU/Linux' THEN 'Linux'
					WHEN '(not set)' THEN '' ELSE coalesce(operating_system, '') END,
			   visitors, visits, pageviews, pageviews
		FROM edgestat.plausible_imported_operating_systems
	) x
	JOIN import_days i ON i.day = x.date AND NOT i.taken
	GROUP BY 1, 2, 3;

	INSERT INTO edgestat.rollup_dims_hourly
		(site_id, dim, hour, value, visitors, visits, pageviews, events)
	SELECT sid, dim, date::timestamp AT TIME ZONE 'UTC', value,
		   edgestat.import_sketch(visitors::bigint, concat_ws('/', sid, date, dim, value)),
		   visits, pageviews, events
	FROM import_dims ORDER BY 1, 2, 3, 4;
	INSERT INTO edgestat.rollup_dims_daily
		(site_id, dim, day, value, visitors, visits, pageviews, events)
	SELECT sid, dim, date::timestamp AT TIME ZONE 'UTC', value,
		   edgestat.import_sketch(visitors::bigint, concat_ws('/', sid, date, dim, value)),
		   visits, pageviews, events
	FROM import_dims ORDER BY 1, 2, 3, 4;

	TRUNCATE edgestat.plausible_imported_visitors, edgestat.plausible_imported_sources,
		edgestat.plausible_imported_pages, edgestat.plausible_imported_entry_pages,
		edgestat.plausible_imported_exit_pages, edgestat.plausible_imported_custom_events,
		edgestat.plausible_imported_locations, edgestat.plausible_imported_devices,
		edgestat.plausible_imported_browsers, edgestat.plausible_imported_operating_systems;

	RETURN jsonb_build_object('import_id', iid, 'days', n_days, 'skipped_days', n_skipped,
							  'first_day', d0, 'last_day', d1);
END
$$;
COMMENT ON FUNCTION edgestat.import_plausible(text) IS
	'folds the Plausible CSV export in the edgestat.plausible_imported_* staging tables into the site''s rollups (days without data only) and empties them';

REVOKE ALL ON FUNCTION edgestat.import_sketch(bigint, text), edgestat.import_plausible(text)
	FROM PUBLIC;
