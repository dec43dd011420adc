--
-- The duplicate window: equal (d, v, s, n, u, q) within
-- edgestat.dedup_window is dropped (no error) and counted; a key of a
-- transaction that rolled back is forgotten; the window expires.
--
CREATE FUNCTION dup_count() RETURNS bigint LANGUAGE sql AS
$$ SELECT value FROM edgestat.stats() WHERE name = 'duplicates' $$;
CREATE TEMP TABLE before AS SELECT dup_count() AS d;

SELECT edgestat.ingest(beacon('{"q": 7000}')) AS first,
	   edgestat.ingest(beacon('{"q": 7000}')) AS again;
-- any part of the key differs: not a duplicate
SELECT edgestat.ingest(beacon('{"q": 7001}')) AS other_q,
	   edgestat.ingest(beacon('{"q": 7000, "n": "heartbeat"}')) AS other_n,
	   edgestat.ingest(beacon('{"q": 7000, "u": "https://example.com/x"}')) AS other_u,
	   edgestat.ingest(beacon('{"q": 7000, "s": "33333333-3333-4333-8333-333333333333"}')) AS other_s;
-- no q at all is a key of its own
SELECT edgestat.ingest(beacon('{"n": "noseq"}')) AS no_q,
	   edgestat.ingest(beacon('{"n": "noseq"}')) AS no_q_again;
-- inside one body
SELECT edgestat.ingest('[' || beacon('{"q": 7100}') || ',' || beacon('{"q": 7100}') || ']') AS twice_in_body;
SELECT dup_count() - d AS duplicates_counted FROM before;

-- rolled back: the retry is not a duplicate
BEGIN;
SELECT edgestat.ingest(beacon('{"q": 7200}')) AS in_aborted_xact;
ROLLBACK;
SELECT edgestat.ingest(beacon('{"q": 7200}')) AS retry_after_rollback;
BEGIN;
SAVEPOINT s1;
SELECT edgestat.ingest(beacon('{"q": 7300}')) AS in_savepoint;
ROLLBACK TO SAVEPOINT s1;
SELECT edgestat.ingest(beacon('{"q": 7300}')) AS retry_after_savepoint;
COMMIT;
SELECT count(*) AS stored_7200_7300 FROM edgestat.events WHERE seq IN (7200, 7300);

-- expiry
ALTER SYSTEM SET edgestat.dedup_window = '300ms';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW edgestat.dedup_window;
SELECT edgestat.ingest(beacon('{"q": 7400}')) AS first,
	   edgestat.ingest(beacon('{"q": 7400}')) AS within_window;
SELECT pg_sleep(0.5);
SELECT edgestat.ingest(beacon('{"q": 7400}')) AS after_window;
ALTER SYSTEM RESET edgestat.dedup_window;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SHOW edgestat.dedup_window;
