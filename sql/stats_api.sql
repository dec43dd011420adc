-- Plausible's Stats API v2 (docs/compat.md): filters (is, is_not,
-- contains, contains_not, matches, matches_not, and, or, not) and queries
-- of several dimensions, each answer checked against a computation of its
-- own straight from the raw tables; the filter tree form of the SQL
-- reports (docs/analytics.md); the errors.
--
-- A scripted data set on a site of its own (statsapi.test), written
-- straight into events and sessions, June 2019 (no other test has data
-- then).  All times UTC.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS edgestat CASCADE;
RESET client_min_messages;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
\pset null '(null)'

SELECT pg_get_serial_sequence('edgestat.sites', 'site_id') AS site_seq \gset
SELECT last_value AS seq_last, is_called AS seq_called FROM :site_seq \gset
SELECT edgestat.add_site('statsapi.test') > 0 AS site;

-- Sessions: visitor, country, browser, os, device, referrer, utm_source
CREATE TEMP TABLE sess (s int, v int, country text, browser text, os text,
    device text, referrer_host text, utm_source text);
INSERT INTO sess VALUES
 (1, 1, 'DE', 'Chrome', 'Linux', 'desktop', 'news.example', 'nl'),
 (2, 2, 'DE', 'Firefox', 'Windows', 'desktop', NULL, NULL),
 (3, 3, 'US', 'Chrome', 'Android', 'mobile', 'search.example', NULL),
 (4, 4, NULL, 'Safari', 'iOS', 'mobile', NULL, NULL),
 (5, 1, 'DE', 'Chrome', 'Linux', 'desktop', NULL, NULL),
 (6, 5, 'FR', 'Chrome', 'Windows', 'desktop', 'news.example', NULL),
 (7, 6, 'US', 'Firefox', 'Linux', 'desktop', NULL, NULL);
-- Events: session, time, name, path
CREATE TEMP TABLE ev (e int, s int, ts timestamptz, name text, path text);
INSERT INTO ev VALUES
 (1, 1, '2019-06-03 10:00', 'pageview', '/'),
 (2, 1, '2019-06-03 10:02', 'pageview', '/blog/one'),
 (3, 1, '2019-06-03 10:03', 'heartbeat', '/blog/one'),
 (4, 1, '2019-06-03 10:05', 'signup', '/signup'),
 (5, 2, '2019-06-03 11:00', 'pageview', '/pricing'),
 (6, 2, '2019-06-03 11:05', 'pageview', '/Blog/Two'),
 (7, 3, '2019-06-04 09:00', 'pageview', '/blog/one'),
 (8, 3, '2019-06-04 09:01', 'heartbeat', '/blog/one'),
 (9, 4, '2019-06-04 12:00', 'pageview', '/'),
 (10, 4, '2019-06-04 12:10', 'pageview', '/pricing'),
 (11, 4, '2019-06-04 12:11', 'purchase', '/pricing'),
 (12, 5, '2019-06-10 08:00', 'pageview', '/pricing'),
 (13, 6, '2019-06-10 14:00', 'pageview', '/'),
 (14, 6, '2019-06-10 14:01', 'signup', '/signup'),
 (15, 6, '2019-06-10 14:02', 'pageview', '/blog/three'),
 (16, 7, '2019-06-20 20:00', 'pageview', '/docs'),
 (17, 7, '2019-06-20 20:05', 'pageview', '/docs/api'),
 (18, 7, '2019-06-20 20:06', 'scroll', '/docs/api');
CREATE FUNCTION sapi_vid(int) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('c1c1c1c1-0000-4000-8000-' || lpad($1::text, 12, '0'))::uuid;
CREATE FUNCTION sapi_sid(int) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('d1d1d1d1-0000-4000-8000-' || lpad($1::text, 12, '0'))::uuid;
INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path,
    seq, referrer_host, utm_source, country, browser, os, device)
SELECT ev.ts, st.site_id, sapi_vid(sess.v), sapi_sid(sess.s), ev.name, ev.path, ev.e,
       sess.referrer_host, sess.utm_source, sess.country, sess.browser, sess.os,
       sess.device
