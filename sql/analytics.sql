-- Analytics beyond counts (docs/analytics.md): goals and revenue, filters on
-- summary/timeseries/breakdown, funnel, retention, journeys, compare,
-- the learning value score, alerts.
--
-- A scripted data set on a site of its own (analytics.test), written
-- straight into events, sessions and visitors (fixed timestamps; the
-- rollup triggers fire as at ingest).  Every expected figure is computed by
-- hand in the comments.  All times UTC.  No data in March 2021 (reports.sql
-- counts every site's events of 2021-03-01).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS edgestat CASCADE;
RESET client_min_messages;
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
\pset null '(null)'

-- The tests after this one print site ids: the site id sequence goes back
-- where it was at the end (see "clean up").
SELECT pg_get_serial_sequence('edgestat.sites', 'site_id') AS site_seq \gset
SELECT last_value AS seq_last, is_called AS seq_called FROM :site_seq \gset
SELECT edgestat.add_site('analytics.test') > 0 AS site;

-- Sessions (visitor, country/region/city, browser/os/device, referrer, utm):
--  S1  V1 DE/DE-BE/Berlin  Firefox/Linux/desktop  news.example  nl/email/winter
--  S2  V2 US               Chrome/Android/mobile  -
--  S3  V3 DE/DE-HH/Hamburg Chrome/Windows/desktop search.example
--  S4  V3 DE/DE-HH/Hamburg Chrome/Windows/desktop -
--  S5  V1 DE/DE-BE/Berlin  Firefox/Linux/desktop  -
--  S6  V4 FR               Safari/iOS/mobile      news.example
--  S7  V5 US               Chrome/Windows/desktop -
--  S8  V5 US               Chrome/Windows/desktop -
--  S9  V6 GB               Edge/Windows/desktop   -
--  S10 V6 GB               Edge/Windows/desktop   -
-- Events (E#, session, time, name, path, revenue):
--  2020-12-31 (Thursday; ISO week from Monday 2020-12-28)
--   E1  S1 10:00 pageview /           E6  S2 11:00 pageview /blog
--   E2  S1 10:05 pageview /pricing    E7  S2 11:01 pageview /blog
--   E3  S1 10:10 signup   /signup     E8  S2 11:02 pageview /
--   E4  S1 10:20 pageview /pricing/team  E9  S2 11:10 signup /signup
--   E5  S1 10:30 purchase /checkout 10.50 EUR  E10 S2 11:20 pageview /pricing
--   E11 S3 12:00 pageview /           E13 S9 23:50 pageview /
--   E12 S3 12:30 pageview /pricing
--  2021-01-01
--   E14 S10 00:20 pageview /blog
--   E15 S4 13:00 pageview /signup     E16 S4 13:05 signup /signup
--  2021-01-04 (Monday)
--   E17 S5 09:00 pageview /           E20 S6 10:00 pageview /pricing
--   E18 S5 09:10 purchase /checkout 5 USD
--   E19 S5 09:20 purchase /checkout 4.50 EUR
--  2021-01-31 (Sunday) and 2021-02-01 (Monday)
--   E21 S7 01-31 23:30 pageview /     E23 S8 02-01 00:10 pageview /pricing
--   E22 S7 01-31 23:50 pageview /blog E24 S8 02-01 00:15 signup /signup
-- Sessions derived (start-last, entry, exit, events, pageviews, duration s):
--  S1 10:00-10:30 / /checkout 5 3 1800   S2 11:00-11:20 /blog /pricing 5 4 1200
--  S3 12:00-12:30 / /pricing 2 2 1800    S9 23:50 / / 1 1 0
--  S10 00:20 /blog /blog 1 1 0           S4 13:00-13:05 /signup /signup 2 1 300
--  S5 09:00-09:20 / /checkout 3 1 1200   S6 10:00 /pricing /pricing 1 1 0
--  S7 23:30-23:50 / /blog 2 2 1200       S8 00:10-00:15 /pricing /signup 2 1 300
CREATE TEMP TABLE sess (s int, v int, country text, region text, city text,
    browser text, os text, device text, referrer_host text, utm_source text,
    utm_medium text, utm_campaign text);
INSERT INTO sess VALUES
 (1, 1, 'DE', 'DE-BE', 'Berlin', 'Firefox', 'Linux', 'desktop', 'news.example', 'nl', 'email', 'winter'),
 (2, 2, 'US', NULL, NULL, 'Chrome', 'Android', 'mobile', NULL, NULL, NULL, NULL),
 (3, 3, 'DE', 'DE-HH', 'Hamburg', 'Chrome', 'Windows', 'desktop', 'search.example', NULL, NULL, NULL),
 (4, 3, 'DE', 'DE-HH', 'Hamburg', 'Chrome', 'Windows', 'desktop', NULL, NULL, NULL, NULL),
 (5, 1, 'DE', 'DE-BE', 'Berlin', 'Firefox', 'Linux', 'desktop', NULL, NULL, NULL, NULL),
 (6, 4, 'FR', NULL, NULL, 'Safari', 'iOS', 'mobile', 'news.example', NULL, NULL, NULL),
 (7, 5, 'US', NULL, NULL, 'Chrome', 'Windows', 'desktop', NULL, NULL, NULL, NULL),
 (8, 5, 'US', NULL, NULL, 'Chrome', 'Windows', 'desktop', NULL, NULL, NULL, NULL),
 (9, 6, 'GB', NULL, NULL, 'Edge', 'Windows', 'desktop', NULL, NULL, NULL, NULL),
 (10, 6, 'GB', NULL, NULL, 'Edge', 'Windows', 'desktop', NULL, NULL, NULL, NULL);
CREATE TEMP TABLE ev (e int, s int, ts timestamptz, name text, path text,
    revenue numeric, currency text);
INSERT INTO ev VALUES
 (1, 1, '2020-12-31 10:00', 'pageview', '/', NULL, NULL),
 (2, 1, '2020-12-31 10:05', 'pageview', '/pricing', NULL, NULL),
 (3, 1, '2020-12-31 10:10', 'signup', '/signup', NULL, NULL),
 (4, 1, '2020-12-31 10:20', 'pageview', '/pricing/team', NULL, NULL),
 (5, 1, '2020-12-31 10:30', 'purchase', '/checkout', 10.50, 'EUR'),
 (6, 2, '2020-12-31 11:00', 'pageview', '/blog', NULL, NULL),
 (7, 2, '2020-12-31 11:01', 'pageview', '/blog', NULL, NULL),
 (8, 2, '2020-12-31 11:02', 'pageview', '/', NULL, NULL),
 (9, 2, '2020-12-31 11:10', 'signup', '/signup', NULL, NULL),
 (10, 2, '2020-12-31 11:20', 'pageview', '/pricing', NULL, NULL),
 (11, 3, '2020-12-31 12:00', 'pageview', '/', NULL, NULL),
 (12, 3, '2020-12-31 12:30', 'pageview', '/pricing', NULL, NULL),
 (13, 9, '2020-12-31 23:50', 'pageview', '/', NULL, NULL),
 (14, 10, '2021-01-01 00:20', 'pageview', '/blog', NULL, NULL),
 (15, 4, '2021-01-01 13:00', 'pageview', '/signup', NULL, NULL),
 (16, 4, '2021-01-01 13:05', 'signup', '/signup', NULL, NULL),
 (17, 5, '2021-01-04 09:00', 'pageview', '/', NULL, NULL),
 (18, 5, '2021-01-04 09:10', 'purchase', '/checkout', 5, 'USD'),
 (19, 5, '2021-01-04 09:20', 'purchase', '/checkout', 4.50, 'EUR'),
 (20, 6, '2021-01-04 10:00', 'pageview', '/pricing', NULL, NULL),
 (21, 7, '2021-01-31 23:30', 'pageview', '/', NULL, NULL),
 (22, 7, '2021-01-31 23:50', 'pageview', '/blog', NULL, NULL),
 (23, 8, '2021-02-01 00:10', 'pageview', '/pricing', NULL, NULL),
 (24, 8, '2021-02-01 00:15', 'signup', '/signup', NULL, NULL);
CREATE FUNCTION vid(int) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('a1a1a1a1-0000-4000-8000-' || lpad($1::text, 12, '0'))::uuid;
CREATE FUNCTION sid(int) RETURNS uuid LANGUAGE sql IMMUTABLE
RETURN ('b1b1b1b1-0000-4000-8000-' || lpad($1::text, 12, '0'))::uuid;

INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path,
    seq, referrer_host, utm_source, utm_medium, utm_campaign, country, region,
    city, browser, os, device, revenue, currency)
SELECT ev.ts, st.site_id, vid(sess.v), sid(sess.s), ev.name, ev.path, ev.e,
       sess.referrer_host, sess.utm_source, sess.utm_medium, sess.utm_campaign,
       sess.country, sess.region, sess.city, sess.browser, sess.os, sess.device,
       ev.revenue, ev.currency
FROM ev JOIN sess USING (s), edgestat.sites st WHERE st.domain = 'analytics.test'
ORDER BY ev.e;
INSERT INTO edgestat.sessions (site_id, session_id, visitor_id, started_at,
    last_seen, entry_page, exit_page, referrer_host, utm_source, utm_medium,
    utm_campaign, country, region, city, browser, os, device, events,
    pageviews, heartbeats, goals)
SELECT st.site_id, sid(sess.s), vid(sess.v), min(ev.ts), max(ev.ts),
       (array_agg(ev.path ORDER BY ev.ts))[1], (array_agg(ev.path ORDER BY ev.ts DESC))[1],
       sess.referrer_host, sess.utm_source, sess.utm_medium, sess.utm_campaign,
       sess.country, sess.region, sess.city, sess.browser, sess.os, sess.device,
       count(*), count(*) FILTER (WHERE ev.name = 'pageview'), 0,
       count(*) FILTER (WHERE ev.name NOT IN ('pageview', 'heartbeat'))
FROM ev JOIN sess USING (s), edgestat.sites st WHERE st.domain = 'analytics.test'
GROUP BY st.site_id, sess.s, sess.v, sess.referrer_host, sess.utm_source,
    sess.utm_medium, sess.utm_campaign, sess.country, sess.region, sess.city,
    sess.browser, sess.os, sess.device;
INSERT INTO edgestat.visitors (site_id, visitor_id, first_seen, last_seen,
    sessions, events, pageviews, goals, score)
SELECT st.site_id, vid(sess.v), min(ev.ts), max(ev.ts), count(DISTINCT sess.s),
       count(*), count(*) FILTER (WHERE ev.name = 'pageview'),
       count(*) FILTER (WHERE ev.name NOT IN ('pageview', 'heartbeat')), 10
FROM ev JOIN sess USING (s), edgestat.sites st WHERE st.domain = 'analytics.test'
GROUP BY st.site_id, sess.v;
SELECT edgestat.seal_rollups('2021-03-01');

-- the sessions as derived above
SELECT right(session_id::text, 2) AS s, right(visitor_id::text, 1) AS v,
       started_at, last_seen, entry_page, exit_page, events, pageviews, goals
FROM edgestat.sessions s JOIN edgestat.sites USING (site_id)
WHERE domain = 'analytics.test' ORDER BY started_at;

-- ===================== goals =====================
SELECT edgestat.add_goal('analytics.test', 'signup', event => 'signup') > 0 AS signup,
       edgestat.add_goal('analytics.test', 'pricing', page => '/pricing*') > 0 AS pricing,
       edgestat.add_goal('analytics.test', 'purchase', 'purchase') > 0 AS purchase,
       edgestat.add_goal('analytics.test', 'blog', page => '/blog') > 0 AS blog,
       edgestat.add_goal('analytics.test', 'never', event => 'nothing') > 0 AS never;
-- redefining keeps the id
SELECT edgestat.add_goal('analytics.test', 'never', event => 'nothing')
     = edgestat.add_goal('analytics.test', 'never', event => 'nothing') AS same_id;
SELECT name, event, page, page_like FROM edgestat.goal_defs ORDER BY goal_id;

-- [2020-12-31, 2021-02-02): 6 visitors (V1..V6).
-- pricing (/pricing*): E2, E4 (V1), E10 (V2), E12 (V3), E20 (V4), E23 (V5):
--   5 visitors, 6 events, 5/6 = 83.33
-- signup: E3 (V1), E9 (V2), E16 (V3), E24 (V5): 4, 4, 66.67
-- blog (/blog exactly): E6, E7 (V2), E14 (V6), E22 (V5): 3, 4, 50.00
-- purchase: E5, E18, E19 (V1): 1, 3, 16.67; EUR 10.50 + 4.50 = 15.00, USD 5
-- never: 0, 0, 0.00, no revenue
SELECT * FROM edgestat.goals('analytics.test', '2020-12-31', '2021-02-02');
-- {"country": "DE"}: sessions S1, S3, S4, S5, visitors V1, V3 = 2.
-- pricing: E2, E4 (V1), E12 (V3): 2, 3, 100.00; signup: E3, E16: 2, 2,
-- 100.00 (tie: by name); purchase: V1 1, 3, 50.00, EUR 15.00, USD 5;
-- blog, never: 0.
SELECT * FROM edgestat.goals('analytics.test', '2020-12-31', '2021-02-02', '{"country": "DE"}');
-- 2021-01-04 only: V1 (S5), V4 (S6) = 2 visitors; pricing E20 (V4): 1, 1,
-- 50.00; purchase E18, E19 (V1): 1, 2, 50.00, EUR 4.50, USD 5.
SELECT * FROM edgestat.goals('analytics.test', '2021-01-04', '2021-01-05');
-- no visitors at all: every rate 0.00
SELECT goal, visitors, conversion_rate FROM edgestat.goals('analytics.test', '2020-06-01', '2020-06-02');
-- An hour not sealed yet: its visitors come from the raw rows.  Two new
-- visitors on 2021-06-01 (outside every other range of this file): V91
-- signs up and pays 7 EUR on /signup-done, V92 views /pricing/plans twice
-- and /blog.  signup 1, 1, 50.00; pricing 1, 2, 50.00; blog 1, 1, 50.00;
-- purchase 1 visitor, 1 event, 50.00, EUR 7; never 0.
INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path, seq, revenue, currency)
SELECT x.ts::timestamptz, st.site_id, vid(x.v), sid(x.v), x.name, x.path, x.seq, x.revenue, x.currency
FROM (VALUES ('2021-06-01 10:00+00', 91, 'pageview', '/signup', 0, NULL::numeric, NULL),
			 ('2021-06-01 10:01+00', 91, 'signup', '/signup', 1, NULL, NULL),
			 ('2021-06-01 10:02+00', 91, 'purchase', '/signup-done', 2, 7, 'EUR'),
			 ('2021-06-01 11:00+00', 92, 'pageview', '/pricing/plans', 0, NULL, NULL),
			 ('2021-06-01 11:01+00', 92, 'pageview', '/pricing/plans', 1, NULL, NULL),
			 ('2021-06-01 11:02+00', 92, 'pageview', '/blog', 2, NULL, NULL)) AS x(ts, v, name, path, seq, revenue, currency),
	 edgestat.sites st WHERE st.domain = 'analytics.test';
