--
-- NOTIFY on commit: one per visitor touched in a batch, on
-- edgestat.notify_channel, with the payload of docs/notify.md.  A listening
-- psql prints what it receives; the sender's PID and the time are masked.
--

\getenv abs_srcdir PG_ABS_SRCDIR
\set geo_a :abs_srcdir '/test/data/geo-a.mmdb'
ALTER SYSTEM SET edgestat.geoip_database = :'geo_a';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- two events of one visitor and one of another in one body: two notifications
\! psql -X -q -d contrib_regression -c "LISTEN edgestat" -c "SELECT edgestat.ingest('[{\"d\":\"example.com\",\"n\":\"pageview\",\"u\":\"https://example.com/n1\",\"v\":\"99999999-0000-4000-8000-000000000001\",\"s\":\"99999999-0000-4000-8000-0000000000f1\",\"q\":1},{\"d\":\"example.com\",\"n\":\"scroll\",\"u\":\"https://example.com/n1?x=1\",\"v\":\"99999999-0000-4000-8000-000000000001\",\"s\":\"99999999-0000-4000-8000-0000000000f1\",\"q\":2,\"sd\":25},{\"d\":\"example.com\",\"n\":\"pageview\",\"u\":\"https://example.com/n2\",\"v\":\"99999999-0000-4000-8000-000000000002\",\"s\":\"99999999-0000-4000-8000-0000000000f2\",\"q\":1}]', '203.0.113.9')" 2>&1 | sed -E -e 's/PID [0-9]+/PID N/' -e 's/"ts":"[^"]*"/"ts":"T"/' -e 's/"live":[0-9]+/"live":L/'

-- nothing is announced for a transaction that rolls back
\! psql -X -q -d contrib_regression -c "LISTEN edgestat" -c "BEGIN" -c "SELECT edgestat.ingest('{\"d\":\"example.com\",\"n\":\"pageview\",\"u\":\"https://example.com/n3\",\"v\":\"99999999-0000-4000-8000-000000000003\",\"s\":\"99999999-0000-4000-8000-0000000000f3\"}')" -c "ROLLBACK" -c "SELECT 'no notification above' AS result" 2>&1 | sed -E -e 's/PID [0-9]+/PID N/'

-- another channel
ALTER SYSTEM SET edgestat.notify_channel = 'analytics';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\! psql -X -q -d contrib_regression -c "LISTEN analytics" -c "SELECT edgestat.ingest('{\"d\":\"shop.test\",\"n\":\"pageview\",\"u\":\"https://shop.test/\",\"v\":\"99999999-0000-4000-8000-000000000004\",\"s\":\"99999999-0000-4000-8000-0000000000f4\"}')" 2>&1 | sed -E -e 's/PID [0-9]+/PID N/' -e 's/"ts":"[^"]*"/"ts":"T"/' -e 's/"live":[0-9]+/"live":L/'
ALTER SYSTEM RESET edgestat.notify_channel;
ALTER SYSTEM RESET edgestat.geoip_database;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- live visitors: everyone seen within edgestat.live_ttl
SELECT edgestat.live_visitors('example.com') > 0 AS example_live,
	   edgestat.live_visitors('shop.test') AS shop_live;
SELECT visitor_id FROM edgestat.live_visitor_ids('shop.test') ORDER BY 1;
SELECT count(*) AS newest_one FROM edgestat.live_visitor_ids('shop.test', 1);
SELECT edgestat.live_visitors('nobody.test');
SELECT value AS notifications FROM edgestat.stats() WHERE name = 'notifications';
