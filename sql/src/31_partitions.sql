-- edgestat 1.0: daily partitions of edgestat.events and retention.  Owns
-- edgestat.create_day_partition(), edgestat.ensure_partitions() (called by
-- the writer at start and when the UTC date rolls over) and
-- edgestat.apply_retention().
--
-- Raw events live in one partition per UTC day, edgestat.events_YYYYMMDD,
-- so that retention drops whole tables instead of deleting rows.  Rollups
-- (30_reports.sql) are not touched: reports keep answering for dropped days.
--
-- Partition maintenance serialises on one transaction-level advisory lock,
-- (classid, objid) = (x'65647374' 'edst', 1), so concurrent callers (two
-- workers crossing midnight together) neither fail nor create twice.

-- Create the partition for one UTC day unless it exists; returns whether it
-- created one.  Rows of that day that already sit in the DEFAULT partition
-- (written before the partition existed) are moved into it: with the
-- parent locked against inserts, they are moved into a new table that is
-- then attached.  Moving writes to the partitions directly, so the rollup
-- triggers (on the parent) do not count those rows twice.
CREATE FUNCTION edgestat.create_day_partition(day date) RETURNS bool
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
		RETURN true;
	END IF;

	-- SHARE ROW EXCLUSIVE blocks inserts (ROW EXCLUSIVE) until commit, so
	-- no row of that day can reach the default partition behind our back.
	LOCK TABLE edgestat.events IN SHARE ROW EXCLUSIVE MODE;
	EXECUTE format('CREATE TABLE edgestat.%I (LIKE edgestat.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
	EXECUTE format('WITH m AS (DELETE FROM edgestat.events_default WHERE ts >= $1 AND ts < $2 RETURNING *)'
				   ' INSERT INTO edgestat.%I SELECT * FROM m', part)
		USING lo, hi;
	-- attaching builds the partition's index from the parent's
	EXECUTE format('ALTER TABLE edgestat.events ATTACH PARTITION edgestat.%I %s', part, bounds);
	RETURN true;
END
$$;
COMMENT ON FUNCTION edgestat.create_day_partition(date) IS
	'creates edgestat.events_YYYYMMDD for one UTC day if missing, moving that day''s rows out of the default partition';

-- Partitions for the UTC days today .. today + days_ahead; returns how many
-- it created.  Idempotent.
CREATE FUNCTION edgestat.ensure_partitions(days_ahead int DEFAULT 2) RETURNS int
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, edgestat, pg_temp AS $$
DECLARE
	today date := (now() AT TIME ZONE 'UTC')::date;
	created int := 0;
BEGIN
	IF days_ahead NOT BETWEEN 0 AND 366 THEN
		RAISE EXCEPTION 'days_ahead must be between 0 and 366, not %', days_ahead
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR i IN 0 .. days_ahead LOOP
		IF edgestat.create_day_partition(today + i) THEN
			created := created + 1;
		END IF;
	END LOOP;
	RETURN created;
END
$$;
COMMENT ON FUNCTION edgestat.ensure_partitions(int) IS
	'creates the daily partitions of edgestat.events for UTC today .. today + days_ahead; returns how many were created';

-- Drop raw events older than keep: every partition whose upper bound is at
-- or before now() - keep is detached and dropped whole; rows that old in
-- the DEFAULT partition (days that never had a partition; normally none)
-- are deleted.  Rollups are kept, so reports still cover those days.
-- keep defaults to the setting edgestat.retention, else 90 days.  Returns
-- the number of partitions dropped.
CREATE FUNCTION edgestat.apply_retention(
	keep interval DEFAULT coalesce(nullif(current_setting('edgestat.retention', true), ''),
								   '90 days')::interval)
RETURNS int
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, edgestat, pg_temp AS $$
DECLARE
	cutoff timestamptz := now() - keep;
	p record;
	dropped int := 0;
BEGIN
	IF keep < interval '0' THEN
		RAISE EXCEPTION 'keep must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pg_advisory_xact_lock(x'65647374'::int, 1);
	FOR p IN
		SELECT c.oid::regclass AS part,
			   substring(pg_get_expr(c.relpartbound, c.oid)
						 FROM $re$ TO \('([^']+)'\)$re$)::timestamptz AS upper
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'edgestat.events'::regclass
		  AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
		ORDER BY 2
	LOOP
		CONTINUE WHEN p.upper IS NULL OR p.upper > cutoff;
		EXECUTE format('ALTER TABLE edgestat.events DETACH PARTITION %s', p.part);
		EXECUTE format('DROP TABLE %s', p.part);
		dropped := dropped + 1;
	END LOOP;
	DELETE FROM edgestat.events_default WHERE ts < cutoff;
	RETURN dropped;
END
$$;
COMMENT ON FUNCTION edgestat.apply_retention(interval) IS
	'drops the daily partitions of edgestat.events older than keep (default: edgestat.retention, else 90 days); rollups are kept';

REVOKE ALL ON FUNCTION edgestat.create_day_partition(date),
	edgestat.ensure_partitions(int), edgestat.apply_retention(interval) FROM PUBLIC;