SELECT count(*) AS open_hours FROM edgestat.rollup_open o JOIN edgestat.sites USING (site_id)
WHERE domain = 'analytics.test' AND o.hour >= '2021-06-01';
SELECT * FROM edgestat.goals('analytics.test', '2021-06-01', '2021-06-02');
-- sealed, the same from the daily sketches
SELECT edgestat.seal_rollups('2021-06-02') AS sealed;
SELECT * FROM edgestat.goals('analytics.test', '2021-06-01', '2021-06-02');

-- ===================== filters: summary =====================
-- No filter, [2020-12-31, 2021-02-02): visitors 6; visits 10; pageviews 17
-- (E1,2,4,6,7,8,10,11,12,13,14,15,17,20,21,22,23); views per visit
-- (3+4+2+1+1+1+1+1+2+1)/10 = 1.70; bounces S9,S10,S4,S5,S6,S8 = 60.00;
-- duration (1800+1200+1800+0+0+300+1200+0+1200+300)/10 = 780.00.
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02');
-- '{}' is the 1.0 function's answer
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', '{}');
-- A filter every session passes takes the exact path: the same figures.
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02',
                               '{"device": ["desktop", "mobile"]}');
-- country DE: S1, S3, S4, S5; events E1-5, E11, E12, E15, E16, E17-19:
-- visitors V1, V3 = 2; visits 4; pageviews E1,E2,E4,E11,E12,E15,E17 = 7;
-- (3+2+1+1)/4 = 1.75; bounces S4, S5 = 50.00; (1800+1800+300+1200)/4 = 1275.00
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', '{"country": "DE"}');
-- country US or GB: S2, S7, S8, S9, S10: visitors V2, V5, V6 = 3; visits 5;
-- pageviews E6,E7,E8,E10,E13,E14,E21,E22,E23 = 9; 9/5 = 1.80; bounces S8,
-- S9, S10 = 60.00; (1200+1200+300+0+0)/5 = 540.00
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', '{"country": ["US", "GB"]}');
-- page /pricing (exactly): sessions that viewed it S1 (E2), S2 (E10), S3
-- (E12), S6 (E20), S8 (E23); kept events: their events, pageviews only of
-- /pricing: E2, E3, E5, E9, E10, E12, E20, E23, E24.  visitors V1..V5 = 5;
-- visits 5; pageviews E2, E10, E12, E20, E23 = 5; views per visit from the
-- sessions (3+4+2+1+1)/5 = 2.20; bounces S6, S8 = 40.00;
-- (1800+1200+1800+0+300)/5 = 1020.00
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', '{"page": "/pricing"}');
-- event signup: S1 (E3), S2 (E9), S4 (E16), S8 (E24) and all their events
-- (5+5+2+2 = 14): visitors V1, V2, V3, V5 = 4; visits 4; pageviews 3+4+1+1
-- = 9; 9/4 = 2.25; bounces S4, S8 = 50.00; (1800+1200+300+300)/4 = 900.00
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', '{"event": "signup"}');
-- both: DE and signup: S1, S4: 2, 2, 3+1 = 4, 2.00, 50.00, (1800+300)/2 = 1050.00
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02',
                               '{"country": "DE", "event": "signup"}');
