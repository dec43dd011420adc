
-- ---------------------------------------------------------------------
-- 1.1: pg_dump / pg_restore give back every row.
--
-- A restore runs CREATE EXTENSION (this script included), then loads the
-- rows of the tables marked with pg_extension_config_dump by COPY, then
-- the run-time daily partitions (not extension members: created by
-- edgestat.create_day_partition after CREATE EXTENSION) as ordinary
-- tables with their rows and indexes.  1.0 got four things wrong:
--
-- 1. sessions, visitors, the DEFAULT partition of events and the sites'
--    identity sequence were not marked, so their rows (and the sequence's
--    position) were lost: breakdowns of open hours, which count visitors
--    from sessions, came back with 0 visitors, and the next add_site()
--    collided with a restored site_id.
-- 2. The index on the partitioned parent (events_site_ts, made by CREATE
--    EXTENSION) makes ATTACH PARTITION create each restored partition's
--    index itself, so the dump's own CREATE INDEX of that index failed
--    ("already exists"), once per daily partition.  Partitions now carry
--    their own index, made by create_day_partition(), and the parent none:
--    pg_dump then restores each partition's index exactly once.
-- 3. score_weights' default rows, inserted by CREATE EXTENSION, collided
--    with the dumped rows (duplicate key): a restore now replaces them.
-- 4. Once sessions are restored, their COPY would fire the rollup trigger
--    and count every restored visit a second time on top of the restored
--    rollups.  The rollup triggers now skip a COPY into edgestat's tables
--    (what pg_dump's data is made of; the writer never uses COPY), so the
--    rollups come back exactly as dumped.
-- ---------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('edgestat.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.visitors', '');
-- events itself is partitioned (no rows of its own): its DEFAULT partition
-- is the only member holding rows; the daily ones are dumped as tables.
SELECT pg_catalog.pg_extension_config_dump('edgestat.events_default', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.sites_site_id_seq', '');

-- 2. One index per partition instead of one on the parent.  Dropping the
-- parent's drops the partitions' attached ones; they are rebuilt under the
-- same names (indexes are never extension members, so pg_dump dumps those
-- of the daily partitions with their tables).
--
-- The indexes of a partition, made here for every one:
--   (site_id, ts)                  every report's range scan;
--   (site_id, ts) WHERE revenue    the few events carrying revenue (goals);
--   (site_id, name, ts) WHERE name is a custom event's: event goals,
--                                  funnels of event steps, the event filter
--                                  and goal alerts read only those.
-- The partial ones cost an index entry only for the events they hold
-- (what they cost an insert: docs/analytics.md, Speed).
CREATE FUNCTION edgestat.create_partition_indexes(part regclass) RETURNS void
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rel text := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = part);
BEGIN
	EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (site_id, ts)', rel || '_site_id_ts_idx', part);
	EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (site_id, ts) WHERE revenue IS NOT NULL',
				   rel || '_revenue_idx', part);
	EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (site_id, name, ts)'
				   ' WHERE name <> ALL (%L::text[])', rel || '_custom_idx', part,
				   '{pageview,heartbeat,scroll,interaction,leave}');
END
$$;
REVOKE ALL ON FUNCTION edgestat.create_partition_indexes(regclass) FROM PUBLIC;

-- (the partial ones of partitions that exist are made by 40_analytics.sql,
-- once events has its revenue column)
DROP INDEX edgestat.events_site_ts;
DO $$
DECLARE
	p regclass;
