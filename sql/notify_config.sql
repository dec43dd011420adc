--
-- What NOTIFY says is configurable: any role that may connect can LISTEN,
-- so the payload's fields can be chosen (edgestat.notify_fields) and
-- NOTIFY turned off (edgestat.notify_channel = '').  Bad values are
-- refused when set.
--

-- only some fields: no coordinates, no path
ALTER SYSTEM SET edgestat.notify_fields = 'site, v, n, country, score';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\! psql -X -q -d contrib_regression -c "LISTEN edgestat" -c "SELECT edgestat.ingest('{\"d\":\"example.com\",\"n\":\"pageview\",\"u\":\"https://example.com/secret-path\",\"v\":\"99999999-0000-4000-8000-0000000000a1\",\"s\":\"99999999-0000-4000-8000-0000000000b1\"}')" 2>&1 | sed -E -e 's/PID [0-9]+/PID N/'

-- the order of the list does not matter; the payload's order is fixed
ALTER SYSTEM SET edgestat.notify_fields = 'score, site';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
\! psql -X -q -d contrib_regression -c "LISTEN edgestat" -c "SELECT edgestat.ingest('{\"d\":\"example.com\",\"n\":\"pageview\",\"u\":\"https://example.com/a2\",\"v\":\"99999999-0000-4000-8000-0000000000a2\",\"s\":\"99999999-0000-4000-8000-0000000000b2\"}')" 2>&1 | sed -E -e 's/PID [0-9]+/PID N/'

-- NOTIFY off: nothing arrives, nothing is counted
ALTER SYSTEM SET edgestat.notify_channel = '';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT value AS notifications_before FROM edgestat.stats() WHERE name = 'notifications' \gset
\! psql -X -q -d contrib_regression -c "LISTEN edgestat" -c "SELECT edgestat.ingest('{\"d\":\"example.com\",\"n\":\"pageview\",\"u\":\"https://example.com/a3\",\"v\":\"99999999-0000-4000-8000-0000000000a3\",\"s\":\"99999999-0000-4000-8000-0000000000b3\"}')" -c "SELECT 'no notification above' AS result" 2>&1 | sed -E -e 's/PID [0-9]+/PID N/'
SELECT value - :notifications_before AS notified FROM edgestat.stats() WHERE name = 'notifications';

-- refused when set
ALTER SYSTEM SET edgestat.notify_fields = 'site, latitude';
ALTER SYSTEM SET edgestat.notify_channel = 'a_channel_name_that_is_much_longer_than_sixty_three_bytes_in_all_x';

ALTER SYSTEM RESET edgestat.notify_fields;
ALTER SYSTEM RESET edgestat.notify_channel;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
