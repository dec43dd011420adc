-- Reports: rollups maintained by the ingest triggers, summary(),
-- timeseries(), breakdown(), daily partitions and retention.
--
-- A scripted data set is written with statements shaped like the C
-- writer's (one WITH ... INSERT ... ON CONFLICT statement per batch into
-- events, sessions and visitors), so the rollup triggers fire exactly as at
-- ingest.  Every expected figure is computed by hand in the comments.
-- Days: D1 = 2021-03-01, D2 = 2021-03-02 (UTC), far from "now", so the
-- partitions made by other tests are untouched.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS edgestat CASCADE;
RESET client_min_messages;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
\pset null '(null)'

SELECT edgestat.add_site('reports.test') > 0 AS site_a,
       edgestat.add_site('other.test') > 0 AS site_b;

-- Raw events of D1 go to their own partition, those of D2 first land in
-- the DEFAULT partition (moved later).
SELECT edgestat.create_day_partition('2021-03-01') AS created,
       edgestat.create_day_partition('2021-03-01') AS created_again;

-- One batch = one statement, as src/writer.c writes it: the batch's events;
-- its sessions merged in (per-batch aggregates, max-merge upsert); its
-- visitors merged in.  $1 is a JSON array of events; v and s number the
-- visitor and session (uuids ...0001 etc.).
PREPARE batch(jsonb) AS
WITH e AS (
    SELECT x.t AS ts, st.site_id,
           ('aaaaaaaa-0000-0000-0000-' || lpad(x.v::text, 12, '0'))::uuid AS visitor_id,
           ('bbbbbbbb-0000-0000-0000-' || lpad(x.s::text, 12, '0'))::uuid AS session_id,
           x.n AS name, x.u AS path, x.r AS referrer_host, x.us AS utm_source,
           x.um AS utm_medium, x.uc AS utm_campaign, x.c AS country,
           x.rg AS region, x.ci AS city, x.b AS browser, x.o AS os, x.dv AS device
    FROM jsonb_to_recordset($1) AS x(t timestamptz, d text, v int, s int, n text,
         u text, r text, us text, um text, uc text, c text, rg text, ci text,
         b text, o text, dv text)
    JOIN edgestat.sites st ON st.domain = x.d
), ev AS (
    INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path,
        referrer_host, utm_source, utm_medium, utm_campaign, country, region,
        city, browser, os, device)
    SELECT ts, site_id, visitor_id, session_id, name, path, referrer_host,
        utm_source, utm_medium, utm_campaign, country, region, city, browser,
        os, device
    FROM e
), se AS (
    INSERT INTO edgestat.sessions AS s (site_id, session_id, visitor_id,
        started_at, last_seen, entry_page, exit_page, referrer_host,
        utm_source, utm_medium, utm_campaign, country, region, city, browser,
        os, device, events, pageviews, heartbeats, goals)
    SELECT site_id, session_id, min(visitor_id::text)::uuid, min(ts), max(ts),
        (array_agg(path ORDER BY ts))[1], (array_agg(path ORDER BY ts DESC))[1],
        (array_agg(referrer_host ORDER BY ts))[1], (array_agg(utm_source ORDER BY ts))[1],
        (array_agg(utm_medium ORDER BY ts))[1], (array_agg(utm_campaign ORDER BY ts))[1],
        (array_agg(country ORDER BY ts))[1], (array_agg(region ORDER BY ts))[1],
        (array_agg(city ORDER BY ts))[1], (array_agg(browser ORDER BY ts))[1],
        (array_agg(os ORDER BY ts))[1], (array_agg(device ORDER BY ts))[1],
        count(*), count(*) FILTER (WHERE name = 'pageview'),
        count(*) FILTER (WHERE name = 'heartbeat'),
        count(*) FILTER (WHERE name NOT IN ('pageview', 'heartbeat', 'scroll', 'interaction', 'leave'))
    FROM e GROUP BY site_id, session_id
    ORDER BY site_id, session_id
    ON CONFLICT (site_id, session_id) DO UPDATE SET
        started_at = LEAST(s.started_at, excluded.started_at),
        last_seen = GREATEST(s.last_seen, excluded.last_seen),
        entry_page = CASE WHEN excluded.started_at < s.started_at
                          THEN excluded.entry_page ELSE s.entry_page END,
        exit_page = CASE WHEN excluded.last_seen >= s.last_seen
                         THEN excluded.exit_page ELSE s.exit_page END,
        referrer_host = COALESCE(s.referrer_host, excluded.referrer_host),
        utm_source = COALESCE(s.utm_source, excluded.utm_source),
        utm_medium = COALESCE(s.utm_medium, excluded.utm_medium),
        utm_campaign = COALESCE(s.utm_campaign, excluded.utm_campaign),
        country = COALESCE(s.country, excluded.country),
        region = COALESCE(s.region, excluded.region),
        city = COALESCE(s.city, excluded.city),
        browser = COALESCE(s.browser, excluded.browser),
        os = COALESCE(s.os, excluded.os),
        device = COALESCE(s.device, excluded.device),
        events = s.events + excluded.events,
        pageviews = s.pageviews + excluded.pageviews,
        heartbeats = s.heartbeats + excluded.heartbeats,
        goals = s.goals + excluded.goals
    RETURNING s.site_id, s.visitor_id, (s.xmax = 0) AS fresh
)
INSERT INTO edgestat.visitors AS v (site_id, visitor_id, first_seen, last_seen,
    sessions, events, pageviews, score)
