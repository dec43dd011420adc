-- Edges and a center (docs/scale.md), on PostgreSQL's logical
-- replication.  An edge is an ordinary node that publishes its raw events
-- (publication edgestat_events, through the partition root, inserts only);
-- the center subscribes to each edge (subscription edgestat_<edge>, its slot
-- of the same name on the edge) and merges every applied event through the
-- same writer as local ingest (src/edges.c).  Sites keep the same site_id
-- everywhere: attach_edge reconciles both sides' sites (the union, by id)
-- and refuses an edge whose site ids clash with the center's.

-- What the center knows of its edges.
CREATE TABLE edgestat.edge_nodes (
	name text PRIMARY KEY CHECK (name ~ '^[a-z0-9_]{1,40}$'),
	conninfo text NOT NULL,
	attached_at timestamptz NOT NULL DEFAULT now(),
	last_event timestamptz,
	events bigint NOT NULL DEFAULT 0,
	slot_left boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE edgestat.edge_nodes IS
	'edges attached to this center; slot_left: detached while unreachable, its slot still on the edge';

-- Keys of events merged from edges, so that an event two edges both
-- acknowledged (a client that retried elsewhere) is stored once.
CREATE TABLE edgestat.edge_dedup (
	key uuid PRIMARY KEY,
	edge text NOT NULL,
	ts timestamptz NOT NULL
);

-- One marker row per replicated transaction; its deferred trigger merges
-- the transaction's events at commit (src/edges.c).
CREATE TABLE edgestat.edge_flush (
	id bigint GENERATED ALWAYS AS IDENTITY,
	at timestamptz NOT NULL DEFAULT now()
);

-- An edge's WAL position now and then, so that retention can tell which
-- days its center has received (apply_retention below).
CREATE TABLE edgestat.edge_wal_marks (
	at timestamptz PRIMARY KEY,
	lsn pg_lsn NOT NULL
);

CREATE FUNCTION edgestat.edge_collect() RETURNS trigger
AS 'MODULE_PATHNAME', 'edgestat_edge_collect' LANGUAGE C;
CREATE FUNCTION edgestat.edge_flush() RETURNS trigger
AS 'MODULE_PATHNAME', 'edgestat_edge_flush' LANGUAGE C;
CREATE FUNCTION edgestat.edge_remote(conninfo text, query text) RETURNS text
AS 'MODULE_PATHNAME', 'edgestat_edge_remote' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION edgestat.edge_remote(text, text) IS
	'runs one statement on another node (superuser only); the first column of its first row';

CREATE FUNCTION edgestat.edge_metrics_sync() RETURNS void
AS 'MODULE_PATHNAME', 'edgestat_edge_metrics_sync' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION edgestat.edge_metrics_sync() IS
	'makes the edges /metrics shows those of edgestat.edge_nodes';

CREATE FUNCTION edgestat.edge_last_event(name text) RETURNS timestamptz
AS 'MODULE_PATHNAME', 'edgestat_edge_last_event' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION edgestat.edge_last_event(text) IS
	'the newest event merged from the edge since the center started (shared memory)';

CREATE CONSTRAINT TRIGGER edge_flush AFTER INSERT ON edgestat.edge_flush
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION edgestat.edge_flush();
ALTER TABLE edgestat.edge_flush ENABLE ALWAYS TRIGGER edge_flush;

-- On a center only (it costs a function call per row): the apply worker's
-- inserts into edgestat.events are taken by edge_collect.  ENABLE ALWAYS
-- on the partitioned table reaches its partitions, today's and later ones.
CREATE FUNCTION edgestat.edge_center_setup() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	p regclass;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_trigger
				   WHERE tgrelid = 'edgestat.events'::regclass AND tgname = 'edge_collect') THEN
		CREATE TRIGGER edge_collect BEFORE INSERT ON edgestat.events
			FOR EACH ROW EXECUTE FUNCTION edgestat.edge_collect();
	END IF;
	ALTER TABLE edgestat.events ENABLE ALWAYS TRIGGER edge_collect;
	-- partitions that do not follow their parent's setting
	FOR p IN SELECT t.tgrelid::regclass FROM pg_trigger t JOIN pg_inherits i ON i.inhrelid = t.tgrelid
			 WHERE i.inhparent = 'edgestat.events'::regclass AND t.tgname = 'edge_collect'
			   AND t.tgenabled <> 'A' LOOP
		EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER edge_collect', p);
	END LOOP;
