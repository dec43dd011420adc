--
-- Max-merge: the same beacons in order, reversed, repeated, or in one
-- batch leave the same session and visitor figures.  Counters count each
-- accepted event once, maxima only grow, and et/ic (session-cumulative)
-- reach the visitor exactly once.
--
CREATE FUNCTION journey(v text, s text) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT beacon(jsonb_build_object('v', v, 's', s) || step) FROM (VALUES
		(1, '{"n": "pageview", "u": "https://example.com/a", "q": 1, "sd": 0, "et": 0, "ic": 0}'::jsonb),
		(2, '{"n": "scroll", "u": "https://example.com/a", "q": 2, "sd": 50, "et": 4000, "ic": 1}'),
		(3, '{"n": "heartbeat", "u": "https://example.com/a", "q": 3, "sd": 50, "et": 15000, "ic": 1}'),
		(4, '{"n": "interaction", "u": "https://example.com/a", "q": 4, "sd": 75, "et": 18000, "ic": 3}'),
		(5, '{"n": "pageview", "u": "https://example.com/b", "q": 1, "sd": 0, "et": 20000, "ic": 3}'),
		(6, '{"n": "signup", "u": "https://example.com/b", "q": 2, "sd": 20, "et": 26000, "ic": 4}'),
		(7, '{"n": "leave", "u": "https://example.com/b", "q": 3, "sd": 20, "et": 30000, "ic": 4}')
	) AS j(i, step) ORDER BY i
$$;

-- Ingests each body on its own, in the given order.
CREATE FUNCTION ingest_each(bodies text[]) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	body text;
	total int := 0;
BEGIN
	FOREACH body IN ARRAY bodies LOOP
		total := total + edgestat.ingest(body);
	END LOOP;
	RETURN total;
END
$$;

-- A: in order, one body each
SELECT ingest_each(array(SELECT journey('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-0000000000a1'))) AS a_in_order;
-- B: reversed
SELECT ingest_each(array(SELECT b FROM journey('bbbbbbbb-0000-4000-8000-000000000002', 'bbbbbbbb-0000-4000-8000-0000000000b2') WITH ORDINALITY AS j(b, i) ORDER BY i DESC)) AS b_reversed;
-- C: the whole journey in one body (one batch touches each row once)
SELECT edgestat.ingest('[' || string_agg(b, ',') || ']') AS c_one_batch
FROM journey('cccccccc-0000-4000-8000-000000000003', 'cccccccc-0000-4000-8000-0000000000c3') b;
-- D: in order, then every beacon again (duplicates are dropped)
SELECT ingest_each(array(SELECT journey('dddddddd-0000-4000-8000-000000000004', 'dddddddd-0000-4000-8000-0000000000d4'))) AS d_first;
SELECT ingest_each(array(SELECT journey('dddddddd-0000-4000-8000-000000000004', 'dddddddd-0000-4000-8000-0000000000d4'))) AS d_repeated;

-- every figure equal across the four
SELECT left(session_id::text, 8) AS session, events, pageviews, heartbeats, goals,
	   max_scroll, engaged_ms, interactions
FROM edgestat.sessions WHERE session_id::text ~ '^(a|b|c|d){8}-' ORDER BY 1;
SELECT left(visitor_id::text, 8) AS visitor, sessions, events, pageviews, heartbeats,
	   goals, max_scroll, engaged_ms, interactions, last_seen >= first_seen AS ordered
FROM edgestat.visitors WHERE visitor_id::text ~ '^(a|b|c|d){8}-' ORDER BY 1;
SELECT count(DISTINCT (events, pageviews, heartbeats, goals, max_scroll, engaged_ms, interactions)) AS distinct_session_figures
FROM edgestat.sessions WHERE session_id::text ~ '^(a|b|c|d){8}-';
SELECT count(DISTINCT (sessions, events, pageviews, heartbeats, goals, max_scroll, engaged_ms, interactions)) AS distinct_visitor_figures
FROM edgestat.visitors WHERE visitor_id::text ~ '^(a|b|c|d){8}-';

-- entry and exit pages follow arrival: in order /a then /b, one batch the same
SELECT left(session_id::text, 8) AS session, entry_page, exit_page
FROM edgestat.sessions WHERE session_id::text ~ '^(a|c){8}-' ORDER BY 1;

-- a second session of visitor A adds its own et/ic growth, once
SELECT edgestat.ingest(beacon('{"v": "aaaaaaaa-0000-4000-8000-000000000001", "s": "aaaaaaaa-0000-4000-8000-0000000000a2", "et": 5000, "ic": 2}')) AS a_second_session;
SELECT edgestat.ingest(beacon('{"v": "aaaaaaaa-0000-4000-8000-000000000001", "s": "aaaaaaaa-0000-4000-8000-0000000000a2", "n": "heartbeat", "et": 3000, "ic": 1}')) AS a_older_beacon;
SELECT sessions, events, pageviews, engaged_ms, interactions
FROM edgestat.visitors WHERE visitor_id = 'aaaaaaaa-0000-4000-8000-000000000001';