-- Every session dimension, one value each (visitors = distinct visitors of
-- the kept sessions' events, visits = kept sessions, pageviews = theirs):
--   entry_page /     S1,S3,S5,S7,S9: V1,V3,V5,V6 = 4, 5, 3+2+1+2+1 = 9
--   exit_page /checkout S1,S5: 1, 2, 3+1 = 4
--   referrer news.example S1,S6: 2, 2, 3+1 = 4
--   utm_source nl, utm_medium email, utm_campaign winter: S1: 1, 1, 3
--   country FR S6: 1, 1, 1                region DE-BE S1,S5: 1, 2, 4
--   city Hamburg S3,S4: 1, 2, 2+1 = 3
--   browser Chrome S2,S3,S4,S7,S8: V2,V3,V5 = 3, 5, 4+2+1+2+1 = 10
--   os Windows S3,S4,S7,S8,S9,S10: V3,V5,V6 = 3, 6, 2+1+2+1+1+1 = 8
--   device mobile S2,S6: 2, 2, 4+1 = 5
--   referrer nowhere.example: 0, 0, 0
SELECT f.d, f.v, x.visitors, x.visits, x.pageviews
FROM (VALUES ('entry_page', '/'), ('exit_page', '/checkout'),
             ('referrer', 'news.example'), ('utm_source', 'nl'),
             ('utm_medium', 'email'), ('utm_campaign', 'winter'),
             ('country', 'FR'), ('region', 'DE-BE'), ('city', 'Hamburg'),
             ('browser', 'Chrome'), ('os', 'Windows'), ('device', 'mobile'),
             ('referrer', 'nowhere.example')) AS f(d, v),
     LATERAL edgestat.summary('analytics.test', '2020-12-31', '2021-02-02',
                              jsonb_build_object(f.d, f.v)) x;
-- an empty array matches nothing
SELECT visitors, visits FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', '{"country": []}');

-- ===================== filters: timeseries =====================
-- '{}' is the 1.0 function's answer
SELECT (SELECT array_agg(t ORDER BY t.bucket) FROM edgestat.timeseries('analytics.test', '2020-12-31', '2021-01-05', '1 day') t)
     = (SELECT array_agg(t ORDER BY t.bucket) FROM edgestat.timeseries('analytics.test', '2020-12-31', '2021-01-05', '1 day', '{}') t)
       AS same;
-- DE by day: 12-31 E1-5, E11, E12: V1, V3 = 2, S1, S3 = 2, pageviews 5;
-- 01-01 E15, E16: 1, S4 1, 1; 01-02, 01-03: 0; 01-04 E17-19: 1, S5 1, 1.
SELECT * FROM edgestat.timeseries('analytics.test', '2020-12-31', '2021-01-05', '1 day', '{"country": "DE"}');
-- entry_page / by 12 hours over 12-31: 00-12 nothing; 12-24: S1? no, S1
-- started 10:00 -> first bucket: [00,12): S1 (E1-E5): 1, 1, 3;
-- [12,24): S3 (E11, E12), S9 (E13): V3, V6 = 2, 2, 3
SELECT * FROM edgestat.timeseries('analytics.test', '2020-12-31', '2021-01-01', '12 hours', '{"entry_page": "/"}');

-- ===================== filters: breakdown =====================
-- '{}' is the 1.0 function's answer
SELECT (SELECT array_agg(b) FROM edgestat.breakdown('analytics.test', 'page', '2020-12-31', '2021-02-02') b)
     = (SELECT array_agg(b) FROM edgestat.breakdown('analytics.test', 'page', '2020-12-31', '2021-02-02', 10, '{}') b)
       AS same;
-- page, DE (events E1-5, E11, E12, E15, E16, E17-19):
--   / E1, E17 (V1), E11 (V3): 2, 3, 3;  /pricing E2, E12: 2, 2, 2;
--   /signup E3 (V1), E15, E16 (V3): 2, 1, 3;  /pricing/team E4: 1, 1, 1;
--   /checkout E5, E18, E19: 1, 0, 3
SELECT * FROM edgestat.breakdown('analytics.test', 'page', '2020-12-31', '2021-02-02', 10, '{"country": "DE"}');
-- country, page /pricing: sessions S1, S3 (DE), S2, S8 (US), S6 (FR), with
-- the sessions' pageviews and events: DE 2, 3+2, 5+2; US 2, 4+1, 5+2 (a
-- tie: by value); FR 1, 1, 1
SELECT * FROM edgestat.breakdown('analytics.test', 'country', '2020-12-31', '2021-02-02', 10, '{"page": "/pricing"}');
-- referrer, desktop: none S4, S5, S7, S8, S9, S10: V3, V1, V5, V6 = 4,
-- 1+1+2+1+1+1 = 7, 2+3+2+2+1+1 = 11; news.example S1: 1, 3, 5;
-- search.example S3: 1, 2, 2
SELECT * FROM edgestat.breakdown('analytics.test', 'referrer', '2020-12-31', '2021-02-02', 10, '{"device": "desktop"}');
-- event, sessions with a signup or a purchase (S1, S2, S4, S5, S8), all
-- their events: pageview V1, V2, V3, V5 = 4, 3+4+1+1+1 = 10, 10;
-- signup E3, E9, E16, E24: 4, 0, 4;  purchase E5, E18, E19: 1, 0, 3.
-- lim 2: the first two.
SELECT * FROM edgestat.breakdown('analytics.test', 'event', '2020-12-31', '2021-02-02', 2,
                                 '{"event": ["signup", "purchase"]}');