END
$fn$;

-- How the edge reaches the center for its sites: attach_edge's third
-- argument, else this setting (src/edges.c defines it).
CREATE FUNCTION edgestat.edge_center_conninfo(given text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	info text := coalesce(nullif(given, ''),
						  nullif(current_setting('edgestat.center_conninfo', true), ''));
BEGIN
	IF info IS NULL THEN
		RAISE EXCEPTION 'the edge needs a conninfo to reach this center'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Set edgestat.center_conninfo on the center, or pass it as attach_edge''s third argument.';
	END IF;
	RETURN info;
END
$fn$;

-- Drops a replication slot of this node, ending its walsender first
-- (a subscriber that is still connected holds it): retried for up to 10 s.
CREATE FUNCTION edgestat.edge_drop_local_slot(slot text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	FOR i IN 1..100 LOOP
		IF NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = slot) THEN
			RETURN;
		END IF;
		PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE slot_name = slot AND active_pid IS NOT NULL;
		BEGIN
			PERFORM pg_drop_replication_slot(slot);
			RETURN;
		EXCEPTION WHEN object_in_use OR undefined_object THEN
			PERFORM pg_sleep(0.1);
		END;
	END LOOP;
	RAISE EXCEPTION 'replication slot % is still in use', slot
		USING ERRCODE = 'object_in_use';
END
$fn$;

-- On an edge: a site the center publishes that the edge has already (it
-- was handed over by attach_edge, or the initial copy meets it) updates
-- that row instead of failing the apply worker on its key.  ENABLE
-- REPLICA: it fires for the subscription only.
CREATE FUNCTION edgestat.edge_site_arrives() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	UPDATE edgestat.sites s
	SET domain = NEW.domain, allowed_origins = NEW.allowed_origins,
		created_at = NEW.created_at, public_id = NEW.public_id
	WHERE s.site_id = NEW.site_id;
	IF FOUND THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$fn$;
CREATE TRIGGER edge_site_arrives BEFORE INSERT ON edgestat.sites
	FOR EACH ROW EXECUTE FUNCTION edgestat.edge_site_arrives();
ALTER TABLE edgestat.sites ENABLE REPLICA TRIGGER edge_site_arrives;
-- The statement trigger sites_changed does not fire for the apply worker:
-- this one tells the edge's HTTP workers that their site cache is stale.
CREATE TRIGGER sites_replicated AFTER INSERT OR UPDATE OR DELETE ON edgestat.sites
	FOR EACH ROW EXECUTE FUNCTION edgestat.invalidate_caches();
ALTER TABLE edgestat.sites ENABLE REPLICA TRIGGER sites_replicated;

-- The center publishes its sites (publication edgestat_sites); each edge
-- subscribes (subscription edgestat_sites on the edge, slot
-- edgesites_<edge> on the center: not edgestat_*, which would make the
-- center look like an edge to refuse_edge_sites and hold its retention).
CREATE FUNCTION edgestat.attach_edge(name text, conninfo text, center_conninfo text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	sub text := 'edgestat_' || name;
	sites_slot text := 'edgesites_' || name;
	center text;
	edge_sites json;
	clash text;
	center_sites json;
	made_sites_sub bool := false;
BEGIN
	IF name IS NULL OR name !~ '^[a-z0-9_]{1,40}$' THEN
		RAISE EXCEPTION 'invalid edge name "%"', name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'An edge name is 1 to 40 lower-case letters, digits or underscores.';
	END IF;
	IF conninfo IS NULL THEN
		RAISE EXCEPTION 'conninfo must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	center := edgestat.edge_center_conninfo(center_conninfo);
	-- The edge's subscription creates its slot here, which waits for every
	-- transaction of this node that has written: this one must not have.
	IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
		RAISE EXCEPTION 'attach_edge must run in a transaction of its own'
			USING ERRCODE = 'active_sql_transaction',
				  DETAIL = 'This transaction has written already; the edge''s subscription to this center would wait for it.';
	END IF;
	IF EXISTS (SELECT FROM edgestat.edge_nodes n WHERE n.name = attach_edge.name AND NOT n.slot_left)
	   AND EXISTS (SELECT FROM pg_subscription WHERE subname = sub) THEN
		RAISE NOTICE 'edge "%" is attached already; its sites are reconciled again', name;
	END IF;

	IF edgestat.edge_remote(conninfo, $q$SELECT current_setting('wal_level')$q$) <> 'logical' THEN
		RAISE EXCEPTION 'edge "%" does not run with wal_level = logical', name
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF edgestat.edge_remote(conninfo,
			$q$SELECT count(*) FROM pg_extension WHERE extname = 'edgestat'$q$) <> '1' THEN
		RAISE EXCEPTION 'edge "%" has no edgestat extension in that database', name
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;

	-- Sites: the same id for the same domain everywhere, or no attach.
	edge_sites := edgestat.edge_remote(conninfo,
		$q$SELECT coalesce(json_agg(json_build_object('id', site_id, 'domain', domain,
				'origins', allowed_origins) ORDER BY site_id), '[]') FROM edgestat.sites$q$)::json;
	SELECT string_agg(format('%s=%s (center: %s=%s)', e.id, e.domain, s.site_id, s.domain), ', ')
	INTO clash
	FROM json_to_recordset(edge_sites) AS e(id int, domain text, origins text[])
	JOIN edgestat.sites s ON (s.site_id = e.id) <> (s.domain = e.domain)
	WHERE s.site_id = e.id OR s.domain = e.domain;
	IF clash IS NOT NULL THEN
		RAISE EXCEPTION 'edge "%" has sites whose ids differ from the center''s', name
			USING ERRCODE = 'unique_violation',
				  DETAIL = 'Clashing sites: ' || clash || '.',
				  HINT = 'Register sites on the center before attaching edges; an edge must not register sites of its own.';
	END IF;

	-- The center's publication, committed on a connection of its own: a
	-- slot made after it can decode it (one made before this transaction
	-- commits could not, and the edge's subscription would fail for good).
	PERFORM edgestat.edge_remote(center,
		$q$DO $x$ BEGIN
			IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'edgestat_sites') THEN
				CREATE PUBLICATION edgestat_sites FOR TABLE edgestat.sites
					WITH (publish = 'insert, update, delete');
			END IF;
		END $x$$q$);

	-- The edge subscribes to it; the copy of the center's sites meets the
	-- edge's own rows in edge_site_arrives.  Nothing written here yet.
	IF edgestat.edge_remote(conninfo,
			$q$SELECT count(*) FROM pg_subscription WHERE subname = 'edgestat_sites'
			   AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())$q$) = '0' THEN
		-- a slot of an earlier attach that was not cleaned up
		IF EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = sites_slot) THEN
			PERFORM edgestat.edge_drop_local_slot(sites_slot);
		END IF;
		PERFORM edgestat.edge_remote(conninfo, format(
			'CREATE SUBSCRIPTION edgestat_sites CONNECTION %L PUBLICATION edgestat_sites'
			' WITH (slot_name = %L, copy_data = true)', center, sites_slot));
		made_sites_sub := true;
	END IF;

	BEGIN
		INSERT INTO edgestat.sites (site_id, domain, allowed_origins) OVERRIDING SYSTEM VALUE
		SELECT e.id, e.domain, e.origins
		FROM json_to_recordset(edge_sites) AS e(id int, domain text, origins text[])
		ON CONFLICT DO NOTHING;
		PERFORM setval(pg_get_serial_sequence('edgestat.sites', 'site_id'), max(site_id))
		FROM edgestat.sites HAVING count(*) > 0;
		-- At once too, so that the edge serves them when this returns.
		SELECT coalesce(json_agg(json_build_object('id', site_id, 'domain', domain,
				'origins', allowed_origins, 'public_id', public_id)), '[]')
		INTO center_sites FROM edgestat.sites;
		PERFORM edgestat.edge_remote(conninfo, format(
			$q$INSERT INTO edgestat.sites (site_id, domain, allowed_origins, public_id) OVERRIDING SYSTEM VALUE
			   SELECT e.id, e.domain, e.origins, e.public_id
			   FROM json_to_recordset(%L) AS e(id int, domain text, origins text[], public_id uuid)
			   ON CONFLICT (site_id) DO UPDATE SET allowed_origins = excluded.allowed_origins,
					public_id = excluded.public_id;
			   SELECT setval(pg_get_serial_sequence('edgestat.sites', 'site_id'), max(site_id))::text
			   FROM edgestat.sites HAVING count(*) > 0$q$, center_sites));

		-- The edge publishes its events (inserts only: retention's deletes stay local).
		PERFORM edgestat.edge_remote(conninfo,
			$q$DO $x$ BEGIN
				IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'edgestat_events') THEN
					CREATE PUBLICATION edgestat_events FOR TABLE edgestat.events
						WITH (publish = 'insert', publish_via_partition_root = true);
				END IF;
			END $x$$q$);

		PERFORM edgestat.edge_center_setup();

		IF NOT EXISTS (SELECT FROM pg_subscription WHERE subname = sub) THEN
			-- The slot first, on the edge: a subscription that creates its
			-- own cannot be made inside a transaction.  From here on, every
			-- event the edge acknowledges waits in the slot for the center.
			PERFORM edgestat.edge_remote(conninfo, format(
				$q$SELECT slot_name::text FROM pg_create_logical_replication_slot(%L, 'pgoutput')
				   WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = %L)$q$, sub, sub));
			BEGIN
				EXECUTE format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION edgestat_events'
							   ' WITH (create_slot = false, slot_name = %L, copy_data = false)',
							   sub, conninfo, sub);
			EXCEPTION WHEN OTHERS THEN
				PERFORM edgestat.edge_remote(conninfo, format(
					'SELECT pg_drop_replication_slot(%L)::text', sub));
				RAISE;
			END;
		END IF;
	EXCEPTION WHEN OTHERS THEN
		-- no subscription of this attempt left on the edge, nor its slot here
		IF made_sites_sub THEN
			BEGIN
				PERFORM edgestat.edge_remote(conninfo, 'ALTER SUBSCRIPTION edgestat_sites DISABLE');
				PERFORM edgestat.edge_remote(conninfo, 'ALTER SUBSCRIPTION edgestat_sites SET (slot_name = NONE)');
				PERFORM edgestat.edge_remote(conninfo, 'DROP SUBSCRIPTION edgestat_sites');
				PERFORM edgestat.edge_drop_local_slot(sites_slot);
			EXCEPTION WHEN OTHERS THEN
				RAISE WARNING 'could not undo the edge''s subscription to this center: %', SQLERRM;
			END;
		END IF;
		RAISE;
	END;

	INSERT INTO edgestat.edge_nodes AS n (name, conninfo) VALUES (attach_edge.name, conninfo)
	ON CONFLICT ON CONSTRAINT edge_nodes_pkey DO UPDATE
		SET conninfo = excluded.conninfo, slot_left = false;
	PERFORM edgestat.edge_metrics_sync();