SELECT e.site_id, e.visitor_id, min(e.ts), max(e.ts),
    coalesce((SELECT count(*) FROM se WHERE se.site_id = e.site_id
              AND se.visitor_id = e.visitor_id AND se.fresh), 0),
    count(*), count(*) FILTER (WHERE e.name = 'pageview'), 0
FROM e GROUP BY e.site_id, e.visitor_id
ORDER BY e.site_id, e.visitor_id
ON CONFLICT (site_id, visitor_id) DO UPDATE SET
    first_seen = LEAST(v.first_seen, excluded.first_seen),
    last_seen = GREATEST(v.last_seen, excluded.last_seen),
    sessions = v.sessions + excluded.sessions,
    events = v.events + excluded.events,
    pageviews = v.pageviews + excluded.pageviews;

-- The data set.  Sessions S1..S8 of reports.test, visitors V1..V6; one
-- session of other.test by a visitor whose id equals V1's (sites must not
-- mix).  Final session rows (start, last event, duration, pageviews,
-- events, entry -> exit, referrer, utm, geo, browser/os/device):
--   S1 V1 D1 10:05-10:07   120 s pv 2 ev 3  / -> /pricing  google.com news/email/spring DE/BE/Berlin Firefox/Linux/desktop
--   S2 V2 D1 10:20-11:12  3120 s pv 2 ev 3  /blog -> /pricing  (direct) US/CA/San Francisco Chrome/macOS/desktop
--   S3 V3 D1 10:50-11:00:30 630 s pv 1 ev 2 / -> /  twitter.com  US/NY/New York Safari/iOS/mobile   (bounce)
--   S4 V1 D1 11:30-11:40   600 s pv 2 ev 2  /docs -> /pricing  google.com  DE/BE/Berlin Firefox/Linux/desktop
--   S5 V4 D1 23:40-D2 00:10 1800 s pv 3 ev 3 / -> /docs  news.ycombinator.com  FR/IDF/Paris Chrome/Windows/desktop
--   S6 V5 D2 09:15-09:15:30  30 s pv 1 ev 2  / -> /  google.com news/-/-  (no geo) Chrome/Android/mobile  (bounce)
--   S7 V2 D2 09:30-09:40   600 s pv 2 ev 2  /blog -> /  (direct) US/CA/San Francisco Chrome/macOS/desktop
--   S8 V6 D2 09:45           0 s pv 0 ev 1  /pricing -> /pricing  (direct) GB/ENG/London Firefox/Windows/desktop  (no pageview: not a bounce)

