--
-- The pipeline through edgestat.ingest: validation, every rejection with
-- its SQLSTATE, enrichment, bots, and that a refused body stores nothing.
--
CREATE EXTENSION IF NOT EXISTS edgestat CASCADE;

-- Shows the SQLSTATE, message and detail of a refused body, or the count.
CREATE FUNCTION try_ingest(body text, ip inet DEFAULT NULL, ua text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	RETURN 'accepted ' || edgestat.ingest(body, ip, ua);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ' ' || SQLERRM || ': ' || coalesce(detail, '');
END
$$;

-- Builds a beacon with the given overrides over a valid pageview.
CREATE FUNCTION beacon(extra jsonb DEFAULT '{}') RETURNS text
LANGUAGE sql AS $$
	SELECT (jsonb_build_object(
		'd', 'example.com', 'n', 'pageview', 'u', 'https://example.com/',
		'v', '11111111-1111-4111-8111-111111111111',
		's', '22222222-2222-4222-8222-222222222222') || extra)::text
$$;

\set chrome 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
\set iphone 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1'

-- sites
SELECT edgestat.add_site('Example.com') AS example_id;
SELECT edgestat.add_site('shop.test', ARRAY['https://WWW.Shop.test/']) AS shop_id;
SELECT edgestat.add_site('example.com') AS same_id;
SELECT site_id, domain, allowed_origins FROM edgestat.sites ORDER BY site_id;
SELECT edgestat.add_site('not a domain');
SELECT edgestat.add_site('ok.test', ARRAY['ftp://files.ok.test']);

-- a full pageview, enriched
SELECT try_ingest(beacon('{"u": "https://example.com/blog/post?utm_source=news&utm_medium=e%2Dmail&utm_campaign=launch+day#top", "r": "https://www.google.com/search?q=x", "q": 1, "sd": 10, "et": 0, "ic": 0, "w": 1280}'),
				  NULL, :'chrome');
SELECT name, path, referrer_host, utm_source, utm_medium, utm_campaign, seq,
	   scroll, engaged_ms, interactions, viewport, browser, os, device,
	   country, city, props
FROM edgestat.events;

-- an array: a custom goal with props, a heartbeat; referrer of the site itself is internal,
-- and so is one from the page's own host (a site served under another name)
SELECT try_ingest('[' || beacon('{"n": "signup", "u": "https://example.com/join", "q": 2, "p": {"plan": "pro", "seats": "3"}}')
				  || ',' || beacon('{"n": "heartbeat", "u": "https://example.com/join", "q": 3, "et": 15000, "r": "https://example.com/blog"}')
				  || ',' || beacon('{"n": "pageview", "u": "http://127.0.0.1:8000/mirror", "q": 4, "r": "http://127.0.0.1:8000/"}')
				  || ']', NULL, :'iphone');
SELECT name, path, referrer_host, seq, engaged_ms, browser, os, device, props
FROM edgestat.events ORDER BY seq;

-- rejections: each names what is wrong, and nothing is stored
SELECT count(*) AS events_before FROM edgestat.events;
SELECT try_ingest('not json');
SELECT try_ingest('{"d": "example.com"');
SELECT try_ingest('[]');
SELECT try_ingest('"a string"');
SELECT try_ingest('[' || (SELECT string_agg(beacon(jsonb_build_object('q', i)), ',') FROM generate_series(1, 51) i) || ']');
SELECT try_ingest(beacon() || 'trailing');
SELECT try_ingest((beacon()::jsonb - 'd')::text);
SELECT try_ingest((beacon()::jsonb - 's')::text);
SELECT try_ingest(beacon('{"n": 7}'));
SELECT try_ingest(beacon('{"n": ""}'));
SELECT try_ingest(beacon(jsonb_build_object('n', repeat('é', 65))));
SELECT try_ingest(beacon('{"v": "not-a-uuid"}'));
SELECT try_ingest(beacon('{"u": "ftp://example.com/"}'));
SELECT try_ingest(beacon(jsonb_build_object('u', 'https://example.com/' || repeat('a', 2100))));
SELECT try_ingest(beacon('{"sd": 101}'));
SELECT try_ingest(beacon('{"sd": -1}'));
SELECT try_ingest(beacon('{"q": 1.5}'));
SELECT try_ingest(beacon('{"et": "12"}'));
SELECT try_ingest(beacon('{"w": 1e400}'));
SELECT try_ingest(beacon('{"p": ["a"]}'));
SELECT try_ingest(beacon('{"p": {"a": 1}}'));
SELECT try_ingest(beacon((SELECT jsonb_build_object('p', jsonb_object_agg('k' || i, 'v')) FROM generate_series(1, 17) i)));
SELECT try_ingest(beacon(jsonb_build_object('p', jsonb_build_object('k', repeat('x', 257)))));
SELECT try_ingest(replace(beacon(), '"pageview"', '"page\u0000view"'));
SELECT try_ingest(beacon('{"d": "unknown.test"}'));
SELECT try_ingest('[' || beacon() || ',' || beacon('{"d": "unknown.test", "q": 9}') || ']');
SELECT try_ingest(NULL);
SELECT count(*) AS events_after FROM edgestat.events;

-- accepted edge values: sd 0 and 100, 50 events, 16 props, 64-char names, null optionals
SELECT try_ingest(beacon('{"n": "scroll", "sd": 100, "q": 10, "w": 0, "r": null}'), NULL, :'chrome');
SELECT try_ingest(beacon(jsonb_build_object('n', repeat('é', 64), 'q', 11)), NULL, :'chrome');
SELECT try_ingest(beacon((SELECT jsonb_build_object('q', 12, 'p', jsonb_object_agg('k' || i, 'v')) FROM generate_series(1, 16) i)), NULL, :'chrome');
SELECT try_ingest('[' || (SELECT string_agg(beacon(jsonb_build_object('n', 'heartbeat', 'q', 100 + i)), ',') FROM generate_series(1, 50) i) || ']', NULL, :'chrome');
SELECT count(*) AS events_now FROM edgestat.events;

-- bots are dropped and counted, not refused
SELECT try_ingest(beacon('{"q": 500}'), NULL, 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)');
SELECT try_ingest(beacon('{"q": 501}'), NULL, 'curl/8.4.0');
SELECT try_ingest(beacon('{"q": 502}'), NULL, '');
SELECT count(*) AS events_still FROM edgestat.events;

-- a body for the other site from an allowed origin is fine from SQL too
SELECT try_ingest(beacon('{"d": "shop.test", "u": "https://www.shop.test/cart"}'), NULL, :'chrome');

SELECT name, value FROM edgestat.stats()
WHERE name IN ('received', 'accepted', 'invalid', 'unknown_site', 'bots', 'batches')
ORDER BY name;
