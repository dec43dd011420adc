--
-- Hardening (issue 10, items 2 and 12): nothing executable by PUBLIC, every
-- function resolves names in trusted schemas only, and a hostile
-- non-superuser who may create objects in public (a database owner on
-- PostgreSQL 15) cannot get a superuser to run its code through
-- ingestion, the rollup triggers, sealing or reports.
--

-- no function of the extension is executable by PUBLIC
SELECT p.oid::regprocedure AS public_executable
FROM pg_proc p
WHERE p.pronamespace = 'edgestat'::regnamespace
  AND has_function_privilege('public', p.oid, 'EXECUTE')
ORDER BY 1;

-- a role given nothing can call none of the four 1.0 left open
CREATE ROLE nobody_in_particular;
GRANT USAGE ON SCHEMA edgestat TO nobody_in_particular;
SET ROLE nobody_in_particular;
SELECT edgestat.dashboard_api('x', 'site', '{}');
SELECT edgestat.live_visitors('example.com');
SELECT * FROM edgestat.stats();
SELECT edgestat.hour_ceil(now());
RESET ROLE;
DROP OWNED BY nobody_in_particular;
DROP ROLE nobody_in_particular;

-- every function that is not plain C: a search_path of trusted schemas,
-- pg_catalog first and pg_temp last
SELECT p.oid::regprocedure AS unsafe_search_path, p.proconfig
FROM pg_proc p
WHERE p.pronamespace = 'edgestat'::regnamespace
  AND (p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
	   OR p.prosecdef OR p.proname IN ('live_visitors', 'live_visitor_ids'))
  AND NOT coalesce((SELECT s ~ '^search_path=pg_catalog(, edgestat)?, pg_temp$'
					FROM unnest(p.proconfig) s WHERE s LIKE 'search_path=%'), false)
ORDER BY 1;

-- no function body of the extension names hll unqualified
SELECT p.oid::regprocedure AS unqualified_hll
FROM pg_proc p
WHERE p.pronamespace = 'edgestat'::regnamespace
  AND p.prosrc ~ '(?<![.\w])hll_\w+\('
ORDER BY 1;

-- ---- a hostile creator in public ----
-- Traps that would win resolution over hll's and pg_catalog's functions
-- for someone whose search_path includes public; each records its call.
CREATE ROLE hostile_owner;
GRANT CREATE ON SCHEMA public TO hostile_owner;
SET ROLE hostile_owner;
CREATE TABLE public.trap_calls (fn text, by_role text);
GRANT INSERT ON public.trap_calls TO PUBLIC;
SELECT n.nspname = 'public' AS hll_in_public
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'hll';
CREATE FUNCTION public.hll_empty(int, int, int, int) RETURNS public.hll
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trap_calls VALUES ('hll_empty', current_user);
	RETURN public.hll_empty($1, $2, $3::bigint, $4);
END $$;
CREATE FUNCTION public.hll_hash_any(uuid) RETURNS public.hll_hashval
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trap_calls VALUES ('hll_hash_any', current_user);
	RETURN public.hll_hash_any($1::text);
END $$;
-- (no hll_add_agg trap: any second function of that name makes hll's
-- own C code fail with 42725, a denial of service hll itself allows)
CREATE FUNCTION public.unnest(timestamptz[]) RETURNS SETOF timestamptz
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trap_calls VALUES ('unnest', current_user);
	RETURN QUERY SELECT pg_catalog.unnest($1);
END $$;
RESET ROLE;

-- ingest as a superuser whose own search_path includes public
\set chrome 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
SET search_path = public, pg_catalog;
SELECT edgestat.add_site('hardening.test');
SELECT edgestat.ingest(beacon(jsonb_build_object(
	'd', 'hardening.test', 'u', 'https://hardening.test/h' || i,
	'v', '33333333-3333-4333-8333-33333333333' || i)),
	'192.0.2.1', :'chrome') AS accepted
FROM generate_series(1, 3) i;
SELECT count(*) AS events_stored FROM edgestat.events e
JOIN edgestat.sites s USING (site_id) WHERE s.domain = 'hardening.test';
-- sealing builds the sketches; reports read them
SELECT edgestat.seal_rollups(now() + interval '3 hours') >= 0 AS sealed;
SELECT pageviews, visitors FROM edgestat.summary('hardening.test',
	edgestat.hour_ceil(now()) - interval '1 day', edgestat.hour_ceil(now()));
SELECT value, pageviews FROM edgestat.breakdown('hardening.test', 'page',
	edgestat.hour_ceil(now()) - interval '1 day', edgestat.hour_ceil(now()), 5)
ORDER BY value;
RESET search_path;

-- not one trap was called
SELECT fn, count(*) AS trap_calls FROM public.trap_calls GROUP BY fn ORDER BY fn;

DROP OWNED BY hostile_owner;
DROP ROLE hostile_owner;

-- ---- live marks and the feed are what committed (item 7) ----
SELECT edgestat.add_site('live.test');
BEGIN;
SELECT edgestat.ingest(beacon('{"d": "live.test", "u": "https://live.test/kept",
	"v": "44444444-4444-4444-8444-444444444441"}'), '192.0.2.2', :'chrome');
SAVEPOINT s;
SELECT edgestat.ingest(beacon('{"d": "live.test", "u": "https://live.test/undone",
	"v": "44444444-4444-4444-8444-444444444442"}'), '192.0.2.2', :'chrome');
-- inside, the transaction sees its own visitors
SELECT edgestat.live_visitors('live.test') AS live_inside;
ROLLBACK TO SAVEPOINT s;
SAVEPOINT t;
SELECT edgestat.ingest(beacon('{"d": "live.test", "u": "https://live.test/released",
	"v": "44444444-4444-4444-8444-444444444443"}'), '192.0.2.2', :'chrome');
RELEASE SAVEPOINT t;
COMMIT;
BEGIN;
SELECT edgestat.ingest(beacon('{"d": "live.test", "u": "https://live.test/aborted",
	"v": "44444444-4444-4444-8444-444444444444"}'), '192.0.2.2', :'chrome');
ROLLBACK;
SELECT edgestat.live_visitors('live.test') AS live_after;
SELECT visitor_id FROM edgestat.live_visitor_ids('live.test') ORDER BY 1;
SELECT path FROM edgestat.events e JOIN edgestat.sites s USING (site_id)
WHERE s.domain = 'live.test' ORDER BY 1;

-- ---- live slots do not come from the visitor id's bytes (item 9) ----
-- 24 visitors whose ids share their first bytes: with the slot taken from
-- those bytes they all fought over one run of 8 slots
SELECT edgestat.add_site('slots.test');
SELECT sum(edgestat.ingest(beacon(jsonb_build_object('d', 'slots.test',
	'u', 'https://slots.test/p' || i,
	'v', 'abcdef01-0000-4000-8000-' || lpad(i::text, 12, '0'))),
	'192.0.2.3', :'chrome')) AS accepted
FROM generate_series(1, 24) i;
SELECT edgestat.live_visitors('slots.test') AS live_of_24;