-- Hours whose visitor sketches are not folded into the daily rollup yet
-- (of this test's sites: the tests before this one leave open hours too).
CREATE VIEW open_hours AS
SELECT domain, hour FROM edgestat.rollup_open JOIN edgestat.sites USING (site_id)
WHERE domain IN ('reports.test', 'other.test')
ORDER BY hour, domain;

-- Sealing: batches seal nothing (the maintenance worker seals hours two
-- hours after they end, off the ingest path); here the test seals by hand.
-- Batch 1, D1 10h (clock 10:50: nothing to seal).
EXECUTE batch('[
 {"t":"2021-03-01 10:05+00","d":"reports.test","v":1,"s":1,"n":"pageview","u":"/","r":"google.com","us":"news","um":"email","uc":"spring","c":"DE","rg":"BE","ci":"Berlin","b":"Firefox","o":"Linux","dv":"desktop"},
 {"t":"2021-03-01 10:06+00","d":"reports.test","v":1,"s":1,"n":"heartbeat","u":"/","r":"google.com","us":"news","um":"email","uc":"spring","c":"DE","rg":"BE","ci":"Berlin","b":"Firefox","o":"Linux","dv":"desktop"},
 {"t":"2021-03-01 10:07+00","d":"reports.test","v":1,"s":1,"n":"pageview","u":"/pricing","c":"DE","rg":"BE","ci":"Berlin","b":"Firefox","o":"Linux","dv":"desktop"},
 {"t":"2021-03-01 10:20+00","d":"reports.test","v":2,"s":2,"n":"pageview","u":"/blog","c":"US","rg":"CA","ci":"San Francisco","b":"Chrome","o":"macOS","dv":"desktop"},
 {"t":"2021-03-01 10:50+00","d":"reports.test","v":3,"s":3,"n":"pageview","u":"/","r":"twitter.com","c":"US","rg":"NY","ci":"New York","b":"Safari","o":"iOS","dv":"mobile"},
 {"t":"2021-03-01 10:30+00","d":"other.test","v":1,"s":9,"n":"pageview","u":"/","c":"DE","b":"Firefox","o":"Linux","dv":"desktop"}
]');
-- Batch 2, D1 11h: S2 and S3 grow (S2 leaves its bounce and moves its exit
-- page; S3 only scrolls, so stays a bounce), S4 starts.
EXECUTE batch('[
 {"t":"2021-03-01 11:10+00","d":"reports.test","v":2,"s":2,"n":"pageview","u":"/pricing","c":"US","rg":"CA","ci":"San Francisco","b":"Chrome","o":"macOS","dv":"desktop"},
 {"t":"2021-03-01 11:12+00","d":"reports.test","v":2,"s":2,"n":"signup","u":"/pricing","c":"US","rg":"CA","ci":"San Francisco","b":"Chrome","o":"macOS","dv":"desktop"},
 {"t":"2021-03-01 11:00:30+00","d":"reports.test","v":3,"s":3,"n":"scroll","u":"/","c":"US","rg":"NY","ci":"New York","b":"Safari","o":"iOS","dv":"mobile"},
 {"t":"2021-03-01 11:30+00","d":"reports.test","v":1,"s":4,"n":"pageview","u":"/docs","r":"google.com","c":"DE","rg":"BE","ci":"Berlin","b":"Firefox","o":"Linux","dv":"desktop"}
]');
SELECT * FROM open_hours;  -- D1 10:00 (both sites), D1 11:00
-- Batch 3 crosses midnight.
EXECUTE batch('[
 {"t":"2021-03-01 23:40+00","d":"reports.test","v":4,"s":5,"n":"pageview","u":"/","r":"news.ycombinator.com","c":"FR","rg":"IDF","ci":"Paris","b":"Chrome","o":"Windows","dv":"desktop"},
 {"t":"2021-03-01 23:50+00","d":"reports.test","v":4,"s":5,"n":"pageview","u":"/blog","c":"FR","rg":"IDF","ci":"Paris","b":"Chrome","o":"Windows","dv":"desktop"},
 {"t":"2021-03-02 00:10+00","d":"reports.test","v":4,"s":5,"n":"pageview","u":"/docs","c":"FR","rg":"IDF","ci":"Paris","b":"Chrome","o":"Windows","dv":"desktop"}
]');
SELECT * FROM open_hours;  -- D1 10:00 (both sites), D1 11:00, D1 23:00, D2 00:00
-- Sealing by hand (as the maintenance worker does): the three hours before D1 22:00.
SELECT edgestat.seal_rollups('2021-03-01 22:00');  -- 3
SELECT * FROM open_hours;  -- D1 23:00, D2 00:00

-- Batch 3b: a late beacon of S4 (11:40, delivered after batch 3) moves
-- S4's exit page from /docs to /pricing and so reopens the sealed hour
-- D1 11:00.
EXECUTE batch('[
 {"t":"2021-03-01 11:40+00","d":"reports.test","v":1,"s":4,"n":"pageview","u":"/pricing","c":"DE","rg":"BE","ci":"Berlin","b":"Firefox","o":"Linux","dv":"desktop"}
]');
SELECT * FROM open_hours;  -- D1 11:00, D1 23:00, D2 00:00

-- Exit pages of D1 while D1 11:00 is reopened: the stale sealed sketch of
-- /docs (V1, from S4) must not count.  Sessions started on D1: S1 V1
-- /pricing pv 2 ev 3, S2 V2 /pricing 2/3, S4 V1 /pricing 2/2, S3 V3 / 1/2,
-- S5 V4 /docs 3/3:
--   /pricing  {V1,V2} = 2 visitors, pv 2+2+2 = 6, ev 3+3+2 = 8
--   /docs     {V4}    = 1,          pv 3,         ev 3
--   /         {V3}    = 1,          pv 1,         ev 2
SELECT * FROM edgestat.breakdown('reports.test', 'exit_page', '2021-03-01', '2021-03-02');

-- Batch 4, D2 09h; its clock (09:45) seals the oldest open hour, D1 11:00.
EXECUTE batch('[
 {"t":"2021-03-02 09:15+00","d":"reports.test","v":5,"s":6,"n":"pageview","u":"/","r":"google.com","us":"news","b":"Chrome","o":"Android","dv":"mobile"},
 {"t":"2021-03-02 09:15:30+00","d":"reports.test","v":5,"s":6,"n":"leave","u":"/","b":"Chrome","o":"Android","dv":"mobile"},
 {"t":"2021-03-02 09:30+00","d":"reports.test","v":2,"s":7,"n":"pageview","u":"/blog","c":"US","rg":"CA","ci":"San Francisco","b":"Chrome","o":"macOS","dv":"desktop"},
 {"t":"2021-03-02 09:40+00","d":"reports.test","v":2,"s":7,"n":"pageview","u":"/","c":"US","rg":"CA","ci":"San Francisco","b":"Chrome","o":"macOS","dv":"desktop"},
 {"t":"2021-03-02 09:45+00","d":"reports.test","v":6,"s":8,"n":"interaction","u":"/pricing","c":"GB","rg":"ENG","ci":"London","b":"Firefox","o":"Windows","dv":"desktop"}
]');
SELECT * FROM open_hours;  -- D1 11:00, D1 23:00, D2 00:00, D2 09:00

-- The session rows the triggers saw (cross-check of the table above).
SELECT right(session_id::text, 1) AS s, right(visitor_id::text, 1) AS v,
       started_at, last_seen, pageviews, events, entry_page, exit_page,
       referrer_host, country
FROM edgestat.sessions s JOIN edgestat.sites USING (site_id)
WHERE domain = 'reports.test' ORDER BY started_at;

-- Events per hour (all of reports.test), for the sums below:
--   D1 10h: 5 events, 4 pageviews, visitors {V1,V2,V3}
--   D1 11h: 5 events (S2 pv, S2 signup, S3 scroll, S4 pv, S4 pv), 3 pageviews, {V1,V2,V3}
--   D1 23h: 2 events, 2 pageviews, {V4}
--   D2 00h: 1 event, 1 pageview, {V4}
--   D2 09h: 5 events, 3 pageviews, {V2,V5,V6}
-- Sessions per start hour (visits, bounces, session pageviews, duration):
--   D1 10h: S1,S2,S3: 3, 1, 2+2+1 = 5, 120+3120+630 = 3870 s
--   D1 11h: S4:       1, 0, 2, 600 s
--   D1 23h: S5:       1, 0, 3, 1800 s
--   D2 09h: S6,S7,S8: 3, 1, 1+2+0 = 3, 30+600+0 = 630 s

-- ===================== summary =====================
-- Both days: visitors {V1..V6} = 6; visits 8; pageviews 4+3+2+1+3 = 13;
-- views per visit (5+2+3+3)/8 = 1.625 -> 1.63; bounce 2/8 = 25 %;
-- duration (3870+600+1800+630)/8 = 862.5 s.
SELECT * FROM edgestat.summary('reports.test', '2021-03-01', '2021-03-03');
-- D1: visitors {V1..V4} = 4; visits 5; pageviews 9; (5+2+3)/5 = 2;
-- bounce 1/5 = 20 %; (3870+600+1800)/5 = 1254 s.
SELECT * FROM edgestat.summary('reports.test', '2021-03-01', '2021-03-02');
-- [10:30, 11:15) widens to the hours [10:00, 12:00): visitors 3; visits 4;
-- pageviews 7; (5+2)/4 = 1.75; 1/4 = 25 %; (3870+600)/4 = 1117.5 s.
SELECT * FROM edgestat.summary('reports.test', '2021-03-01 10:30', '2021-03-01 11:15');
-- The same instants written in +05:30: hours are UTC hours, same figures.
SELECT * FROM edgestat.summary('reports.test', '2021-03-01 16:00+05:30', '2021-03-01 16:45+05:30');
-- [23:59:59, 00:00:01) widens to [D1 23:00, D2 01:00): {V4} = 1; S5: 1
-- visit; pageviews 2+1 = 3; 3/1 = 3; 0 %; 1800 s.
SELECT * FROM edgestat.summary('reports.test', '2021-03-01 23:59:59', '2021-03-02 00:00:01');
-- An empty range: zeros, ratios undefined (NULL).
SELECT * FROM edgestat.summary('reports.test', '2021-03-01 11:00', '2021-03-01 11:00');
-- other.test: its one visit, a bounce of 0 s; V1 of reports.test not mixed in.
SELECT * FROM edgestat.summary('other.test', '2021-03-01', '2021-03-02');

-- ===================== timeseries =====================
-- Hourly, D1 10:00-13:00: 10h: 3 visitors, 3 visits, 4 pageviews;
-- 11h: 3, 1, 3; 12h: empty bucket 0, 0, 0.
SELECT * FROM edgestat.timeseries('reports.test', '2021-03-01 10:00', '2021-03-01 13:00');
-- Daily: D1: {V1..V4} = 4, visits 5, pageviews 9;
--        D2: {V4,V5,V2,V6} = 4, visits 3 (S6,S7,S8), pageviews 1+3 = 4.
SELECT * FROM edgestat.timeseries('reports.test', '2021-03-01', '2021-03-03', '1 day');
-- 6-hour buckets from D1 22:30 (-> 22:00) to D2 10:00: [22:00, 04:00):
-- hours D1 23 and D2 00: {V4} = 1, visits 1, pageviews 3; [04:00, 10:00):
-- hour 09: 3, 3, 3.
SELECT * FROM edgestat.timeseries('reports.test', '2021-03-01 22:30', '2021-03-02 10:00', '6 hours');
-- A day bucket starts where the range starts: [D1 12:00, D2 12:00) holds
-- hours D1 23, D2 00, D2 09: {V4,V5,V2,V6} = 4; visits S5..S8 = 4;
-- pageviews 2+1+3 = 6.
SELECT * FROM edgestat.timeseries('reports.test', '2021-03-01 12:00', '2021-03-02 12:00', '1 day');

-- ===================== breakdown, both days =====================
-- Both days still hold open hours, so they are read hour by hour here
-- (the visitors of the open hours from their raw events and sessions, the
-- sealed hours' from the sketches the seal built): page and country as below.
SELECT * FROM edgestat.breakdown('reports.test', 'page', '2021-03-01', '2021-03-03');
SELECT * FROM edgestat.breakdown('reports.test', 'country', '2021-03-01', '2021-03-03');
-- Seal all but the last hour: D1 11:00, D1 23:00, D2 00:00 (3).  From here on D1 is
-- read from the daily rollup, D2 (holding the open D2 09:00) hour by hour.
SELECT edgestat.seal_rollups('2021-03-02 07:00');
SELECT * FROM open_hours;  -- D2 09:00
-- page: / E1,E2,E5,E8,E10,E14,E15,E17: {V1,V3,V4,V5,V2} = 5, pv 5, ev 8;
--   /pricing (S1 pv, S2 pv, S2 signup, S4 pv, S8 interaction): {V1,V2,V6} = 3, pv 3, ev 5;
--   /blog: {V2,V4} = 2, pv 3, ev 3;  /docs: {V1,V4} = 2, pv 2, ev 2.
SELECT * FROM edgestat.breakdown('reports.test', 'page', '2021-03-01', '2021-03-03');
-- event: pageview {V1..V5} = 5, 13, 13; then one each, by name:
--   heartbeat V1, interaction V6, leave V5, scroll V3, signup V2: 1, 0, 1.
SELECT * FROM edgestat.breakdown('reports.test', 'event', '2021-03-01', '2021-03-03');
-- entry_page: / S1,S3,S5,S6: {V1,V3,V4,V5} = 4, pv 2+1+3+1 = 7, ev 3+2+3+2 = 10;
--   /blog S2,S7: {V2} = 1, 4, 5;  /docs S4: 1, 2, 2;  /pricing S8: 1, 0, 1.
SELECT * FROM edgestat.breakdown('reports.test', 'entry_page', '2021-03-01', '2021-03-03');
-- exit_page: /pricing S1,S2,S4,S8: {V1,V2,V6} = 3, pv 2+2+2+0 = 6, ev 3+3+2+1 = 9;
--   / S3,S6,S7: {V3,V5,V2} = 3, 1+1+2 = 4, 2+2+2 = 6;  /docs S5: 1, 3, 3.
SELECT * FROM edgestat.breakdown('reports.test', 'exit_page', '2021-03-01', '2021-03-03');
-- referrer: google.com S1,S4,S6: {V1,V5} = 2, 2+2+1 = 5, 3+2+2 = 7;
--   (none) S2,S7,S8: {V2,V6} = 2, 2+2+0 = 4, 3+2+1 = 6;
--   news.ycombinator.com S5: 1, 3, 3;  twitter.com S3: 1, 1, 2.
SELECT * FROM edgestat.breakdown('reports.test', 'referrer', '2021-03-01', '2021-03-03');
-- utm_source: (none) S2,S3,S4,S5,S7,S8: {V2,V3,V1,V4,V6} = 5,
--   pv 2+1+2+3+2+0 = 10, ev 3+2+2+3+2+1 = 13;  news S1,S6: {V1,V5} = 2, 3, 5.
SELECT * FROM edgestat.breakdown('reports.test', 'utm_source', '2021-03-01', '2021-03-03');
-- utm_medium: (none) S2..S8: {V1..V6} = 6, pv 13-2 = 11, ev 18-3 = 15;  email S1: 1, 2, 3.
SELECT * FROM edgestat.breakdown('reports.test', 'utm_medium', '2021-03-01', '2021-03-03');
-- utm_campaign: likewise with spring.
SELECT * FROM edgestat.breakdown('reports.test', 'utm_campaign', '2021-03-01', '2021-03-03');
-- country: US S2,S3,S7: {V2,V3} = 2, 2+1+2 = 5, 3+2+2 = 7;  DE S1,S4: 1, 4, 5;
--   FR S5: 1, 3, 3;  (none) S6: 1, 1, 2;  GB S8: 1, 0, 1.
SELECT * FROM edgestat.breakdown('reports.test', 'country', '2021-03-01', '2021-03-03');
-- region: BE (V1) 1, 4, 5 and CA (V2 twice) 1, 4, 5 tie -> by value;
--   IDF 1, 3, 3; (none) 1, 1, 2 and NY 1, 1, 2 tie -> none first; ENG 1, 0, 1.
SELECT * FROM edgestat.breakdown('reports.test', 'region', '2021-03-01', '2021-03-03');
-- city: Berlin 1, 4, 5; San Francisco 1, 4, 5; Paris 1, 3, 3; (none) 1, 1, 2;
--   New York 1, 1, 2; London 1, 0, 1.
SELECT * FROM edgestat.breakdown('reports.test', 'city', '2021-03-01', '2021-03-03');
-- browser: Chrome S2,S5,S6,S7: {V2,V4,V5} = 3, 2+3+1+2 = 8, 3+3+2+2 = 10;
--   Firefox S1,S4,S8: {V1,V6} = 2, 4, 6;  Safari S3: 1, 1, 2.
SELECT * FROM edgestat.breakdown('reports.test', 'browser', '2021-03-01', '2021-03-03');
-- os: Windows S5,S8: {V4,V6} = 2, 3, 4;  Linux (V1) 1, 4, 5;  macOS (V2) 1, 4, 5;
--   Android S6: 1, 1, 2;  iOS S3: 1, 1, 2.  (Ties by value, C collation.)
SELECT * FROM edgestat.breakdown('reports.test', 'os', '2021-03-01', '2021-03-03');
-- device: desktop S1,S2,S4,S5,S7,S8: {V1,V2,V4,V6} = 4, 2+2+2+3+2+0 = 11,
--   3+3+2+3+2+1 = 14;  mobile S3,S6: {V3,V5} = 2, 2, 4.
SELECT * FROM edgestat.breakdown('reports.test', 'device', '2021-03-01', '2021-03-03');

-- ===================== breakdown, ranges cutting the data =====================
-- [10:30, 11:15) -> hours D1 10, 11 (hourly rollup only).  Events there:
--   /pricing E3 (V1 pv), E6 (V2 pv), E7 (V2 signup), E13 (V1 pv): 2, 3, 4;
--   / E1 (V1 pv), E2 (V1 hb), E5 (V3 pv), E8 (V3 scroll): 2, 2, 4;
--   /blog E4: 1, 1, 1;  /docs E9: 1, 1, 1.
SELECT * FROM edgestat.breakdown('reports.test', 'page', '2021-03-01 10:30', '2021-03-01 11:15');
SELECT * FROM edgestat.breakdown('reports.test', 'page', '2021-03-01 10:30', '2021-03-01 11:15', 2);
-- Sessions started there: S1..S4.  exit_page: /pricing S1,S2,S4: {V1,V2} =
--   2, 6, 8;  / S3: 1, 1, 2.
SELECT * FROM edgestat.breakdown('reports.test', 'exit_page', '2021-03-01 10:30', '2021-03-01 11:15');
-- [D1 11:00, D3): hours D1 11..23 from the hourly rollup, D2 from the daily one.
-- page: / E8 (V3), E10 (V4), E14, E15 (V5), E17 (V2): 4, pv 3, ev 5;
--   /pricing E6, E7 (V2), E13 (V1), E18 (V6): 3, 2, 4;
--   /blog E11 (V4), E16 (V2): 2, 2, 2;  /docs E9 (V1), E12 (V4): 2, 2, 2.
SELECT * FROM edgestat.breakdown('reports.test', 'page', '2021-03-01 11:00', '2021-03-03');
-- entry_page, sessions S4..S8: / S5,S6: {V4,V5} = 2, 3+1 = 4, 3+2 = 5;
--   /blog S7: 1, 2, 2;  /docs S4: 1, 2, 2;  /pricing S8: 1, 0, 1.
SELECT * FROM edgestat.breakdown('reports.test', 'entry_page', '2021-03-01 11:00', '2021-03-03');
-- exit_page of D2 (its hour 09 still open: visitors from the sessions):
--   / S6,S7: {V5,V2} = 2, 1+2 = 3, 2+2 = 4;  /pricing S8: 1, 0, 1.
SELECT * FROM edgestat.breakdown('reports.test', 'exit_page', '2021-03-02', '2021-03-03');
-- lim 0: nothing.
SELECT count(*) FROM edgestat.breakdown('reports.test', 'country', '2021-03-01', '2021-03-03', 0);

-- ===================== errors =====================
SELECT * FROM edgestat.breakdown('reports.test', 'planet', '2021-03-01', '2021-03-03');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.breakdown('reports.test', 'page', '2021-03-01', '2021-03-03', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.summary('nosuch.test', '2021-03-01', '2021-03-03');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.breakdown('nosuch.test', 'page', '2021-03-01', '2021-03-03');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.timeseries('reports.test', '2021-03-01', '2021-03-03', '30 minutes');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.timeseries('reports.test', '2021-03-01', '2021-03-03', '1 month');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.timeseries('nosuch.test', '2021-03-01', '2021-03-03');
\echo :LAST_ERROR_SQLSTATE
-- NULL arguments: STRICT, no rows.
SELECT count(*) FROM edgestat.summary('reports.test', NULL, '2021-03-03');

-- ===================== partitions and retention =====================
-- D2's 6 events (E12, E14..E18) sit in the DEFAULT partition; creating D2's
-- partition moves them, without counting them again.
SELECT e.tableoid::regclass AS part, count(*)
FROM edgestat.events e JOIN edgestat.sites USING (site_id)
WHERE domain = 'reports.test' GROUP BY 1 ORDER BY 1::text;
SELECT edgestat.create_day_partition('2021-03-02') AS created;
SELECT e.tableoid::regclass AS part, count(*)
FROM edgestat.events e JOIN edgestat.sites USING (site_id)
WHERE domain = 'reports.test' GROUP BY 1 ORDER BY 1::text;
-- unchanged: 6, 8, 13, 1.63, 25.00, 862.50
SELECT * FROM edgestat.summary('reports.test', '2021-03-01', '2021-03-03');
-- The moved partition carries the partitions' indexes: (site_id, ts) and
-- the partial ones of revenue and custom events.
SELECT indexname FROM pg_indexes WHERE schemaname = 'edgestat' AND tablename = 'events_20210302'
ORDER BY 1;
-- ensure_partitions() is idempotent: a second call creates nothing.
SELECT edgestat.ensure_partitions() >= 0 AS first, edgestat.ensure_partitions() AS second;

-- Keep everything from D2 on: D1's partition (upper bound D2 00:00) goes.
SELECT edgestat.apply_retention(now() - '2021-03-02 00:00+00'::timestamptz) >= 1 AS dropped;
SELECT to_regclass('edgestat.events_20210301') AS d1_partition,
       to_regclass('edgestat.events_20210302') AS d2_partition;
SELECT count(*) AS raw_d1_events FROM edgestat.events
WHERE ts >= '2021-03-01' AND ts < '2021-03-02';
-- Rollups stay: the same D1 figures as before: 4, 5, 9, 2.00, 20.00, 1254.00
SELECT * FROM edgestat.summary('reports.test', '2021-03-01', '2021-03-02');
SELECT * FROM edgestat.timeseries('reports.test', '2021-03-01', '2021-03-03', '1 day');
SELECT * FROM edgestat.breakdown('reports.test', 'page', '2021-03-01', '2021-03-03');
SELECT * FROM edgestat.breakdown('reports.test', 'exit_page', '2021-03-01', '2021-03-03');
SELECT edgestat.apply_retention('-1 day');
\echo :LAST_ERROR_SQLSTATE

-- ===================== privileges =====================
-- A reporting role gets the schema and the report functions, no tables.
CREATE ROLE regress_edgestat_reader;
GRANT USAGE ON SCHEMA edgestat TO regress_edgestat_reader;
GRANT EXECUTE ON FUNCTION edgestat.summary(text, timestamptz, timestamptz)
    TO regress_edgestat_reader;
SET ROLE regress_edgestat_reader;
SELECT visitors, visits FROM edgestat.summary('reports.test', '2021-03-01', '2021-03-03');
SELECT count(*) FROM edgestat.events;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM edgestat.rollup_hourly;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.breakdown('reports.test', 'page', '2021-03-01', '2021-03-03');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path)
VALUES (now(), 1, gen_random_uuid(), gen_random_uuid(), 'pageview', '/');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
REVOKE ALL ON FUNCTION edgestat.summary(text, timestamptz, timestamptz)
    FROM regress_edgestat_reader;
REVOKE ALL ON SCHEMA edgestat FROM regress_edgestat_reader;
DROP ROLE regress_edgestat_reader;
DROP VIEW open_hours;
