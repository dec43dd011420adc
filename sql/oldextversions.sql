--
-- Upgrades keep every row: install the released 1.0, fill it through
-- edgestat.ingest (sites, beacons, a dashboard token, changed weights),
-- record every table and the reports, ALTER EXTENSION edgestat UPDATE,
-- and compare (in the manner of pg_stat_statements' oldextversions test).
--
-- It runs in a database of its own, so the other tests keep the
-- extension at the default version in contrib_regression.
--
\set regressdb :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS edgestat_oldext;
CREATE DATABASE edgestat_oldext;
\c edgestat_oldext
SET client_min_messages = warning;
SET TimeZone = 'UTC';

CREATE EXTENSION edgestat VERSION '1.0' CASCADE;
SELECT extversion FROM pg_extension WHERE extname = 'edgestat';

-- 1.0, filled (today's partition made here: who else makes it, the writer
-- or a maintenance worker, differs between versions of the library)
SELECT edgestat.ensure_partitions(2) >= 0 AS partitions_ready;
SELECT edgestat.add_site('upgrade.test') AS site_a,
	   edgestat.add_site('second.test', ARRAY['https://www.second.test']) AS site_b;

CREATE FUNCTION beacon(d text, v int, s int, n text, u text, q int, extra jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql AS $$
	SELECT jsonb_build_object(
		'd', d, 'n', n, 'u', 'https://' || d || u,
		'v', 'c0ffee00-0000-4000-8000-' || lpad(v::text, 12, '0'),
		's', 'd0ffee00-0000-4000-8000-' || lpad(s::text, 12, '0'),
		'q', q) || extra
$$;
\set chrome 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
\set iphone 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1'

-- visitor 1: two sessions on site a, from a search engine, scrolling, a goal
SELECT edgestat.ingest(jsonb_build_array(
	beacon('upgrade.test', 1, 1, 'pageview', '/?utm_source=news&utm_medium=mail&utm_campaign=v11', 1,
		   '{"r": "https://www.google.com/", "w": 1280}'),
	beacon('upgrade.test', 1, 1, 'scroll', '/', 2, '{"sd": 50}'),
	beacon('upgrade.test', 1, 1, 'heartbeat', '/', 3, '{"et": 15000, "ic": 2}'),
	beacon('upgrade.test', 1, 1, 'pageview', '/pricing', 4),
	beacon('upgrade.test', 1, 1, 'signup', '/pricing', 5, '{"p": {"plan": "pro"}}'))::text,
	'192.0.2.1', :'chrome') AS accepted;
SELECT edgestat.ingest(jsonb_build_array(
	beacon('upgrade.test', 1, 2, 'pageview', '/blog/one', 1),
	beacon('upgrade.test', 1, 2, 'leave', '/blog/one', 2))::text,
	'192.0.2.1', :'chrome') AS accepted;
-- visitors 2 and 3: one bounce each, from a phone
SELECT edgestat.ingest(jsonb_build_array(
	beacon('upgrade.test', 2, 3, 'pageview', '/blog/one', 1, '{"r": "https://news.example.org/x", "w": 390}'),
	beacon('upgrade.test', 3, 4, 'pageview', '/', 1, '{"w": 390}'))::text,
	'192.0.2.2', :'iphone') AS accepted;
-- site b
SELECT edgestat.ingest(beacon('second.test', 4, 5, 'pageview', '/', 1)::text,
	'192.0.2.3', :'chrome') AS accepted;
-- an event of a day without a partition: the DEFAULT partition has rows too
INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path)
SELECT '2021-06-01 12:00+00', site_id, 'c0ffee00-0000-4000-8000-000000000009',
	   'd0ffee00-0000-4000-8000-000000000009', 'pageview', '/old'
FROM edgestat.sites WHERE domain = 'upgrade.test';
SELECT count(*) AS in_default FROM edgestat.events_default;

-- a dashboard token and changed weights
CREATE TABLE saved AS SELECT edgestat.dashboard_token('upgrade.test') AS token;
UPDATE edgestat.score_weights SET weight = 0.8 WHERE feature = 'pageviews';

-- Every table of the extension (partitions through their parent) with
-- its columns in 1.0: its rows and a fingerprint of their contents, over
-- those columns (1.1 may add columns; it must not change what was there).
CREATE TABLE tables_10 AS
SELECT c.oid::regclass::text AS tab,
	   string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS cols
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'edgestat'::regnamespace
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped
GROUP BY c.oid;
CREATE FUNCTION snapshot() RETURNS TABLE (tab text, n bigint, fingerprint text)
LANGUAGE plpgsql AS $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT * FROM tables_10 ORDER BY 1 LOOP
		tab := t.tab;
		EXECUTE format('SELECT count(*), md5(coalesce(string_agg(x::text, ''|'' ORDER BY x::text), ''''))
						FROM (SELECT %s FROM %s) x', t.cols, t.tab) INTO n, fingerprint;
		RETURN NEXT;
	END LOOP;
END
$$;

-- Every report over the data, as one JSON value per report.
CREATE TABLE range AS
SELECT date_trunc('day', now()) - interval '1 day' AS since,
	   date_trunc('day', now()) + interval '2 days' AS until,
	   timestamptz '2021-06-01' AS old_since;
CREATE FUNCTION reports() RETURNS TABLE (report text, answer text)
LANGUAGE sql AS $$
	SELECT 'summary ' || s.site, (SELECT row_to_json(x)::text
		FROM edgestat.summary(s.site, r.since, r.until) x)
	FROM range r, (VALUES ('upgrade.test'), ('second.test')) s(site)
	UNION ALL
	SELECT 'summary old day', (SELECT row_to_json(x)::text
		FROM edgestat.summary('upgrade.test', r.old_since, r.old_since + interval '1 day') x)
	FROM range r
	UNION ALL
	SELECT 'timeseries', (SELECT json_agg(x ORDER BY x.bucket)::text
		FROM edgestat.timeseries('upgrade.test', r.since, r.until, '1 day') x)
	FROM range r
	UNION ALL
	SELECT 'breakdown ' || d.dim, (SELECT json_agg(x ORDER BY x.value)::text
		FROM edgestat.breakdown('upgrade.test', d.dim, r.since, r.until, 100) x)
	FROM range r, unnest(ARRAY['page', 'entry_page', 'exit_page', 'referrer',
		'utm_source', 'utm_medium', 'utm_campaign', 'country', 'region', 'city',
		'browser', 'os', 'device', 'event']) d(dim)
	UNION ALL
	SELECT 'dashboard summary', edgestat.dashboard_api(s.token, 'summary',
		jsonb_build_object('since', r.since, 'until', r.until))::text
	FROM saved s, range r
$$;

CREATE TABLE before_tables AS SELECT * FROM snapshot();
CREATE TABLE before_reports AS SELECT * FROM reports();
-- (how many rollup rows depends on the hours the test runs in)
SELECT tab, CASE WHEN tab NOT LIKE 'edgestat.rollup%' THEN n END AS n, n > 0 AS has_rows
FROM before_tables ORDER BY tab;
-- the figures the comparison is about
SELECT report, answer FROM before_reports
WHERE report IN ('summary upgrade.test', 'summary old day', 'breakdown page',
				 'breakdown referrer', 'breakdown device')
ORDER BY report;

-- the upgrade
ALTER EXTENSION edgestat UPDATE;
SELECT e.extversion = a.default_version AS at_default_version
FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
WHERE e.extname = 'edgestat';

-- every row of every table of 1.0 is still there, unchanged
SELECT b.tab, a.n = b.n AS same_rows, a.fingerprint = b.fingerprint AS same_contents
FROM before_tables b LEFT JOIN snapshot() a USING (tab)
ORDER BY b.tab;
-- and every report answers the same
SELECT b.report, a.answer IS NOT DISTINCT FROM b.answer AS same_answer
FROM before_reports b LEFT JOIN reports() a USING (report)
ORDER BY b.report;

-- the daily partitions (and the DEFAULT one) each carry their own index
SELECT count(*) > 0 AS has_partitions,
	   bool_and(EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = p.inhrelid)) AS each_indexed
FROM pg_inherits p WHERE p.inhparent = 'edgestat.events'::regclass;

-- and ingestion goes on after the update
SELECT edgestat.ingest(beacon('upgrade.test', 5, 6, 'pageview', '/after', 1)::text,
	'192.0.2.4', :'chrome') AS accepted;
SELECT count(*) AS events_now FROM edgestat.events;
SELECT (SELECT (x->>'pageviews')::int FROM edgestat.dashboard_api(token, 'summary') x) AS dashboard_pageviews
FROM saved;

\c :regressdb
SET client_min_messages = warning;
DROP DATABASE edgestat_oldext WITH (FORCE);