-- exit_page, US: S2 /pricing (V2), S7 /blog, S8 /signup (V5): each 1
-- visitor; by pageviews: /pricing 4, /blog 2, /signup 1
SELECT * FROM edgestat.breakdown('analytics.test', 'exit_page', '2020-12-31', '2021-02-02', 10, '{"country": "US"}');

-- ===================== funnel =====================
-- pricing -> signup within 1 day over the whole range.  Step 1 (pricing):
-- V1 (E2 10:05), V2 (E10 11:20), V3 (E12 12-31 12:30), V4 (E20), V5 (E23
-- 00:10) = 5.  Step 2: V1 E3 10:10 after E2: yes; V2 signed up at 11:10,
-- before its pricing view (out of order): no; V3 signed up 01-01 13:05,
-- 24h35m after: outside the day; V4 never; V5 E24 00:15: yes.  = 2:
-- 40.00 %, dropoff 3.
SELECT * FROM edgestat.funnel('analytics.test', '{pricing,signup}', '2020-12-31', '2021-02-02');
-- within 2 days V3 makes it: 3, 60.00, dropoff 2
SELECT * FROM edgestat.funnel('analytics.test', '{pricing,signup}', '2020-12-31', '2021-02-02', '2 days');
-- signup -> pricing -> purchase: step 1 V1 (E3 10:10), V2 (E9 11:10), V3
-- (E16), V5 (E24 00:15) = 4; step 2 (pricing at or after): V1 E4 10:20, V2
-- E10 11:20; V3 and V5 viewed pricing only before = 2 (50.00, dropoff 2);
-- step 3 purchase after: V1 E5 10:30 = 1 (25.00, dropoff 1)
SELECT * FROM edgestat.funnel('analytics.test', '{signup,pricing,purchase}', '2020-12-31', '2021-02-02');
-- Step 1 must be inside the range: from 2021-01-01 V3's pricing view (12-31)
-- is out, though its signup is in.  Step 1: V4, V5 = 2; step 2: V5 = 1.
SELECT * FROM edgestat.funnel('analytics.test', '{pricing,signup}', '2021-01-01', '2021-02-02', '2 days');
-- Later steps may fall after the range: blog -> signup over 01-31: V5 read
-- /blog at 23:50 (E22) and signed up 02-01 00:15 (E24): 1, 1, 100.00.
SELECT * FROM edgestat.funnel('analytics.test', '{blog,signup}', '2021-01-31', '2021-02-01');
-- with a filter: DE: step 1 V1, V3; step 2 V1 (V3 outside the day): 2, 1
SELECT * FROM edgestat.funnel('analytics.test', '{pricing,signup}', '2020-12-31', '2021-02-02',
                              '1 day', '{"country": "DE"}');