END
$fn$;
COMMENT ON FUNCTION edgestat.attach_edge(text, text, text) IS
	'on the center: merges every event the edge acknowledges from now on; the edge subscribes to the center''s sites (same ids everywhere)';

-- The edge's slot is dropped by this transaction's connection while the
-- subscription's worker still holds it (disabling takes effect at commit):
-- its walsender is ended and the drop retried for up to 10 s.  The edge's
-- subscription to the center's sites goes too, and its slot here is
-- dropped even when the edge cannot be reached: this node's disk is ours.
CREATE FUNCTION edgestat.detach_edge(name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	sub text := 'edgestat_' || name;
	sites_slot text := 'edgesites_' || name;
	info text;
BEGIN
	SELECT n.conninfo INTO info FROM edgestat.edge_nodes n WHERE n.name = detach_edge.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'edge "%" is not attached', name USING ERRCODE = 'undefined_object';
	END IF;
	IF EXISTS (SELECT FROM pg_subscription WHERE subname = sub) THEN
		EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', sub);
		EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', sub);
		EXECUTE format('DROP SUBSCRIPTION %I', sub);
	END IF;
	BEGIN
		-- the edge's subscription first: its worker lets go of our slot
		PERFORM edgestat.edge_remote(info || ' connect_timeout=5',
			$q$DO $x$ BEGIN
				IF EXISTS (SELECT FROM pg_subscription WHERE subname = 'edgestat_sites'
						   AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())) THEN
					ALTER SUBSCRIPTION edgestat_sites DISABLE;
					ALTER SUBSCRIPTION edgestat_sites SET (slot_name = NONE);
				END IF;
			END $x$$q$);
		PERFORM edgestat.edge_remote(info || ' connect_timeout=5',
			$q$DO $x$ BEGIN
				IF EXISTS (SELECT FROM pg_subscription WHERE subname = 'edgestat_sites'
						   AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())) THEN
					DROP SUBSCRIPTION edgestat_sites;
				END IF;
			END $x$$q$);
		PERFORM edgestat.edge_remote(info || ' connect_timeout=5', format(
			$q$DO $x$ BEGIN
				FOR i IN 1..100 LOOP
					IF NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = %L) THEN
						RETURN;
					END IF;
					PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots
					WHERE slot_name = %L AND active_pid IS NOT NULL;
					BEGIN
						PERFORM pg_drop_replication_slot(%L);
						RETURN;
					EXCEPTION WHEN object_in_use THEN
						PERFORM pg_sleep(0.1);
					END;
				END LOOP;
				RAISE EXCEPTION 'replication slot %s is still in use';
			END $x$$q$, sub, sub, sub, sub));
		DELETE FROM edgestat.edge_nodes n WHERE n.name = detach_edge.name;
	EXCEPTION WHEN OTHERS THEN
		UPDATE edgestat.edge_nodes n SET slot_left = true WHERE n.name = detach_edge.name;
		RAISE WARNING 'edge "%" detached, but it could not be reached to drop its replication slot and its subscription: %', name, SQLERRM
			USING HINT = format('On the edge, run: SELECT pg_drop_replication_slot(%L); ALTER SUBSCRIPTION edgestat_sites DISABLE; ALTER SUBSCRIPTION edgestat_sites SET (slot_name = NONE); DROP SUBSCRIPTION edgestat_sites; or run edgestat.detach_edge(%L) again when it is reachable.', sub, name);
	END;
	BEGIN
		PERFORM edgestat.edge_drop_local_slot(sites_slot);
	EXCEPTION WHEN OTHERS THEN
		-- the rest is done: warn rather than undo it
		RAISE WARNING 'edge "%" detached, but its slot % on this node could not be dropped: %',
			name, sites_slot, SQLERRM
			USING HINT = format('Run here: SELECT pg_drop_replication_slot(%L);', sites_slot);
	END;
	PERFORM edgestat.edge_metrics_sync();