FROM ev JOIN sess USING (s), edgestat.sites st WHERE st.domain = 'statsapi.test'
ORDER BY ev.e;
INSERT INTO edgestat.sessions (site_id, session_id, visitor_id, started_at,
    last_seen, entry_page, exit_page, referrer_host, utm_source, country,
    browser, os, device, events, pageviews, heartbeats, goals)
SELECT st.site_id, sapi_sid(sess.s), sapi_vid(sess.v), min(ev.ts), max(ev.ts),
       (array_agg(ev.path ORDER BY ev.ts))[1], (array_agg(ev.path ORDER BY ev.ts DESC))[1],
       sess.referrer_host, sess.utm_source, sess.country, sess.browser, sess.os,
       sess.device, count(*), count(*) FILTER (WHERE ev.name = 'pageview'),
       count(*) FILTER (WHERE ev.name = 'heartbeat'),
       count(*) FILTER (WHERE ev.name IN ('signup', 'purchase'))
FROM ev JOIN sess USING (s), edgestat.sites st WHERE st.domain = 'statsapi.test'
GROUP BY st.site_id, sess.s, sess.v, sess.referrer_host, sess.utm_source,
    sess.country, sess.browser, sess.os, sess.device;
SELECT edgestat.seal_rollups('2019-07-01') >= 0 AS sealed;
SELECT edgestat.api_key('statsapi.test') AS key \gset
-- Goals (event:goal): two custom events and a page pattern
SELECT edgestat.add_goal('statsapi.test', 'signup', event => 'signup') > 0 AS goal,
       edgestat.add_goal('statsapi.test', 'purchase', event => 'purchase') > 0 AS goal,
       edgestat.add_goal('statsapi.test', 'Blog', page => '/blog/*') > 0 AS goal;

-- The query with the fixed parts; q: the keys that vary.
CREATE FUNCTION api(q jsonb) RETURNS jsonb LANGUAGE sql
RETURN edgestat.stats_api(current_setting('sapi.key'),
    '{"site_id": "statsapi.test", "date_range": ["2019-06-01", "2019-06-30"]}' || q,
    '2019-06-30');
SELECT set_config('sapi.key', :'key', false) IS NOT NULL AS key_set;