-- one step: its visitors
SELECT * FROM edgestat.funnel('analytics.test', '{purchase}', '2020-12-31', '2021-02-02');

-- ===================== retention =====================
-- By day over [12-31, 01-02): first visits V1, V2, V3 (12-31 10-12h), V6
-- (12-31 23:50): one cohort 2020-12-31 of 4.  Period 1 (2021-01-01, across
-- the year): V6 (S10 00:20), V3 (S4 13:00) = 2, 50.00.
SELECT * FROM edgestat.retention('analytics.test', '2020-12-31', '2021-01-02', 'day');
-- By ISO week over [2020-12-28, 2021-02-08): cohorts 2020-12-28 (V1, V2,
-- V3, V6: 4), 2021-01-04 (V4: 1), 2021-01-25 (V5, first seen Sunday 01-31:
-- 1); periods up to the week of 2021-02-01.  Week 2020-12-28: S4 and S10
-- (01-01) are in period 0; period 1: V1 (S5 01-04) = 1, 25.00; 2..5: 0.
-- 2021-01-04: 0..4, nobody back.  2021-01-25: period 1 V5 (S8 02-01): 1.
SELECT * FROM edgestat.retention('analytics.test', '2020-12-28', '2021-02-08', 'week');
-- By month over [2020-12-01, 2021-03-01): December (V1, V2, V3, V6: 4):
-- January V1 (S5), V3 (S4), V6 (S10) = 3, 75.00; February 0.
-- January (V4, V5: 2): February V5 (S8) = 1, 50.00.
SELECT * FROM edgestat.retention('analytics.test', '2020-12-01', '2021-03-01', 'month');
-- the default unit is week; a range that starts after a visitor's first
-- visit leaves it out: from 2021-01-01 only V4 (week 01-04) and V5 (01-25)
SELECT cohort, visitors, period, retained FROM edgestat.retention('analytics.test', '2021-01-01', '2021-02-08')
WHERE period = 0;
-- US sessions only (S2, S7, S8): first US visits V2 (December), V5
-- (January); V5 back in February.
SELECT * FROM edgestat.retention('analytics.test', '2020-12-01', '2021-03-01', 'month', '{"country": "US"}');

