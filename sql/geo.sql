--
-- Geolocation with libmaxminddb on databases the tests generate
-- (test/geoip/make-mmdb.pl): lookups, IPv6 and IPv4-mapped addresses, a
-- database swapped by SIGHUP, a missing and a corrupt file (WARNING, no
-- location, no failure).  The address itself is never stored.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\set geo_a :abs_srcdir '/test/data/geo-a.mmdb'
\set geo_b :abs_srcdir '/test/data/geo-b.mmdb'
\set geo_flat :abs_srcdir '/test/data/geo-flat.mmdb'

CREATE FUNCTION located(ip inet, q int) RETURNS TABLE(country text, region text, city text, latitude float8, longitude float8)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM edgestat.ingest(beacon(jsonb_build_object('q', q, 'n', 'geo')), ip);
	RETURN QUERY SELECT e.country, e.region, e.city, e.latitude, e.longitude
		FROM edgestat.events e WHERE e.name = 'geo' AND e.seq = q;
END
$$;

ALTER SYSTEM SET edgestat.geoip_database = :'geo_a';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

SELECT * FROM located('192.0.2.10', 20001);
SELECT * FROM located('198.51.100.7', 20002);
SELECT * FROM located('203.0.113.200', 20003);
SELECT * FROM located('2001:db8::42', 20004);
SELECT * FROM located('::ffff:192.0.2.10', 20005);
SELECT * FROM located('198.18.3.4', 20006);
SELECT * FROM located('10.1.2.3', 20007);
SELECT * FROM located(NULL, 20008);

-- the visitor row carries the latest location found, as a whole
SELECT country, region, city, latitude, longitude FROM edgestat.visitors
WHERE visitor_id = '11111111-1111-4111-8111-111111111111' AND site_id = 1;

-- no column anywhere holds an address
SELECT count(*) AS inet_columns FROM information_schema.columns
WHERE table_schema = 'edgestat' AND data_type IN ('inet', 'cidr');

-- swapped on reload
ALTER SYSTEM SET edgestat.geoip_database = :'geo_b';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT * FROM located('192.0.2.10', 20010);

-- the flat layout of the ip-location-db databases (the demo's GeoLite2)
ALTER SYSTEM SET edgestat.geoip_database = :'geo_flat';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT * FROM located('198.51.100.7', 20015);
SELECT * FROM located('198.18.3.4', 20016);

-- missing and corrupt files: a WARNING, events still stored without location
ALTER SYSTEM SET edgestat.geoip_database = 'missing.mmdb';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT * FROM located('192.0.2.10', 20011);
SELECT * FROM located('192.0.2.10', 20012);

\getenv abs_builddir PG_ABS_BUILDDIR
\set corrupt :abs_builddir '/tmp_check_regress/data/corrupt.mmdb'
COPY (SELECT repeat('not a maxmind database ', 100)) TO :'corrupt';
ALTER SYSTEM SET edgestat.geoip_database = 'corrupt.mmdb';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT * FROM located('192.0.2.10', 20013);

ALTER SYSTEM RESET edgestat.geoip_database;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT * FROM located('192.0.2.10', 20014);
SELECT name, value FROM edgestat.stats() WHERE name IN ('geo_lookups', 'geo_misses') ORDER BY name;
