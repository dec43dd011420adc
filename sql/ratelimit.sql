--
-- Rate limiting per (client address, site): a token bucket of
-- edgestat.rate_limit refilled per minute, so a burst of twice the limit
-- accepts exactly the limit.
--
ALTER SYSTEM SET edgestat.rate_limit = 10;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW edgestat.rate_limit;

CREATE FUNCTION burst(n int, ip inet, site text DEFAULT 'example.com', start int DEFAULT 0)
RETURNS TABLE(outcome text, events bigint) LANGUAGE plpgsql AS $$
DECLARE
	results text[] := '{}';
BEGIN
	FOR i IN 1..n LOOP
		BEGIN
			PERFORM edgestat.ingest(beacon(jsonb_build_object('d', site, 'q', 10000 + start + i,
				'u', 'https://' || site || '/')), ip, NULL);
			results := results || 'accepted'::text;
		EXCEPTION WHEN configuration_limit_exceeded THEN
			results := results || ('rate limited ' || SQLSTATE);
		END;
	END LOOP;
	RETURN QUERY SELECT r, count(*) FROM unnest(results) r GROUP BY r ORDER BY r;
END
$$;

SELECT * FROM burst(20, '192.0.2.50');
-- another address, another site: buckets of their own
SELECT * FROM burst(12, '192.0.2.51', 'example.com', 100);
SELECT * FROM burst(12, '192.0.2.50', 'shop.test', 200);
-- IPv4-mapped IPv6 is the same client
SELECT * FROM burst(1, '::ffff:192.0.2.50', 'example.com', 300);
-- a body needs a token per event, all or none
SELECT * FROM burst(1, '192.0.2.52', 'example.com', 400);
SELECT edgestat.ingest('[' || string_agg(beacon(jsonb_build_object('q', 10500 + i)), ',') || ']', '192.0.2.52')
FROM generate_series(1, 10) i;
-- no address (SQL without client_ip): not limited
SELECT * FROM burst(15, NULL, 'example.com', 600);
SELECT value AS rate_limited FROM edgestat.stats() WHERE name = 'rate_limited';

ALTER SYSTEM RESET edgestat.rate_limit;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW edgestat.rate_limit;