-- ===================== journeys =====================
-- Folded first three pages: S1 [/, /pricing, /pricing/team]; S2 [/blog,
-- /blog, /, /pricing] -> [/blog, /, /pricing]; S3 [/, /pricing]; S4
-- [/signup]; S5 [/]; S6 [/pricing]; S7 [/, /blog]; S8 [/pricing]; S9 [/];
-- S10 [/blog].  [/] 2, [/pricing] 2, the others 1.
SELECT * FROM edgestat.journeys('analytics.test', '2020-12-31', '2021-02-02');
-- first page only, top 2: [/] S1, S3, S5, S7, S9 = 5; [/blog] S2, S10 = 2
-- (tie with [/pricing] 2, by path)
SELECT * FROM edgestat.journeys('analytics.test', '2020-12-31', '2021-02-02', 1, 2);
-- US sessions: S2, S7, S8
SELECT * FROM edgestat.journeys('analytics.test', '2020-12-31', '2021-02-02', 5, 20, '{"country": "US"}');

-- ===================== compare =====================
-- 2021-01-01 against 2020-12-31.  01-01: visitors V6, V3 = 2; visits S10,
-- S4 = 2; pageviews E14, E15 = 2; 1.00; 100.00; (0+300)/2 = 150.00.
-- 12-31: 4; S1, S2, S3, S9 = 4; 10; (3+4+2+1)/4 = 2.50; 25.00;
-- (1800+1200+1800+0)/4 = 1200.00.  change: -50.00, -50.00, -80.00,
-- -60.00, +300.00, -87.50.
SELECT * FROM edgestat.compare('analytics.test', '2021-01-01', '2021-01-02');
-- 2021-01-04 against an empty 01-03: previous 0 or NULL, change NULL
SELECT * FROM edgestat.compare('analytics.test', '2021-01-04', '2021-01-05');
-- against a year earlier: nothing in 2020-01
SELECT * FROM edgestat.compare('analytics.test', '2021-01-04', '2021-01-05', 'year');
-- DE, 01-01 (S4) against 12-31 (S1, S3): 1 vs 2, 1 vs 2, 1 vs 5, 1.00 vs
-- 2.50, 100.00 vs 0.00 (change NULL), 300.00 vs 1800.00 (-83.33)
SELECT * FROM edgestat.compare('analytics.test', '2021-01-01', '2021-01-02', 'previous', '{"country": "DE"}');

-- ===================== the dashboard API still reaches summary etc. =====================
SELECT edgestat.dashboard_token('analytics.test') AS tok \gset
SELECT edgestat.dashboard_api(:'tok', 'summary', '{"since": "2020-12-31", "until": "2021-02-02"}');
SELECT json_array_length(edgestat.dashboard_api(:'tok', 'timeseries',
       '{"since": "2020-12-31", "until": "2021-01-05", "bucket": "1 day"}')) AS buckets;
SELECT edgestat.dashboard_api(:'tok', 'breakdown',
       '{"since": "2020-12-31", "until": "2021-02-02", "dimension": "country", "lim": "2"}');

-- ===================== alerts =====================
SELECT edgestat.add_alert('analytics.test', 'pageviews', 3, '1 day') AS a_pageviews,
       edgestat.add_alert('analytics.test', 'signup', 0, '1 hour') AS a_signup,
       edgestat.add_alert('analytics.test', 'visitors', 10, '1 day') AS a_visitors;
-- at 01-01 00:00: pageviews of 12-31 = 10 > 3: fires; signups in
-- [12-31 23:00, 00:00): 0; visitors of 12-31: 4, not above 10.
SELECT edgestat.check_alerts('2021-01-01 00:00');
-- 12:00: pageviews fired less than a day ago; no signup in [11:00, 12:00)
SELECT edgestat.check_alerts('2021-01-01 12:00');
-- 13:30: E16 (13:05) is a signup in [12:30, 13:30): fires, announced on
-- edgestat_alerts (a listener in another session):
\! psql -X -q -d contrib_regression -c "LISTEN edgestat_alerts" -c "SELECT edgestat.check_alerts('2021-01-01 13:30+00')" 2>&1 | sed -E -e 's/PID [0-9]+/PID N/'
-- 14:00: E16 is still within the last hour, but the signup alert fired
-- within its hour (13:30): not again
SELECT edgestat.check_alerts('2021-01-01 14:00');
-- 01-02 00:00: the pageviews alert may fire again, but 01-01 had 2
-- pageviews (E14, E15), not above 3
SELECT edgestat.check_alerts('2021-01-02 00:00');
-- 01-04 14:00: no signup in the last hour; pageviews of the last day
-- (E17, E20) = 2
SELECT edgestat.check_alerts('2021-01-04 14:00');
SELECT metric, value, above, fired_at FROM edgestat.alert_log ORDER BY fired_at;
SELECT metric, above, over, last_fired, fired FROM edgestat.alerts('analytics.test');
SELECT edgestat.drop_alert('analytics.test', (SELECT max(alert) FROM edgestat.alerts('analytics.test'))) AS dropped;
SELECT count(*) AS alerts_left FROM edgestat.alerts('analytics.test');