END
$fn$;
COMMENT ON FUNCTION edgestat.detach_edge(text) IS
	'on the center: stops merging the edge, drops its replication slot on the edge, its subscription to the center''s sites and that subscription''s slot here';

CREATE FUNCTION edgestat.edges()
RETURNS TABLE(name text, state text, lag_bytes bigint, last_event timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
	n record;
	lag bigint;
BEGIN
	FOR n IN
		SELECT e.name, e.conninfo, e.last_event, e.slot_left, s.subenabled,
			   st.pid, st.received_lsn
		FROM edgestat.edge_nodes e
		LEFT JOIN pg_subscription s ON s.subname = 'edgestat_' || e.name
			AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
		ORDER BY e.name
	LOOP
		lag := NULL;
		IF NOT n.slot_left THEN
			BEGIN
				lag := edgestat.edge_remote(n.conninfo || ' connect_timeout=2', format(
					$q$SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text
					   FROM pg_replication_slots WHERE slot_name = %L$q$, 'edgestat_' || n.name))::bigint;
			EXCEPTION WHEN OTHERS THEN
				lag := NULL;
			END;
		END IF;
		name := n.name;
		state := CASE
			WHEN n.slot_left THEN 'detached, slot left on edge'
			WHEN n.subenabled IS NULL THEN 'no subscription'
			WHEN NOT n.subenabled THEN 'disabled'
			WHEN n.pid IS NULL THEN 'down'
			WHEN n.received_lsn IS NULL THEN 'connecting'
			ELSE 'streaming' END;
		lag_bytes := lag;
		-- the table is written once a second; the merges' own figure is exact
		last_event := GREATEST(n.last_event, edgestat.edge_last_event(n.name));
		RETURN NEXT;
	END LOOP;
	PERFORM edgestat.edge_metrics_sync();
END
$fn$;
COMMENT ON FUNCTION edgestat.edges() IS
	'on the center: each edge''s state, its slot''s lag in bytes (NULL when unreachable) and its last merged event';

-- Retention on an edge keeps what its center has not received: a day is
-- dropped only when the slot's confirmed position is past a WAL mark taken
-- an hour after the day ended.  Marks are taken on each call (the
-- maintenance worker's interval).
CREATE OR REPLACE FUNCTION edgestat.apply_retention(
	keep interval DEFAULT coalesce(nullif(current_setting('edgestat.retention', true), ''),
								   '90 days')::interval)
RETURNS int
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, edgestat, pg_temp AS $fn$
DECLARE
	cutoff timestamptz := now() - keep;
	received timestamptz;
	confirmed pg_lsn;
	p record;
	dropped int := 0;
BEGIN
	IF keep < interval '0' THEN
		RAISE EXCEPTION 'keep must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pg_advisory_xact_lock(x'65647374'::int, 1);
	-- after a restart, the maintenance worker's first round lists the
	-- edges for /metrics
	PERFORM edgestat.edge_metrics_sync();
	SELECT min(confirmed_flush_lsn) INTO confirmed FROM pg_replication_slots
	WHERE slot_type = 'logical' AND slot_name LIKE 'edgestat\_%' AND database = current_database();
	IF FOUND AND EXISTS (SELECT FROM pg_replication_slots
						 WHERE slot_type = 'logical' AND slot_name LIKE 'edgestat\_%'
						   AND database = current_database()) THEN
		INSERT INTO edgestat.edge_wal_marks VALUES (clock_timestamp(), pg_current_wal_lsn())
		ON CONFLICT DO NOTHING;
		SELECT max(at) INTO received FROM edgestat.edge_wal_marks WHERE lsn <= confirmed;
		cutoff := least(cutoff, coalesce(received - interval '1 hour', '-infinity'));
		DELETE FROM edgestat.edge_wal_marks WHERE at < received;
	END IF;
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
$fn$;

REVOKE ALL ON TABLE edgestat.edge_nodes, edgestat.edge_dedup, edgestat.edge_flush,
	edgestat.edge_wal_marks FROM PUBLIC;
REVOKE ALL ON FUNCTION edgestat.edge_collect(), edgestat.edge_flush(),
	edgestat.edge_remote(text, text), edgestat.edge_center_setup(),
	edgestat.edge_center_conninfo(text), edgestat.edge_drop_local_slot(text),
	edgestat.edge_site_arrives(), edgestat.edge_metrics_sync(),
	edgestat.edge_last_event(text),
	edgestat.attach_edge(text, text, text), edgestat.detach_edge(text), edgestat.edges(),
	edgestat.apply_retention(interval) FROM PUBLIC;

-- An edge registers no sites of its own: one it made up after the attach
-- could take an id its center uses for another domain, and its events
-- would be merged under that other site.  attach_edge's own connection
-- (application_name edgestat) writes the center's sites; the rows of the
-- subscription edgestat_sites, or restored ones, do not fire this trigger
-- (ENABLE ORIGIN, the default).
CREATE FUNCTION edgestat.refuse_edge_sites() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
	IF current_setting('application_name') <> 'edgestat'
	   AND EXISTS (SELECT FROM pg_replication_slots
				   WHERE slot_type = 'logical' AND slot_name LIKE 'edgestat\_%'
					 AND database = current_database()) THEN
		RAISE EXCEPTION 'this node is an edge: sites are registered on its center'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Run edgestat.add_site() on the center: the edge''s subscription edgestat_sites brings it here.';
	END IF;
	RETURN NEW;
END
$fn$;
CREATE TRIGGER refuse_edge_sites BEFORE INSERT OR UPDATE ON edgestat.sites
	FOR EACH ROW EXECUTE FUNCTION edgestat.refuse_edge_sites();
REVOKE ALL ON FUNCTION edgestat.refuse_edge_sites() FROM PUBLIC;