BEGIN
	FOR p IN
		SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
		WHERE i.inhparent = 'edgestat.events'::regclass ORDER BY 1
	LOOP
		EXECUTE pg_catalog.format('CREATE INDEX %I ON %s (site_id, ts)',
			(SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = p) || '_site_id_ts_idx', p);
	END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION edgestat.create_day_partition(day date) RETURNS bool
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, edgestat, pg_temp AS $$
DECLARE
	part text := 'events_' || to_char(day, 'YYYYMMDD');
	lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
	hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
	-- bounds spelled out in UTC, independent of DateStyle and TimeZone
	bounds text := format('FOR VALUES FROM (%L) TO (%L)',
						  to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00',
						  to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
BEGIN
	PERFORM pg_advisory_xact_lock(x'65647374'::int, 1);
	IF to_regclass(format('edgestat.%I', part)) IS NOT NULL THEN
		RETURN false;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM edgestat.events_default WHERE ts >= lo AND ts < hi) THEN
		EXECUTE format('CREATE TABLE edgestat.%I PARTITION OF edgestat.events %s', part, bounds);
		PERFORM edgestat.create_partition_indexes(format('edgestat.%I', part)::regclass);
		RETURN true;
	END IF;

	-- SHARE ROW EXCLUSIVE blocks inserts (ROW EXCLUSIVE) until commit, so
	-- no row of that day can reach the default partition behind our back.
	LOCK TABLE edgestat.events IN SHARE ROW EXCLUSIVE MODE;
	EXECUTE format('CREATE TABLE edgestat.%I (LIKE edgestat.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
	EXECUTE format('WITH m AS (DELETE FROM edgestat.events_default WHERE ts >= $1 AND ts < $2 RETURNING *)'
				   ' INSERT INTO edgestat.%I SELECT * FROM m', part)
		USING lo, hi;
	PERFORM edgestat.create_partition_indexes(format('edgestat.%I', part)::regclass);
	EXECUTE format('ALTER TABLE edgestat.events ATTACH PARTITION edgestat.%I %s', part, bounds);
	RETURN true;
END
$$;
REVOKE ALL ON FUNCTION edgestat.create_day_partition(date) FROM PUBLIC;

-- 3. A restore's rows of score_weights replace the defaults that CREATE
-- EXTENSION put there.  Only under a COPY (see 4); an INSERT of a feature
-- that exists still fails as before.
CREATE FUNCTION edgestat.score_weights_restore() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, edgestat, pg_temp AS $$
BEGIN
	DELETE FROM edgestat.score_weights w WHERE w.feature = NEW.feature;
	RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION edgestat.score_weights_restore() FROM PUBLIC;

-- 4. "A COPY into one of edgestat's tables": the statement the client sent
-- (current_query(); NULL in the HTTP worker, whose batches must count).
-- pg_dump writes "COPY edgestat.sessions (cols) FROM stdin;".  Written out
-- in each WHEN clause rather than as a function, so that a role granted
-- INSERT on the tables needs no EXECUTE privilege to fire the triggers.
CREATE TRIGGER score_weights_restore BEFORE INSERT ON edgestat.score_weights
	FOR EACH ROW
	WHEN (COALESCE(pg_catalog.current_query(), '') OPERATOR(pg_catalog.~*)
		  '^\s*copy\s+"?edgestat"?\.\S+\s*(\([^)]*\)\s*)?from\s')
	EXECUTE FUNCTION edgestat.score_weights_restore();

DROP TRIGGER rollup_events ON edgestat.events;
CREATE TRIGGER rollup_events AFTER INSERT ON edgestat.events
	REFERENCING NEW TABLE AS new_events
	FOR EACH STATEMENT
	WHEN (COALESCE(pg_catalog.current_query(), '') OPERATOR(pg_catalog.!~*)
		  '^\s*copy\s+"?edgestat"?\.\S+\s*(\([^)]*\)\s*)?from\s')
	EXECUTE FUNCTION edgestat.rollup_events();
DROP TRIGGER rollup_sessions_insert ON edgestat.sessions;
CREATE TRIGGER rollup_sessions_insert AFTER INSERT ON edgestat.sessions
	REFERENCING NEW TABLE AS new_sessions
	FOR EACH STATEMENT
	WHEN (COALESCE(pg_catalog.current_query(), '') OPERATOR(pg_catalog.!~*)
		  '^\s*copy\s+"?edgestat"?\.\S+\s*(\([^)]*\)\s*)?from\s')
	EXECUTE FUNCTION edgestat.rollup_sessions_insert();