-- ===================== the learning value score =====================
-- 200 visitors of their own site whose engagement decides, mostly,
-- whether they buy: buyers are those with scroll + 8 * heartbeats > 110,
-- except every 11th visitor, whose outcome is flipped (so that the
-- classes overlap and the weights stay finite).  Buyers have one custom
-- event (the buy itself) in visitors.goals: training does not count it.
SELECT edgestat.add_site('score.analytics.test') > 0 AS site;
SELECT edgestat.add_goal('score.analytics.test', 'buy', event => 'buy') > 0 AS goal,
       edgestat.add_goal('score.analytics.test', 'nobody', event => 'nobody') > 0 AS goal2;
CREATE TEMP TABLE pop AS
SELECT i, 1 + i % 5 AS pageviews, (i * 7) % 13 AS heartbeats, (i * 37) % 101 AS scroll,
       i % 3 AS interactions, ((i * 13) % 17) * 15000 AS engaged_ms, 1 + i % 4 AS sessions,
       (((i * 37) % 101) + 8 * ((i * 7) % 13) > 110) <> (i % 11 = 0) AS buyer
FROM generate_series(1, 200) i;
SELECT count(*) FILTER (WHERE buyer) AS buyers, count(*) AS visitors FROM pop;
INSERT INTO edgestat.visitors (site_id, visitor_id, first_seen, last_seen, sessions,
    events, pageviews, heartbeats, goals, max_scroll, engaged_ms, interactions, score)