-- The aggregate the Stats API should give for a predicate on an event e
-- and its session s, computed here without edgestat's filter compiler:
-- [visitors, visits, pageviews, events] of the kept events (events of
-- June for which it holds) and kept sessions (with a kept event).
CREATE FUNCTION want(pred text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    EXECUTE format($q$
        WITH k AS (
            SELECT e.* FROM edgestat.events e
            JOIN edgestat.sessions s ON s.site_id = e.site_id AND s.session_id = e.session_id
            JOIN edgestat.sites st ON st.site_id = e.site_id
            WHERE st.domain = 'statsapi.test' AND e.ts >= '2019-06-01' AND e.ts < '2019-07-01'
              AND (%s))
        SELECT jsonb_build_array(
            (SELECT count(DISTINCT k.visitor_id) FROM k),
            (SELECT count(DISTINCT k.session_id) FROM k),
            (SELECT count(*) FROM k WHERE k.name = 'pageview'),
            (SELECT count(*) FROM k WHERE k.name NOT IN ('heartbeat', 'scroll', 'interaction', 'leave')))$q$,
        pred) INTO r;
    RETURN r;
END
$$;
CREATE FUNCTION agg(filters jsonb) RETURNS jsonb LANGUAGE sql
RETURN api(jsonb_build_object('metrics', '["visitors", "visits", "pageviews", "events"]'::jsonb,
                              'filters', filters))->'results'->0->'metrics';

-- ===================== filters, aggregate =====================
-- No filter: V1..V6 = 6, S1..S7 = 7, 12 pageviews, 15 events (pageviews
-- and the custom E4, E11, E14; not the heartbeats and the scroll).
SELECT agg('[]') AS got, want('true') AS want, agg('[]') = want('true') AS same;
-- is: country DE (S1, S2, S5: V1, V2)
SELECT agg('[["is", "visit:country", ["DE"]]]') AS got,
       want($$s.country = 'DE'$$) AS want,
       agg('[["is", "visit:country", ["DE"]]]') = want($$s.country = 'DE'$$) AS same;
-- is_not: country DE: FR, US and the unknown country (S4) stay
SELECT agg('[["is_not", "visit:country", ["DE"]]]') AS got,
       want($$s.country IS DISTINCT FROM 'DE'$$) AS want,
       agg('[["is_not", "visit:country", ["DE"]]]') = want($$s.country IS DISTINCT FROM 'DE'$$) AS same;
-- is_not on a page: the events on other pages (any kind), and the
-- sessions with one (S1 has / and /blog/one: kept; S3 only /blog/one: not)
SELECT agg('[["is_not", "event:page", ["/blog/one"]]]') AS got,
       want($$e.path <> '/blog/one'$$) AS want,
       agg('[["is_not", "event:page", ["/blog/one"]]]') = want($$e.path <> '/blog/one'$$) AS same;
-- contains: substring, case-sensitive (not /Blog/Two)
SELECT agg('[["contains", "event:page", ["/blog"]]]') AS got,
       want($$strpos(e.path, '/blog') > 0$$) AS want,
       agg('[["contains", "event:page", ["/blog"]]]') = want($$strpos(e.path, '/blog') > 0$$) AS same;
-- contains, case-insensitive: /Blog/Two too
SELECT agg('[["contains", "event:page", ["/BLOG"], {"case_sensitive": false}]]') AS got,
       want($$strpos(lower(e.path), '/blog') > 0$$) AS want,
       agg('[["contains", "event:page", ["/BLOG"], {"case_sensitive": false}]]')
         = want($$strpos(lower(e.path), '/blog') > 0$$) AS same;
-- contains: LIKE's wildcards are plain characters
SELECT agg('[["contains", "event:page", ["_"]]]') AS got, want('false') AS want;
-- contains_not of two values: neither
SELECT agg('[["contains_not", "event:page", ["blog", "docs"]]]') AS got,
       want($$strpos(e.path, 'blog') = 0 AND strpos(e.path, 'docs') = 0$$) AS want,
       agg('[["contains_not", "event:page", ["blog", "docs"]]]')
         = want($$strpos(e.path, 'blog') = 0 AND strpos(e.path, 'docs') = 0$$) AS same;
-- matches / matches_not: regular expressions
SELECT agg('[["matches", "event:page", ["^/docs(/|$)"]]]') AS got,
       want($$e.path IN ('/docs', '/docs/api')$$) AS want,
       agg('[["matches", "event:page", ["^/docs(/|$)"]]]') = want($$e.path IN ('/docs', '/docs/api')$$) AS same;
SELECT agg('[["matches_not", "visit:referrer", ["\\.example$"]]]') AS got,
       want($$s.referrer_host IS NULL$$) AS want,
       agg('[["matches_not", "visit:referrer", ["\\.example$"]]]') = want($$s.referrer_host IS NULL$$) AS same;
-- is, case-insensitive, on a visit dimension
SELECT agg('[["is", "visit:browser", ["chrome"], {"case_sensitive": false}]]') AS got,
       want($$s.browser = 'Chrome'$$) AS want,
       agg('[["is", "visit:browser", ["chrome"], {"case_sensitive": false}]]') = want($$s.browser = 'Chrome'$$) AS same;
-- or of a visit and an event dimension: per event
SELECT agg('[["or", [["is", "visit:country", ["FR"]], ["is", "event:page", ["/pricing"]]]]]') AS got,
       want($$s.country = 'FR' OR e.path = '/pricing'$$) AS want,
       agg('[["or", [["is", "visit:country", ["FR"]], ["is", "event:page", ["/pricing"]]]]]')
         = want($$s.country = 'FR' OR e.path = '/pricing'$$) AS same;
-- not
SELECT agg('[["not", ["is", "visit:browser", ["Chrome"]]]]') AS got,
       want($$s.browser <> 'Chrome'$$) AS want,
       agg('[["not", ["is", "visit:browser", ["Chrome"]]]]') = want($$s.browser <> 'Chrome'$$) AS same;
-- nested: and (implicit) of or, not and contains
SELECT agg('[["or", [["is", "visit:device", ["mobile"]], ["is", "visit:os", ["Linux"]]]], ["not", ["contains", "event:page", ["docs"]]]]') AS got,
       want($$(s.device = 'mobile' OR s.os = 'Linux') AND strpos(e.path, 'docs') = 0$$) AS want,
       agg('[["or", [["is", "visit:device", ["mobile"]], ["is", "visit:os", ["Linux"]]]], ["not", ["contains", "event:page", ["docs"]]]]')
         = want($$(s.device = 'mobile' OR s.os = 'Linux') AND strpos(e.path, 'docs') = 0$$) AS same;
-- the label of a missing attribute selects it: direct traffic (S2, S4,
-- S5, S7), and the unknown country (S4) or FR
SELECT agg('[["is", "visit:source", ["Direct / None"]]]') AS got,
       want($$s.referrer_host IS NULL$$) AS want,
       agg('[["is", "visit:source", ["Direct / None"]]]') = want($$s.referrer_host IS NULL$$) AS same;
SELECT agg('[["is", "visit:country", ["(none)", "FR"]]]') AS got,
       want($$s.country IS NULL OR s.country = 'FR'$$) AS want,
       agg('[["is", "visit:country", ["(none)", "FR"]]]') = want($$s.country IS NULL OR s.country = 'FR'$$) AS same;
SELECT agg('[["is_not", "visit:country", ["(none)", "FR"]]]') AS got,
       want($$s.country <> 'FR'$$) AS want,
       agg('[["is_not", "visit:country", ["(none)", "FR"]]]') = want($$s.country <> 'FR'$$) AS same;
-- a goal (signup, a custom event goal): the events of that name, their
-- visitors; conversion rate over all 6 visitors (V1, V5 signed up: 33.33)
SELECT api('{"metrics": ["visitors", "events", "conversion_rate"], "filters": [["is", "event:goal", ["signup"]]]}')->'results'->0->'metrics' AS got,
       want($$e.name = 'signup'$$) AS want_visitors_visits_pageviews_events;

-- ===================== goals (event:goal) =====================
-- event:goal is the site's goals (goal_defs), not event names: the want()
-- predicates spell the goals out by hand.
-- a page goal: the pageviews of /blog/* (E2, E7, E15: V1, V3, V5)
SELECT agg('[["is", "event:goal", ["Blog"]]]') AS got,
       want($$e.name = 'pageview' AND e.path LIKE '/blog/%'$$) AS want,
       agg('[["is", "event:goal", ["Blog"]]]') = want($$e.name = 'pageview' AND e.path LIKE '/blog/%'$$) AS same;
-- two goals, a page one and a custom event one: either
SELECT agg('[["is", "event:goal", ["Blog", "purchase"]]]') AS got,
       agg('[["is", "event:goal", ["Blog", "purchase"]]]')
       = want($$(e.name = 'pageview' AND e.path LIKE '/blog/%') OR e.name = 'purchase'$$) AS same;
-- contains: the goals whose name contains "u" (signup, purchase)
SELECT agg('[["contains", "event:goal", ["u"]]]') AS got,
       agg('[["contains", "event:goal", ["u"]]]') = want($$e.name IN ('signup', 'purchase')$$) AS same;
-- ignoring case: "BLOG" names Blog
SELECT agg('[["contains", "event:goal", ["BLOG"], {"case_sensitive": false}]]')
       = want($$e.name = 'pageview' AND e.path LIKE '/blog/%'$$) AS same,
       agg('[["is", "event:goal", ["blog"], {"case_sensitive": false}]]')
       = want($$e.name = 'pageview' AND e.path LIKE '/blog/%'$$) AS same_is;
-- a page pattern's other characters are plain: "." is no wildcard
-- (/docs/api is not /docs/a.i*), "(" no group
SELECT edgestat.add_goal('statsapi.test', 'Dot', page => '/docs/a.i*') > 0 AS goal,
       edgestat.add_goal('statsapi.test', 'Paren', page => '/pricing(*') > 0 AS goal,
       edgestat.add_goal('statsapi.test', 'Docs', page => '/d*s/*i') > 0 AS goal;
SELECT agg('[["is", "event:goal", ["Dot", "Paren"]]]') AS none,
       agg('[["is", "event:goal", ["Docs"]]]') AS docs,
       agg('[["is", "event:goal", ["Docs"]]]') = want($$e.name = 'pageview' AND e.path LIKE '/d%s/%i'$$) AS same;
DELETE FROM edgestat.goal_defs WHERE name IN ('Dot', 'Paren', 'Docs')
    AND site_id = (SELECT site_id FROM edgestat.sites WHERE domain = 'statsapi.test');
-- contains naming no goal: nothing (an unknown goal with is: 400 below)
SELECT agg('[["contains", "event:goal", ["nope"]]]') AS none;
-- an event named like no goal is no goal: "heartbeat" is an event, not a goal
SELECT api('{"metrics": ["visitors"], "filters": [["contains", "event:goal", ["heartbeat"]]]}')->'results'->0->'metrics' AS no_goal;
-- conversion_rate keeps the other filters: Blog among DE's visitors (V1
-- of V1, V2: 50), computed here from want()
SELECT api('{"metrics": ["visitors", "conversion_rate"], "filters": [["is", "event:goal", ["Blog"]], ["is", "visit:country", ["DE"]]]}')->'results'->0->'metrics' AS got,
       jsonb_build_array(
           want($$e.name = 'pageview' AND e.path LIKE '/blog/%' AND s.country = 'DE'$$)->0,
           round(100.0 * (want($$e.name = 'pageview' AND e.path LIKE '/blog/%' AND s.country = 'DE'$$)->>0)::numeric
                 / (want($$s.country = 'DE'$$)->>0)::numeric, 2)) AS want;
-- per day: each day's visitors are the base (06-03: V1 of V1, V2; 06-04:
-- none of V3, V4)
SELECT x AS signup_by_day FROM jsonb_array_elements(api('{"metrics": ["visitors", "conversion_rate"], "dimensions": ["time:day"], "date_range": ["2019-06-03", "2019-06-04"], "filters": [["is", "event:goal", ["signup"]]]}')->'results') x;
-- goals by day: the base is the day's visitors (06-03: V1, V2; 06-04:
-- V3, V4), each goal's conversions over it
SELECT x AS goal_by_day FROM jsonb_array_elements(api('{"metrics": ["visitors", "conversion_rate"], "dimensions": ["time:day", "event:goal"], "date_range": ["2019-06-03", "2019-06-04"]}')->'results') x;
-- the goals without filters (goals(), from the rollups): each goal's
-- visitors and conversions, over all 6 visitors
SELECT x AS goals FROM jsonb_array_elements(api('{"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]}')->'results') x;
SELECT api('{"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]}')->'results'
     = (SELECT jsonb_agg(jsonb_build_object('dimensions', jsonb_build_array(g),
                                            'metrics', jsonb_build_array(v, n,
                                                round(100.0 * v / (want('true')->>0)::numeric, 2)))
                         ORDER BY v DESC, g COLLATE "C")
        FROM (SELECT m.g, count(DISTINCT e.visitor_id) AS v, count(*) AS n
              FROM edgestat.events e JOIN edgestat.sites st USING (site_id)
              CROSS JOIN LATERAL (VALUES ('signup', e.name = 'signup'), ('purchase', e.name = 'purchase'),
                                         ('Blog', e.name = 'pageview' AND e.path LIKE '/blog/%')) m(g, hit)
              WHERE st.domain = 'statsapi.test' AND e.ts >= '2019-06-01' AND e.ts < '2019-07-01' AND m.hit
              GROUP BY 1) x) AS same;
-- with pageviews: grouped from the raw events (a page goal's pageviews)
SELECT x AS goals_pageviews FROM jsonb_array_elements(api('{"metrics": ["pageviews", "visitors"], "dimensions": ["event:goal"]}')->'results') x;
-- the goals, with a visit filter: per goal, its visitors and events among
-- the kept events, and the conversion rate over the filter's visitors
SELECT x AS goals_not_ios FROM jsonb_array_elements(api('{"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"], "filters": [["is_not", "visit:os", ["iOS"]]]}')->'results') x;
SELECT api('{"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"], "filters": [["is_not", "visit:os", ["iOS"]]]}')->'results'
     = (SELECT jsonb_agg(jsonb_build_object('dimensions', jsonb_build_array(g),
                                            'metrics', jsonb_build_array(v, n,
                                                round(100.0 * v / (want($$s.os IS DISTINCT FROM 'iOS'$$)->>0)::numeric, 2)))
                         ORDER BY v DESC, g COLLATE "C")
        FROM (SELECT m.g, count(DISTINCT e.visitor_id) AS v, count(*) AS n
              FROM edgestat.events e JOIN edgestat.sessions s USING (site_id, session_id)
              JOIN edgestat.sites st USING (site_id)
              CROSS JOIN LATERAL (VALUES ('signup', e.name = 'signup'), ('purchase', e.name = 'purchase'),
                                         ('Blog', e.name = 'pageview' AND e.path LIKE '/blog/%')) m(g, hit)
              WHERE st.domain = 'statsapi.test' AND e.ts >= '2019-06-01' AND e.ts < '2019-07-01'
                AND m.hit AND s.os IS DISTINCT FROM 'iOS'
              GROUP BY 1) x) AS same;
-- the goals and a visit dimension with a goal filter: the conversion rate
-- by browser over the browser's visitors, the goal filter removed
SELECT api('{"metrics": ["visitors", "conversion_rate"], "dimensions": ["event:goal", "visit:browser"], "filters": [["contains", "event:goal", ["u"]]]}')->'results'
     = (SELECT jsonb_agg(jsonb_build_object('dimensions', jsonb_build_array(g, browser),
                                            'metrics', jsonb_build_array(v,
                                                round(100.0 * v / (want(format('s.browser = %L', browser))->>0)::numeric, 2)))
                         ORDER BY v DESC, g COLLATE "C", browser COLLATE "C")
        FROM (SELECT e.name AS g, s.browser, count(DISTINCT e.visitor_id) AS v
              FROM edgestat.events e JOIN edgestat.sessions s USING (site_id, session_id)
              JOIN edgestat.sites st USING (site_id)
              WHERE st.domain = 'statsapi.test' AND e.ts >= '2019-06-01' AND e.ts < '2019-07-01'
                AND e.name IN ('signup', 'purchase')
              GROUP BY 1, 2) x) AS goal_browser_same;

-- visit metrics with a filter: bounce rate, views per visit, duration of
-- the kept sessions (S1: 2 pageviews, 300 s; S5: 1, 0 s; S2: 2, 300 s):
-- DE: 3 visits, 5/3 = 1.67 views, 1 bounce of 3 = 33.33, 200 s
SELECT api('{"metrics": ["visits", "views_per_visit", "bounce_rate", "visit_duration"], "filters": [["is", "visit:country", ["DE"]]]}')->'results' AS de_visits;

-- The SQL reports take the same tree, in edgestat's dimension names
SELECT * FROM edgestat.summary('statsapi.test', '2019-06-01', '2019-07-01',
    '[["contains", "page", ["blog"]], ["is_not", "country", ["US"]]]');
SELECT * FROM edgestat.breakdown('statsapi.test', 'browser', '2019-06-01', '2019-07-01', 10,
    '["or", [["is", "country", ["US"]], ["is", "event", ["purchase"]]]]');
SELECT * FROM edgestat.filter_sql('[["is", "country", ["DE"]], ["not", ["is", "os", ["iOS"]]]]');
SELECT * FROM edgestat.filter_items('[["is", "country", ["DE"]], ["or", [["contains", "page", ["a"]], ["is", "browser", ["x", "y"]]]]]');

-- ===================== several dimensions =====================
-- visit dimensions: the sessions that started in the range, grouped
SELECT x AS country_browser FROM jsonb_array_elements(api('{"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"], "dimensions": ["visit:country", "visit:browser"]}')->'results') x;
SELECT api('{"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"], "dimensions": ["visit:country", "visit:browser"]}')->'results'
     = (SELECT jsonb_agg(jsonb_build_object('dimensions', jsonb_build_array(coalesce(country, '(none)'), browser),
                                            'metrics', jsonb_build_array(v, n, pv, br, d))
                         ORDER BY v DESC, coalesce(country, '(none)') COLLATE "C", browser COLLATE "C")
        FROM (SELECT s.country, s.browser, count(DISTINCT s.visitor_id) AS v, count(*) AS n,
                     sum(s.pageviews) AS pv,
                     round(100.0 * count(*) FILTER (WHERE s.pageviews = 1) / count(*), 2) AS br,
                     round(avg(extract(epoch FROM s.last_seen - s.started_at))) AS d
              FROM edgestat.sessions s JOIN edgestat.sites st USING (site_id)
              WHERE st.domain = 'statsapi.test' AND s.started_at >= '2019-06-01' AND s.started_at < '2019-07-01'
              GROUP BY 1, 2) x) AS same;
-- an event dimension and a visit dimension: the events, grouped
SELECT api('{"metrics": ["visitors", "pageviews", "events"], "dimensions": ["event:page", "visit:device"], "filters": [["contains", "event:page", ["/"]]]}')->'results'
     = (SELECT jsonb_agg(jsonb_build_object('dimensions', jsonb_build_array(path, device),
                                            'metrics', jsonb_build_array(v, pv, n))
                         ORDER BY v DESC, path COLLATE "C", device COLLATE "C")
        FROM (SELECT e.path, s.device, count(DISTINCT e.visitor_id) AS v,
                     count(*) FILTER (WHERE e.name = 'pageview') AS pv, count(*) AS n
              FROM edgestat.events e JOIN edgestat.sessions s USING (site_id, session_id)
              JOIN edgestat.sites st USING (site_id)
              WHERE st.domain = 'statsapi.test' AND e.ts >= '2019-06-01' AND e.ts < '2019-07-01'
              GROUP BY 1, 2) x) AS page_device_same;
-- time and a visit dimension, filtered: sessions by start day
SELECT x AS day_browser FROM jsonb_array_elements(api('{"metrics": ["visitors", "visits"], "dimensions": ["time:day", "visit:browser"], "filters": [["is_not", "visit:os", ["iOS"]]]}')->'results') x;
SELECT api('{"metrics": ["visitors", "visits"], "dimensions": ["time:day", "visit:browser"], "filters": [["is_not", "visit:os", ["iOS"]]]}')->'results'
     = (SELECT jsonb_agg(jsonb_build_object('dimensions', jsonb_build_array(d, browser),
                                            'metrics', jsonb_build_array(v, n))
                         ORDER BY d, v DESC, browser COLLATE "C")
        FROM (SELECT to_char(s.started_at, 'YYYY-MM-DD') AS d, s.browser,
                     count(DISTINCT s.visitor_id) AS v, count(*) AS n
              FROM edgestat.sessions s JOIN edgestat.sites st USING (site_id)
              WHERE st.domain = 'statsapi.test' AND s.started_at >= '2019-06-01'
                AND s.started_at < '2019-07-01' AND s.os <> 'iOS'
              GROUP BY 1, 2) x) AS same;
-- goals by country, with the conversion rate over the country's visitors
-- (DE: V1, V2; US: V3, V6; FR: V5; none: V4): the site's goals, Blog
-- being pageviews of /blog/* (V2's /Blog/Two is not)
SELECT x AS goal_country FROM jsonb_array_elements(api('{"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal", "visit:country"]}')->'results') x;
-- an hour and a page: the events of the hour (E1, E2, E3 at 10:0x; E4)
SELECT x AS hour_page FROM jsonb_array_elements(api('{"metrics": ["visitors", "pageviews", "events"], "dimensions": ["time:hour", "event:page"], "date_range": ["2019-06-03", "2019-06-03"]}')->'results') x;
-- sources: none is "Direct / None"
SELECT x AS source_os FROM jsonb_array_elements(api('{"metrics": ["visits"], "dimensions": ["visit:source", "visit:os"], "filters": [["is", "visit:os", ["Linux"]]]}')->'results') x;
-- one visit dimension with visit metrics: grouped from the sessions too
SELECT x AS browser_visits FROM jsonb_array_elements(api('{"metrics": ["visits", "bounce_rate", "views_per_visit", "visit_duration"], "dimensions": ["visit:browser"]}')->'results') x;
SELECT api('{"metrics": ["visits", "bounce_rate", "views_per_visit", "visit_duration"], "dimensions": ["visit:browser"]}')->'results'
     = (SELECT jsonb_agg(jsonb_build_object('dimensions', jsonb_build_array(browser),
                                            'metrics', jsonb_build_array(n, br, vpv, d))
                         ORDER BY n DESC, browser COLLATE "C")
        FROM (SELECT s.browser, count(*) AS n,
                     round(100.0 * count(*) FILTER (WHERE s.pageviews = 1) / count(*), 2) AS br,
                     round(avg(s.pageviews), 2) AS vpv,
                     round(avg(extract(epoch FROM s.last_seen - s.started_at))) AS d
              FROM edgestat.sessions s JOIN edgestat.sites st USING (site_id)
              WHERE st.domain = 'statsapi.test' AND s.started_at >= '2019-06-01' AND s.started_at < '2019-07-01'
              GROUP BY 1) x) AS same;
-- a goal filter and a visit dimension: conversion rate per country over
-- the country's visitors (signup: V1 of DE's V1, V2; V5 of FR's V5)
SELECT x AS signup_by_country FROM jsonb_array_elements(api('{"metrics": ["visitors", "conversion_rate"], "dimensions": ["visit:country"], "filters": [["is", "event:goal", ["signup"]]]}')->'results') x;
-- order_by a dimension, pagination
-- (all rows, os descending in "C" order: iOS none; Windows DE, FR; Linux
-- DE, US; Android US)
SELECT x AS paged FROM jsonb_array_elements(api('{"metrics": ["visits"], "dimensions": ["visit:country", "visit:os"], "order_by": [["visit:os", "desc"], ["visit:country", "asc"]], "pagination": {"limit": 3, "offset": 1}}')->'results') x;
-- include.total_rows: the rows before pagination (8 pages, by breakdown())
SELECT api('{"metrics": ["visitors"], "dimensions": ["event:page"], "include": {"total_rows": true}, "pagination": {"limit": 1}}')->'meta' AS meta;
SELECT api('{"metrics": ["visits"], "dimensions": ["visit:country", "visit:os"], "include": {"total_rows": true}, "pagination": {"limit": 3, "offset": 1}}')->'meta' AS meta;

-- ===================== errors: 22023 / 0A000 (HTTP 400) =====================
SELECT api('{"metrics": ["visitors"], "filters": [["is_kind_of", "visit:country", ["DE"]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["is", "visit:planet", ["Mars"]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["is", "visit:country", "DE"]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["is", "visit:country", [true]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["or", []]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["not", ["is", "visit:country", ["DE"]], ["is", "visit:os", ["iOS"]]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["matches", "event:page", ["("]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["contains", "event:page", ["a"], {"case": false}]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["is", "time:day", ["2019-06-03"]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["has_done", ["is", "event:goal", ["signup"]]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["contains_not", "event:goal", ["signup"]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": [["is", "event:goal", ["signup", "Nope"]]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "filters": {"visit:country": "DE"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["bounce_rate"], "dimensions": ["event:page", "visit:country"]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "dimensions": ["time:day", "time:hour"]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "dimensions": ["visit:os", "visit:os"]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "dimensions": ["visit:os", "visit:nope"]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "dimensions": ["visit:os", "visit:country"], "order_by": [["visit:city", "asc"]]}');
\echo :LAST_ERROR_SQLSTATE
SELECT api('{"metrics": ["visitors"], "include": {"imports": "yes"}}');
\echo :LAST_ERROR_SQLSTATE
-- the SQL tree form: the same checks, and the object form's refusal of
-- arrays that are no tree stays
SELECT * FROM edgestat.summary('statsapi.test', '2019-06-01', '2019-07-01', '[["is", "planet", ["Mars"]]]');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.summary('statsapi.test', '2019-06-01', '2019-07-01', '[["is", "country", ["DE"]], "x"]');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.summary('statsapi.test', '2019-06-01', '2019-07-01', '["DE"]');
\echo :LAST_ERROR_SQLSTATE

-- ===================== privileges =====================
SELECT p.oid::regprocedure AS public_function
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'edgestat' AND has_function_privilege('public', p.oid, 'EXECUTE')
  AND (p.proname LIKE 'stats_api%' OR p.proname LIKE 'filter%')
ORDER BY 1::text;

-- ===================== clean up =====================
CREATE TEMP TABLE mine AS SELECT site_id FROM edgestat.sites WHERE domain = 'statsapi.test';
DELETE FROM edgestat.events WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.sessions WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.visitors WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.rollup_hourly WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.rollup_dims_hourly WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.rollup_dims_daily WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.rollup_open WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.sites WHERE site_id IN (SELECT site_id FROM mine);
DROP FUNCTION sapi_vid(int), sapi_sid(int), api(jsonb), want(text), agg(jsonb);
SELECT setval(:'site_seq', :seq_last, :'seq_called'::bool) IS NOT NULL AS sequence_restored;