SELECT s.site_id, ('c1c1c1c1-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       '2021-02-10 10:00', '2021-02-10 11:00', sessions, pageviews + heartbeats,
       pageviews, heartbeats, buyer::int, scroll, engaged_ms, interactions, 10
FROM pop, edgestat.sites s WHERE s.domain = 'score.analytics.test';
INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path)
SELECT '2021-02-10 10:30', s.site_id, ('c1c1c1c1-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       ('d1d1d1d1-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'buy', '/buy'
FROM pop, edgestat.sites s WHERE s.domain = 'score.analytics.test' AND buyer;
-- held out: last uuid byte (i) % 5 = 0: 40 visitors
-- the weights of scroll and heartbeats come out clearly positive, goals
-- (nobody has another goal) is pulled to 0 by the penalty; the held-out
-- AUC is high
SELECT feature, round(weight::numeric, 1) AS weight, round(auc::numeric, 2) AS auc
FROM edgestat.train_score('score.analytics.test', 'buy');
SELECT goal, round(auc::numeric, 2) AS auc, train_visitors, heldout_visitors, iterations < 25 AS converged
FROM edgestat.site_score_models;
-- The fitted weights score this site's visitors; other sites keep the
-- global ones.  A visitor who scrolled to the end with 12 heartbeats:
SELECT s.site_id AS score_site FROM edgestat.sites s WHERE s.domain = 'score.analytics.test' \gset
SELECT s.site_id AS main_site FROM edgestat.sites s WHERE s.domain = 'analytics.test' \gset
SELECT edgestat.value_score(2, 12, 100, 1, 180000, 1, 0) AS global,
       edgestat.value_score(:main_site, 2, 12, 100, 1, 180000, 1, 0) AS main_site,
       edgestat.value_score(:score_site, 2, 12, 100, 1, 180000, 1, 0) AS fitted,
       edgestat.value_score(:score_site, 2, 12, 100, 1, 180000, 1, 0)
       <> edgestat.value_score(2, 12, 100, 1, 180000, 1, 0) AS fitted_differs,
       edgestat.value_score(:score_site, 2, 12, 100, 1, 180000, 1, 0)
       > edgestat.value_score(:score_site, 2, 0, 0, 1, 180000, 1, 0) AS engagement_counts;
-- reset: back to the global weights
SELECT edgestat.reset_score('score.analytics.test') AS reset,
       edgestat.reset_score('score.analytics.test') AS reset_again;
SELECT edgestat.value_score(:score_site, 2, 12, 100, 1, 180000, 1, 0)
       = edgestat.value_score(2, 12, 100, 1, 180000, 1, 0) AS global_again;
-- a goal nobody reached cannot be learnt (22000); unknown goal 42704
SELECT * FROM edgestat.train_score('score.analytics.test', 'nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.train_score('score.analytics.test', 'sale');
\echo :LAST_ERROR_SQLSTATE

-- ===================== errors =====================
-- goals: unknown site 42704; both or neither of event and page, a page
-- that is not a path, an empty name: 22023
SELECT edgestat.add_goal('nosuch.test', 'x', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT edgestat.add_goal('analytics.test', 'x', 'x', '/x');
\echo :LAST_ERROR_SQLSTATE
SELECT edgestat.add_goal('analytics.test', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT edgestat.add_goal('analytics.test', 'x', page => 'pricing');
\echo :LAST_ERROR_SQLSTATE
SELECT edgestat.add_goal('analytics.test', ' ', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.goals('nosuch.test', '2020-12-31', '2021-02-02');
\echo :LAST_ERROR_SQLSTATE
-- filters: unknown dimension, bad values, not an object: 22023
SELECT * FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', '{"planet": "Mars"}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.goals('analytics.test', '2020-12-31', '2021-02-02', '{"country": 49}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.breakdown('analytics.test', 'page', '2020-12-31', '2021-02-02', 10, '{"country": ["DE", null]}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.timeseries('analytics.test', '2020-12-31', '2021-02-02', '1 day', '["DE"]');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.journeys('analytics.test', '2020-12-31', '2021-02-02', filters => '{"Country": "DE"}');
\echo :LAST_ERROR_SQLSTATE
-- the 1.0 errors keep their codes with filters: bad bucket, dimension, site
SELECT * FROM edgestat.timeseries('analytics.test', '2020-12-31', '2021-02-02', '30 minutes', '{"country": "DE"}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.breakdown('analytics.test', 'planet', '2020-12-31', '2021-02-02', 10, '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.summary('nosuch.test', '2020-12-31', '2021-02-02', '{"country": "DE"}');
\echo :LAST_ERROR_SQLSTATE
-- funnel: unknown goal 42704; no steps, a window that is not positive: 22023
SELECT * FROM edgestat.funnel('analytics.test', '{pricing,nosuch}', '2020-12-31', '2021-02-02');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.funnel('analytics.test', '{}', '2020-12-31', '2021-02-02');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.funnel('analytics.test', '{pricing,signup}', '2020-12-31', '2021-02-02', '0 seconds');
\echo :LAST_ERROR_SQLSTATE
-- retention: bad unit 22023; journeys: bad steps 22023
SELECT * FROM edgestat.retention('analytics.test', '2020-12-31', '2021-02-02', 'year');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.journeys('analytics.test', '2020-12-31', '2021-02-02', 0);
\echo :LAST_ERROR_SQLSTATE
-- compare: bad period 22023
SELECT * FROM edgestat.compare('analytics.test', '2021-01-01', '2021-01-02', 'month');
\echo :LAST_ERROR_SQLSTATE
-- alerts: unknown metric 42704, bad window 22023, unknown site 42704
SELECT edgestat.add_alert('analytics.test', 'bounces', 1, '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT edgestat.add_alert('analytics.test', 'visitors', 1, '0 seconds');
\echo :LAST_ERROR_SQLSTATE
SELECT edgestat.add_alert('nosuch.test', 'visitors', 1, '1 hour');
\echo :LAST_ERROR_SQLSTATE
-- NULL arguments of the report functions: STRICT, no rows
SELECT count(*) FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', NULL);

-- ===================== privileges =====================
-- Nothing here is granted to PUBLIC; a reporting role gets what it is given.
SELECT p.oid::regprocedure AS public_function
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'edgestat' AND has_function_privilege('public', p.oid, 'EXECUTE')
  AND p.proname IN ('add_goal', 'goals', 'summary', 'timeseries', 'breakdown',
      'report_timeseries_filtered', 'filter_items', 'filter_sql',
      'filtered_events_sql', 'filtered_sessions_sql', 'funnel', 'retention',
      'journeys', 'compare', 'train_score', 'reset_score', 'value_score',
      'score_features', 'add_alert', 'drop_alert', 'alerts', 'alert_value',
      'check_alerts', 'builtin_event_names', 'goal_events_sql')
ORDER BY 1::text;
CREATE ROLE regress_analytics_reader;
GRANT USAGE ON SCHEMA edgestat TO regress_analytics_reader;
GRANT EXECUTE ON FUNCTION edgestat.goals(text, timestamptz, timestamptz, jsonb),
    edgestat.summary(text, timestamptz, timestamptz, jsonb) TO regress_analytics_reader;
SET ROLE regress_analytics_reader;
SELECT goal, visitors FROM edgestat.goals('analytics.test', '2020-12-31', '2021-02-02') LIMIT 1;
SELECT visitors FROM edgestat.summary('analytics.test', '2020-12-31', '2021-02-02', '{"country": "DE"}');
SELECT count(*) FROM edgestat.goal_defs;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM edgestat.funnel('analytics.test', '{pricing}', '2020-12-31', '2021-02-02');
\echo :LAST_ERROR_SQLSTATE
SELECT edgestat.add_goal('analytics.test', 'evil', 'evil');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP OWNED BY regress_analytics_reader;
DROP ROLE regress_analytics_reader;

-- ===================== clean up =====================
-- Nothing of this test stays for the tests after it: its two sites with
-- their rows, and the site id sequence as it was.
CREATE TEMP TABLE mine AS
SELECT site_id FROM edgestat.sites WHERE domain IN ('analytics.test', 'score.analytics.test');
DELETE FROM edgestat.events WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.sessions WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.visitors WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.rollup_hourly WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.rollup_dims_hourly WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.rollup_dims_daily WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.rollup_open WHERE site_id IN (SELECT site_id FROM mine);
DELETE FROM edgestat.sites WHERE site_id IN (SELECT site_id FROM mine);
SELECT setval(:'site_seq', :seq_last, :'seq_called'::bool) IS NOT NULL AS sequence_restored;
SELECT count(*) AS goals_left FROM edgestat.goal_defs;
SELECT count(*) AS alerts_left FROM edgestat.alert_rules;
