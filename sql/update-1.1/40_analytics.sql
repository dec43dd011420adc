-- edgestat 1.1: analytics beyond counts (docs/analytics.md), part one.
-- Owns: revenue on events, goal definitions (edgestat.goal_defs),
-- edgestat.add_goal(), edgestat.goals(), report filters (filters jsonb on
-- summary, timeseries and breakdown), edgestat.funnel(), edgestat.retention(),
-- edgestat.journeys(), edgestat.compare(), and the indexes they read.
-- The learning score is in 41_score.sql, alerts in 42_alerts.sql.
--
-- The exact paths sort and hash whole ranges of raw rows: they turn jit off
-- (as the 1.0 reports do) and raise work_mem to 64MB for their own queries
-- (set_config, restored on the way out), which keeps a 30-day sort in
-- memory at the scale of bench/reports.
--
-- Ranges: like the 1.0 reports, every function here covers the whole UTC
-- hours that start in [date_trunc('hour', since), until), so that a figure
-- does not change when a filter is added or removed (the unfiltered 1.0
-- reports read hourly rollups).
--
-- Filters (docs/analytics.md): an object whose keys are breakdown dimensions
-- and whose values are a string (equals) or an array of strings (any of).
-- Every key must hold; within a key, any value.  Exactly:
--   kept sessions  the sessions whose attributes match every session
--                  dimension (entry_page, exit_page, referrer, utm_*,
--                  country, region, city, browser, os, device), and, for
--                  "page" ("event"), that sent a pageview of such a path (an
--                  event of such a name) inside the range;
--   kept events    the events of the range whose session is kept; with
--                  "page", pageviews only of those paths (the other events
--                  of kept sessions stay).
-- visitors, pageviews and events count kept events; visits, bounce rate,
-- views per visit and duration count kept sessions that started in the
-- range.  An empty object is no filter: summary, timeseries and breakdown
-- then answer from the 1.0 functions (rollups, HLL visitors), every other
-- case is computed exactly from the raw tables.
--
-- Why the 1.0 report functions keep their names: GRANTs made on
-- edgestat.summary(text, timestamptz, timestamptz) and its siblings keep
-- working after ALTER EXTENSION UPDATE (a rename would carry them to an
-- internal name and leave the public one ungranted).  The filtered variants
-- are overloads with one more argument; they have no DEFAULT on it, since
-- a default would make every 1.0-shaped call ambiguous between the two.
-- Calling without filters therefore reaches the 1.0 function and calling
-- with '{}' gives the same answer.

-- ---------------------------------------------------------------------
-- Revenue on events (written by the writer from the beacon's "rv").
-- ---------------------------------------------------------------------
ALTER TABLE edgestat.events ADD COLUMN revenue numeric, ADD COLUMN currency text;
COMMENT ON COLUMN edgestat.events.revenue IS 'amount of the beacon''s "rv" (NULL when none)';
COMMENT ON COLUMN edgestat.events.currency IS 'ISO 4217 code of the beacon''s "rv" (NULL when none)';

-- The partial indexes of every partition (revenue, custom event names:
-- edgestat.create_partition_indexes in 10_dump.sql) for those that exist;
-- create_day_partition() makes them for new ones.
SELECT edgestat.create_partition_indexes(i.inhrelid::regclass)
FROM pg_catalog.pg_inherits i
WHERE i.inhparent = 'edgestat.events'::regclass;

-- ---------------------------------------------------------------------
-- Goals.
-- ---------------------------------------------------------------------
CREATE TABLE edgestat.goal_defs (
	goal_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	site_id int NOT NULL REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	event text CHECK (length(event) BETWEEN 1 AND 64),
	page text CHECK (page LIKE '/%' AND length(page) <= 2048),
	page_like text,				-- page as a LIKE pattern ('*' -> '%')
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (site_id, name),
	CHECK ((event IS NULL) <> (page IS NULL)),
	CHECK ((page IS NULL) = (page_like IS NULL))
);
COMMENT ON TABLE edgestat.goal_defs IS
	'goal definitions: a custom event name or a page path pattern (* = any run of characters), per site';
REVOKE ALL ON edgestat.goal_defs FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('edgestat.goal_defs', '');
-- and the position of its ids, or the next goal after a restore collides
SELECT pg_catalog.pg_extension_config_dump('edgestat.goal_defs_goal_id_seq', '');

-- Defines (or redefines) a goal; returns its id.  Exactly one of event and
-- page; page is a path starting with '/', '*' matching any run of
-- characters.  Bad arguments: ERROR 22023; unknown site: 42704.
CREATE FUNCTION edgestat.add_goal(site text, goal text, event text DEFAULT NULL,
								  page text DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	sid int;
	id int;
	g text := btrim(goal);
BEGIN
	IF site IS NULL THEN
		RAISE EXCEPTION 'site must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	sid := edgestat.report_site_id(site);
	IF g IS NULL OR length(g) NOT BETWEEN 1 AND 100 THEN
		RAISE EXCEPTION 'invalid goal name "%"', goal
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A goal name has 1 to 100 characters.';
	END IF;
	IF (event IS NULL) = (page IS NULL) THEN
		RAISE EXCEPTION 'a goal needs exactly one of event and page'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'edgestat.add_goal(site, goal, event => ''signup'') or (site, goal, page => ''/thanks*'').';
	END IF;
	IF event IS NOT NULL AND length(event) NOT BETWEEN 1 AND 64 THEN
		RAISE EXCEPTION 'invalid goal event "%"', event
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'An event name has 1 to 64 characters, like the beacon''s "n".';
	END IF;
	IF page IS NOT NULL AND (page NOT LIKE '/%' OR length(page) > 2048) THEN
		RAISE EXCEPTION 'invalid goal page "%"', page
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A page is a path starting with "/", where * matches any run of characters, such as /blog/* .';
	END IF;
	INSERT INTO edgestat.goal_defs AS d (site_id, name, event, page, page_like)
	VALUES (sid, g, event, page,
			replace(replace(replace(replace(page, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'))
	ON CONFLICT (site_id, name) DO UPDATE SET
		event = excluded.event, page = excluded.page, page_like = excluded.page_like
	RETURNING d.goal_id INTO id;
	RETURN id;
END
$$;
COMMENT ON FUNCTION edgestat.add_goal(text, text, text, text) IS
	'defines or redefines a goal: a custom event name, or a page path pattern (* = any characters); returns its id';

-- ---------------------------------------------------------------------
-- Filters: validation and the SQL they become.
-- ---------------------------------------------------------------------

-- Filters come in two forms (docs/analytics.md):
--   the object  {"country": "DE", "page": ["/a", "/b"]}: every key holds,
--               with the session/event meaning at the head of this file;
--   the tree    [["is", "country", ["DE"]], ["or", [...]], ["not", f] ...]:
--               a list of expressions that all hold (a single expression
--               is taken too).  An expression is evaluated on one event
--               and its session: page and event read the event's path and
--               name, every other dimension its session.  Kept events are
--               the events of the range for which it holds; kept sessions
--               are those with at least one kept event in the range (with
--               session dimensions only: the sessions that match).
-- The tree is Plausible's Stats API v2 filter language over edgestat's
-- dimension names, so that the Stats API and the SQL reports share one
-- compiler.

-- One expression of the tree form as a predicate: ev is the alias of the
-- event row, s that of its session.  Leaves are coalesced to a boolean, so
-- that "not" of a NULL attribute (no referrer) is true, as is_not is.
-- Invalid: 22023, naming the offending expression.
CREATE FUNCTION edgestat.filter_tree(node jsonb, ev text, depth int DEFAULT 0,
									 OUT pred text, OUT has_event boolean, OUT leaves jsonb)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	dims constant text[] := '{page,entry_page,exit_page,referrer,utm_source,utm_medium,utm_campaign,country,region,city,browser,os,device,event}';
	ops constant text[] := '{is,is_not,contains,contains_not,matches,matches_not}';
	op text;
	dim text;
	col text;
	vals text[];
	cs boolean := true;
	sub record;
	parts text[] := '{}';
	c jsonb;
	v text;
	test boolean;
BEGIN
	has_event := false;
	leaves := '[]';
	IF depth > 16 THEN
		RAISE EXCEPTION 'filters nested deeper than 16 levels'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(node) IS DISTINCT FROM 'array' OR jsonb_typeof(node->0) IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'invalid filter %: not an expression', coalesce(node::text, 'null')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'An expression is ["is", "country", ["DE"]], ["and", [...]], ["or", [...]] or ["not", [...]].';
	END IF;
	op := node->>0;
	IF op IN ('and', 'or') THEN
		IF jsonb_array_length(node) <> 2 OR jsonb_typeof(node->1) <> 'array'
		   OR jsonb_array_length(node->1) = 0 THEN
			RAISE EXCEPTION 'invalid filter %: "%" takes a non-empty list of expressions', node::text, op
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR c IN SELECT * FROM jsonb_array_elements(node->1) LOOP
			sub := edgestat.filter_tree(c, ev, depth + 1);
			parts := parts || sub.pred;
			has_event := has_event OR sub.has_event;
			leaves := leaves || sub.leaves;
		END LOOP;
		pred := '(' || array_to_string(parts, CASE op WHEN 'and' THEN ' AND ' ELSE ' OR ' END) || ')';
		RETURN;
	END IF;
	IF op = 'not' THEN
		IF jsonb_array_length(node) <> 2 THEN
			RAISE EXCEPTION 'invalid filter %: "not" takes one expression', node::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		sub := edgestat.filter_tree(node->1, ev, depth + 1);
		pred := '(NOT ' || sub.pred || ')';
		has_event := sub.has_event;
		leaves := sub.leaves;
		RETURN;
	END IF;
	IF NOT op = ANY (ops) THEN
		RAISE EXCEPTION 'invalid filter %: unknown operator "%"', node::text, op
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Operators are: ' || array_to_string(ops, ', ') || ', and, or, not.';
	END IF;
	IF jsonb_array_length(node) NOT IN (3, 4) OR jsonb_typeof(node->1) IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'invalid filter %: expected [operator, dimension, [values]]', node::text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	dim := node->>1;
	IF NOT dim = ANY (dims) THEN
		RAISE EXCEPTION 'unknown dimension "%" in filters', dim
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Valid dimensions are: ' || array_to_string(dims, ', ') || '.';
	END IF;
	IF jsonb_typeof(node->2) IS DISTINCT FROM 'array'
	   OR EXISTS (SELECT 1 FROM jsonb_array_elements(node->2) x WHERE jsonb_typeof(x) <> 'string') THEN
		RAISE EXCEPTION 'invalid filter %: the values must be an array of strings', node::text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	vals := ARRAY(SELECT jsonb_array_elements_text(node->2));
	IF jsonb_array_length(node) = 4 THEN
		IF jsonb_typeof(node->3) IS DISTINCT FROM 'object'
		   OR EXISTS (SELECT 1 FROM jsonb_each(node->3) m
					  WHERE m.key <> 'case_sensitive' OR jsonb_typeof(m.value) <> 'boolean') THEN
			RAISE EXCEPTION 'invalid filter %: the only modifier is {"case_sensitive": true|false}', node::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		cs := coalesce((node #>> '{3,case_sensitive}')::boolean, true);
	END IF;
	col := CASE dim WHEN 'page' THEN format('%I.path', ev) WHEN 'event' THEN format('%I.name', ev)
					WHEN 'referrer' THEN 's.referrer_host' ELSE format('s.%I', dim) END;
	has_event := dim IN ('page', 'event');
	IF NOT cs AND op NOT LIKE 'matches%' THEN
		col := 'lower(' || col || ')';
		vals := ARRAY(SELECT lower(x) FROM unnest(vals) x);
	END IF;
	IF op IN ('is', 'is_not') THEN
		pred := format('coalesce(%s = ANY (%L::text[]), false)', col, vals);
	ELSIF op IN ('contains', 'contains_not') THEN
		pred := format('coalesce(%s LIKE ANY (%L::text[]), false)', col,
			ARRAY(SELECT '%' || replace(replace(replace(x, '\', '\\'), '%', '\%'), '_', '\_') || '%'
				  FROM unnest(vals) x));
	ELSE
		-- regular expressions (POSIX, PostgreSQL's): refused here if invalid
		FOREACH v IN ARRAY vals LOOP
			BEGIN
				test := '' ~ v;
			EXCEPTION WHEN invalid_regular_expression THEN
				RAISE EXCEPTION 'invalid filter %: invalid regular expression "%"', node::text, v
					USING ERRCODE = 'invalid_parameter_value';
			END;
		END LOOP;
		pred := format('coalesce(%s %s ANY (%L::text[]), false)', col,
					   CASE WHEN cs THEN '~' ELSE '~*' END, vals);
	END IF;
	IF op LIKE '%\_not' THEN
		pred := '(NOT ' || pred || ')';
	END IF;
	leaves := jsonb_build_array(jsonb_build_array(dim, to_jsonb(vals)));
END
$$;

-- The tree form, whole: a list of expressions that all hold, or one
-- expression.  NULL when filters is not an array; an array that is
-- neither is refused as the object form always refused arrays.
CREATE FUNCTION edgestat.filter_tree_root(filters jsonb, ev text,
										  OUT pred text, OUT has_event boolean, OUT leaves jsonb)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
BEGIN
	IF jsonb_typeof(filters) IS DISTINCT FROM 'array' THEN
		RETURN;
	END IF;
	IF jsonb_typeof(filters->0) = 'string'
	   AND filters->>0 IN ('is', 'is_not', 'contains', 'contains_not', 'matches', 'matches_not', 'and', 'or', 'not') THEN
		t := edgestat.filter_tree(filters, ev);
	ELSIF jsonb_array_length(filters) = 0 THEN
		pred := 'true';
		has_event := false;
		leaves := '[]';
		RETURN;
	ELSIF jsonb_typeof(filters->0) = 'array' THEN
		t := edgestat.filter_tree(jsonb_build_array('and', filters), ev);
	ELSE
		RAISE EXCEPTION 'filters must be a JSON object, not %', jsonb_typeof(filters)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"country": "DE", "page": ["/pricing", "/signup"]}.';
	END IF;
	pred := t.pred;
	has_event := t.has_event;
	leaves := t.leaves;
END
$$;

REVOKE ALL ON FUNCTION edgestat.filter_tree(jsonb, text, int),
	edgestat.filter_tree_root(jsonb, text) FROM PUBLIC;

-- The filters as (dimension, values) rows, validated: 22023 for anything
-- that is not an object of known dimensions to strings or arrays of them,
-- nor a valid tree (whose leaves are the rows then).
CREATE FUNCTION edgestat.filter_items(filters jsonb)
RETURNS TABLE (dim text, vals text[])
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	dims constant text[] := '{page,entry_page,exit_page,referrer,utm_source,utm_medium,utm_campaign,country,region,city,browser,os,device,event}';
	k text;
	v jsonb;
BEGIN
	IF filters IS NULL THEN
		RETURN;
	END IF;
	IF jsonb_typeof(filters) = 'array' THEN
		RETURN QUERY SELECT l->>0, ARRAY(SELECT jsonb_array_elements_text(l->1))
					 FROM jsonb_array_elements((edgestat.filter_tree_root(filters, 'e')).leaves) l;
		RETURN;
	END IF;
	IF jsonb_typeof(filters) <> 'object' THEN
		RAISE EXCEPTION 'filters must be a JSON object, not %', jsonb_typeof(filters)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"country": "DE", "page": ["/pricing", "/signup"]}.';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(filters) ORDER BY 1 LOOP
		IF NOT k = ANY (dims) THEN
			RAISE EXCEPTION 'unknown dimension "%" in filters', k
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Valid dimensions are: ' || array_to_string(dims, ', ') || '.';
		END IF;
		IF jsonb_typeof(v) = 'string' THEN
			dim := k;
			vals := ARRAY[v #>> '{}'];
		ELSIF jsonb_typeof(v) = 'array'
			  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v) x
							  WHERE jsonb_typeof(x) <> 'string') THEN
			dim := k;
			vals := ARRAY(SELECT jsonb_array_elements_text(v));
		ELSE
			RAISE EXCEPTION 'filter "%" must be a string or an array of strings, not %', k, v::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		RETURN NEXT;
	END LOOP;
END
$$;

-- The filters as SQL predicates: spred on a session row aliased s, epred
-- on an event row aliased e.  In the text, $1 is the site id and $2, $3
-- the range [lo, hi) (the page and event filters look there).  Values are
-- quoted literals.  No filter: 'true' and 'true'.
-- The tree form: epred is the expression on e and its session s; spred
-- is the expression itself when it reads only session dimensions, else
-- "the session has an event of the range for which it holds".
CREATE FUNCTION edgestat.filter_sql(filters jsonb, OUT spred text, OUT epred text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f record;
	t record;
BEGIN
	spred := 'true';
	epred := 'true';
	IF jsonb_typeof(filters) = 'array' THEN
		t := edgestat.filter_tree_root(filters, 'e');
		IF t.pred = 'true' THEN
			RETURN;
		ELSIF NOT t.has_event THEN
			spred := t.pred;
		ELSE
			spred := format('EXISTS (SELECT 1 FROM edgestat.events x WHERE x.site_id = $1'
							' AND x.session_id = s.session_id AND x.ts >= $2 AND x.ts < $3 AND %s)',
							(edgestat.filter_tree_root(filters, 'x')).pred);
			epred := t.pred;
		END IF;
		RETURN;
	END IF;
	FOR f IN SELECT * FROM edgestat.filter_items(filters) LOOP
		IF f.dim = 'page' THEN
			spred := spred || format(
				' AND s.session_id IN (SELECT x.session_id FROM edgestat.events x'
				' WHERE x.site_id = $1 AND x.name = %L AND x.ts >= $2 AND x.ts < $3'
				' AND x.path = ANY (%L::text[]))', 'pageview', f.vals);
			epred := epred || format(' AND (e.name <> %L OR e.path = ANY (%L::text[]))',
									 'pageview', f.vals);
		ELSIF f.dim = 'event' THEN
			spred := spred || format(
				' AND s.session_id IN (SELECT x.session_id FROM edgestat.events x'
				' WHERE x.site_id = $1 AND x.name = ANY (%L::text[]) AND x.ts >= $2'
				' AND x.ts < $3%s)', f.vals,
				CASE WHEN f.vals && edgestat.builtin_event_names() THEN ''
					 ELSE format(' AND x.name <> ALL (%L::text[])', edgestat.builtin_event_names()) END);
		ELSE
			spred := spred || format(' AND s.%I = ANY (%L::text[])',
				CASE f.dim WHEN 'referrer' THEN 'referrer_host' ELSE f.dim END, f.vals);
		END IF;
	END LOOP;
END
$$;

-- A query of the kept events of site $1 with ts in [lo, hi) (placeholders
-- given as text, e.g. '$2', '$3'), and one of the kept sessions that
-- started in [$2, $3).  extra: more conditions on e (goal candidates).
-- Only the event columns the reports read: the rows are materialised, and
-- a whole raw row (props, location ...) is several times as wide.
CREATE FUNCTION edgestat.filtered_events_sql(filters jsonb, lo text DEFAULT '$2',
											 hi text DEFAULT '$3', extra text DEFAULT 'true')
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p record := edgestat.filter_sql(filters);
BEGIN
	IF p.spred = 'true' THEN
		RETURN format('SELECT e.ts, e.visitor_id, e.session_id, e.seq, e.name, e.path,'
					  ' e.revenue, e.currency FROM edgestat.events e WHERE e.site_id = $1'
					  ' AND e.ts >= %s AND e.ts < %s AND (%s)', lo, hi, extra);
	END IF;
	RETURN format('SELECT e.ts, e.visitor_id, e.session_id, e.seq, e.name, e.path,'
				  ' e.revenue, e.currency FROM edgestat.events e JOIN edgestat.sessions s'
				  ' ON s.site_id = e.site_id AND s.session_id = e.session_id'
				  ' WHERE e.site_id = $1 AND e.ts >= %s AND e.ts < %s AND %s AND %s AND (%s)',
				  lo, hi, p.spred, p.epred, extra);
END
$$;

CREATE FUNCTION edgestat.filtered_sessions_sql(filters jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN format('SELECT s.* FROM edgestat.sessions s WHERE s.site_id = $1'
			  ' AND s.started_at >= $2 AND s.started_at < $3 AND %s',
			  (edgestat.filter_sql(filters)).spred);

-- The event names the tracker sends by itself (tracker-js/README.md); every other name
-- is a custom event.
CREATE FUNCTION edgestat.builtin_event_names() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN '{pageview,heartbeat,scroll,interaction,leave}'::text[];

-- The events reaching any of the given goals, as a predicate on e: custom
-- event names, and LIKE patterns of pageview paths.  Literals, so that a
-- plan can use a partial index of custom events (events whose name is
-- not one of the tracker's own kinds): without page patterns the
-- predicate says so explicitly.
CREATE FUNCTION edgestat.goal_events_sql(names text[], likes text[])
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE
	WHEN cardinality(likes) = 0 AND NOT names && edgestat.builtin_event_names()
	THEN format('e.name = ANY (%L::text[]) AND e.name <> ALL (%L::text[])',
				names, edgestat.builtin_event_names())
	ELSE format('e.name = ANY (%L::text[]) OR (e.name = %L AND e.path LIKE ANY (%L::text[]))',
				names, 'pageview', likes) END;

-- ---------------------------------------------------------------------
-- summary, timeseries, breakdown with filters.
-- ---------------------------------------------------------------------
CREATE FUNCTION edgestat.summary(site text, since timestamptz, until timestamptz,
								 filters jsonb)
RETURNS TABLE (visitors bigint, visits bigint, pageviews bigint,
			   views_per_visit numeric, bounce_rate numeric, visit_duration numeric)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	sid int;
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	jit_was text := current_setting('jit');
	wm_was text := current_setting('work_mem');
BEGIN
	PERFORM edgestat.filter_items(filters);		-- validates
	IF filters = '{}' THEN
		RETURN QUERY SELECT * FROM edgestat.summary(site, since, until);
		RETURN;
	END IF;
	sid := edgestat.report_site_id(site);
	PERFORM set_config('jit', 'off', true);
	PERFORM set_config('work_mem', '64MB', true);
	RETURN QUERY EXECUTE format($q$
		WITH e AS MATERIALIZED (%s), s AS MATERIALIZED (%s)
		SELECT (SELECT count(*) FROM (SELECT DISTINCT e.visitor_id FROM e) v),
			   (SELECT count(*) FROM s),
			   (SELECT count(*) FROM e WHERE e.name = 'pageview'),
			   round(sum(s.pageviews)::numeric / nullif(count(*), 0), 2),
			   round(100 * count(*) FILTER (WHERE s.pageviews = 1)::numeric / nullif(count(*), 0), 2),
			   round(sum((extract(epoch FROM s.last_seen - s.started_at) * 1000)::bigint)
					 / 1000.0 / nullif(count(*), 0), 2)
		FROM s$q$, edgestat.filtered_events_sql(filters), edgestat.filtered_sessions_sql(filters))
	USING sid, lo, hi;
	PERFORM set_config('jit', jit_was, true);
	PERFORM set_config('work_mem', wm_was, true);
END
$$;
COMMENT ON FUNCTION edgestat.summary(text, timestamptz, timestamptz, jsonb) IS
	'summary() restricted by filters (docs/analytics.md), exact from the raw tables; ''{}'': the 1.0 summary';

CREATE FUNCTION edgestat.report_timeseries_filtered(site text, since timestamptz,
													until timestamptz, step interval,
													filters jsonb)
RETURNS TABLE (bucket timestamptz, visitors bigint, visits bigint, pageviews bigint)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	sid int;
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	secs numeric := extract(epoch FROM step);
	jit_was text := current_setting('jit');
	wm_was text := current_setting('work_mem');
BEGIN
	PERFORM edgestat.filter_items(filters);
	IF filters = '{}' THEN
		RETURN QUERY SELECT * FROM edgestat.report_timeseries(site, since, until, step);
		RETURN;
	END IF;
	-- the same rule and message as report_timeseries()
	IF extract(year FROM step) <> 0 OR extract(month FROM step) <> 0
	   OR secs <= 0 OR secs % 3600 <> 0 THEN
		RAISE EXCEPTION 'invalid bucket "%"', step
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A bucket must be a positive whole number of hours or days, such as ''1 hour'', ''6 hours'' or ''1 day''.';
	END IF;
	sid := edgestat.report_site_id(site);
	PERFORM set_config('jit', 'off', true);
	PERFORM set_config('work_mem', '64MB', true);
	RETURN QUERY EXECUTE format($q$
		WITH e AS (%s), s AS (%s),
		ev AS (		-- per bucket and visitor first: hashable, no sort
			SELECT x.i, count(*) AS v, sum(x.pv) AS pv
			FROM (SELECT floor(extract(epoch FROM e.ts - $2) / $4)::int AS i, e.visitor_id,
						 count(*) FILTER (WHERE e.name = 'pageview') AS pv
				  FROM e GROUP BY 1, 2) x
			GROUP BY 1
		), se AS (
			SELECT floor(extract(epoch FROM s.started_at - $2) / $4)::int AS i,
				   count(*) AS vi
			FROM s GROUP BY 1
		)
		SELECT $2 + g.i * $4 * interval '1 second', coalesce(ev.v, 0),
			   coalesce(se.vi, 0), coalesce(ev.pv, 0)::bigint
		FROM generate_series(0, ceil(extract(epoch FROM $3 - $2) / $4)::int - 1) AS g(i)
		LEFT JOIN ev ON ev.i = g.i LEFT JOIN se ON se.i = g.i
		ORDER BY g.i$q$, edgestat.filtered_events_sql(filters),
		edgestat.filtered_sessions_sql(filters))
	USING sid, lo, hi, secs;
	PERFORM set_config('jit', jit_was, true);
	PERFORM set_config('work_mem', wm_was, true);
END
$$;

CREATE FUNCTION edgestat.timeseries(site text, since timestamptz, until timestamptz,
									bucket interval, filters jsonb)
RETURNS TABLE (bucket timestamptz, visitors bigint, visits bigint, pageviews bigint)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM edgestat.report_timeseries_filtered($1, $2, $3, $4, $5) $$;
COMMENT ON FUNCTION edgestat.timeseries(text, timestamptz, timestamptz, interval, jsonb) IS
	'timeseries() restricted by filters (docs/analytics.md), exact from the raw tables; ''{}'': the 1.0 timeseries';

CREATE FUNCTION edgestat.breakdown(site text, dimension text, since timestamptz,
								   until timestamptz, lim int, filters jsonb)
RETURNS TABLE (value text, visitors bigint, pageviews bigint, events bigint)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	dims constant text[] := '{page,entry_page,exit_page,referrer,utm_source,utm_medium,utm_campaign,country,region,city,browser,os,device,event}';
	sid int;
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	col text;
	jit_was text := current_setting('jit');
	wm_was text := current_setting('work_mem');
BEGIN
	IF NOT dimension = ANY (dims) THEN
		RAISE EXCEPTION 'unknown dimension "%"', dimension
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Valid dimensions are: ' || array_to_string(dims, ', ') || '.';
	END IF;
	IF lim < 0 THEN
		RAISE EXCEPTION 'lim must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM edgestat.filter_items(filters);
	IF filters = '{}' THEN
		RETURN QUERY SELECT * FROM edgestat.breakdown(site, dimension, since, until, lim);
		RETURN;
	END IF;
	sid := edgestat.report_site_id(site);
	col := CASE dimension WHEN 'page' THEN 'path' WHEN 'event' THEN 'name'
						  WHEN 'referrer' THEN 'referrer_host' ELSE dimension END;
	PERFORM set_config('jit', 'off', true);
	PERFORM set_config('work_mem', '64MB', true);
	IF dimension IN ('page', 'event') THEN
		RETURN QUERY EXECUTE format($q$
			WITH e AS (%s)
			SELECT x.value, count(*), sum(x.pv)::bigint, sum(x.n)::bigint
			FROM (SELECT e.%I AS value, e.visitor_id,
						 count(*) FILTER (WHERE e.name = 'pageview') AS pv, count(*) AS n
				  FROM e GROUP BY 1, 2) x
			GROUP BY 1
			ORDER BY 2 DESC, 3 DESC, 4 DESC, x.value COLLATE "C"
			LIMIT $4$q$, edgestat.filtered_events_sql(filters), col)
		USING sid, lo, hi, lim;
	ELSE
		RETURN QUERY EXECUTE format($q$
			WITH s AS (%s)
			SELECT s.%I, count(DISTINCT s.visitor_id), sum(s.pageviews)::bigint,
				   sum(s.events)::bigint
			FROM s GROUP BY 1
			ORDER BY 2 DESC, 3 DESC, 4 DESC, coalesce(s.%I, '') COLLATE "C"
			LIMIT $4$q$, edgestat.filtered_sessions_sql(filters), col, col)
		USING sid, lo, hi, lim;
	END IF;
	PERFORM set_config('jit', jit_was, true);
	PERFORM set_config('work_mem', wm_was, true);
END
$$;
COMMENT ON FUNCTION edgestat.breakdown(text, text, timestamptz, timestamptz, int, jsonb) IS
	'breakdown() restricted by filters (docs/analytics.md), exact from the raw tables; ''{}'': the 1.0 breakdown';

-- ---------------------------------------------------------------------
-- goals
-- ---------------------------------------------------------------------

-- For each key, the page or event rollup of [lo, hi) folded over every
-- value matching its LIKE pattern: visitors (the union of their
-- sketches), pageviews and events.  Read as breakdown() reads one value:
-- whole UTC days from the daily rollup unless they hold an open hour, the
-- hours around them and of open days from the hourly one, and the
-- visitors of open hours (whose sketches are missing or stale) from their
-- raw rows.  One pass for every key (goals() asks for all of a site's
-- goals at once).  SQL with BEGIN ATOMIC: the hll functions are bound when
-- the script runs, wherever CREATE EXTENSION hll put them.
CREATE FUNCTION edgestat.rollup_union(sid int, lo timestamptz, hi timestamptz,
									  keys text[], dims text[], likes text[])
RETURNS TABLE (key text, visitors bigint, pageviews bigint, events bigint)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH k AS (
		SELECT * FROM unnest(keys, dims, likes) AS k(key, dim, pattern)
	), days AS (
		SELECT CASE WHEN x.dlo < x.dhi THEN x.dlo ELSE hi END AS dlo,
			   CASE WHEN x.dlo < x.dhi THEN x.dhi ELSE hi END AS dhi
		FROM (SELECT CASE WHEN date_trunc('day', lo, 'UTC') < lo
						  THEN date_trunc('day', lo, 'UTC') + interval '24 hours'
						  ELSE date_trunc('day', lo, 'UTC') END AS dlo,
					 date_trunc('day', hi, 'UTC') AS dhi) x
	), open AS (
		SELECT o.hour FROM edgestat.rollup_open o
		WHERE o.site_id = sid AND o.hour >= lo AND o.hour < hi
	), open_days AS (
		SELECT DISTINCT date_trunc('day', open.hour, 'UTC') AS day
		FROM open, days WHERE open.hour >= days.dlo AND open.hour < days.dhi
	), hourly AS (
		-- (LATERAL: an index range scan per key)
		SELECT k.key, r.hour, r.visitors, r.pageviews, r.events
		FROM k, days, LATERAL (
			SELECT r.hour, r.visitors, r.pageviews, r.events FROM edgestat.rollup_dims_hourly r
			WHERE r.site_id = sid AND r.dim = k.dim AND r.hour >= lo AND r.hour < days.dlo
			  AND r.value LIKE k.pattern
			UNION ALL
			SELECT r.hour, r.visitors, r.pageviews, r.events FROM edgestat.rollup_dims_hourly r
			WHERE r.site_id = sid AND r.dim = k.dim AND r.hour >= days.dhi AND r.hour < hi
			  AND r.value LIKE k.pattern) r
		UNION ALL
		SELECT k.key, r.hour, r.visitors, r.pageviews, r.events
		FROM k, open_days, LATERAL (
			SELECT r.hour, r.visitors, r.pageviews, r.events FROM edgestat.rollup_dims_hourly r
			WHERE r.site_id = sid AND r.dim = k.dim AND r.hour >= open_days.day
			  AND r.hour < open_days.day + interval '24 hours' AND r.value LIKE k.pattern) r
	), rows_ AS (
		SELECT h.key,
			   CASE WHEN h.hour IN (SELECT open.hour FROM open)
					THEN hll_empty(14, 5, (-1)::int8, 1) ELSE h.visitors END AS visitors,
			   h.pageviews, h.events
		FROM hourly h
		UNION ALL
		SELECT k.key, r.visitors, r.pageviews, r.events
		FROM k, days, LATERAL (
			SELECT r.visitors, r.pageviews, r.events FROM edgestat.rollup_dims_daily r
			WHERE r.site_id = sid AND r.dim = k.dim AND r.day >= days.dlo
			  AND r.day < days.dhi AND r.value LIKE k.pattern
			  AND r.day NOT IN (SELECT open_days.day FROM open_days)) r
		UNION ALL
		SELECT k.key, hll_add_agg(hll_hash_bytea(uuid_send(raw.visitor_id), 0), 14, 5, (-1)::int8, 1), 0, 0
		FROM open JOIN edgestat.events raw
		  ON raw.site_id = sid AND raw.ts >= open.hour AND raw.ts < open.hour + interval '1 hour'
		JOIN k ON coalesce(CASE k.dim WHEN 'page' THEN raw.path ELSE raw.name END, '') LIKE k.pattern
		GROUP BY k.key
	)
	SELECT k.key, coalesce(round(hll_cardinality(hll_union_agg(rows_.visitors)))::bigint, 0),
		   coalesce(sum(rows_.pageviews), 0)::bigint, coalesce(sum(rows_.events), 0)::bigint
	FROM k LEFT JOIN rows_ ON rows_.key = k.key
	GROUP BY k.key;
END;

-- The goals of a site, in the range: one row per goal and currency of its
-- revenue (a goal without revenue: one row, revenue and currency NULL).
-- visitors: distinct visitors with a kept event reaching the goal; events:
-- how many such events; conversion_rate: visitors in percent of the
-- range's visitors (summary()'s figure with the same filters: the HLL
-- estimate without filters, exact below 1280 visitors, exact with them).
-- Without filters the goal's visitors and events come from the page and
-- event rollups too (rollup_union: a page goal's visitors are those with
-- an event on a matching path, as the page breakdown counts them), and
-- revenue from the few events that carry it (a partial index of every
-- partition, see 10_dump.sql); with filters, from the raw events.
CREATE FUNCTION edgestat.goals(site text, since timestamptz, until timestamptz,
							   filters jsonb DEFAULT '{}')
RETURNS TABLE (goal text, visitors bigint, events bigint, conversion_rate numeric,
			   revenue numeric, currency text)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	sid int;
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	total bigint;
	names text[];
	likes text[];
	jit_was text := current_setting('jit');
	wm_was text := current_setting('work_mem');
BEGIN
	PERFORM edgestat.filter_items(filters);
	sid := edgestat.report_site_id(site);
	SELECT coalesce(array_agg(d.event) FILTER (WHERE d.event IS NOT NULL), '{}'),
		   coalesce(array_agg(d.page_like) FILTER (WHERE d.page_like IS NOT NULL), '{}')
	INTO names, likes
	FROM edgestat.goal_defs d WHERE d.site_id = sid;
	SELECT x.visitors INTO total FROM edgestat.summary(site, since, until, filters) x;
	PERFORM set_config('jit', 'off', true);
	PERFORM set_config('work_mem', '64MB', true);
	IF filters = '{}' THEN
		RETURN QUERY
		WITH per_goal AS (
			SELECT d.name AS goal, u.visitors AS v,
				   CASE WHEN d.event IS NOT NULL THEN u.events ELSE u.pageviews END AS n
			FROM edgestat.goal_defs d
			JOIN edgestat.rollup_union(sid, lo, hi,
					ARRAY(SELECT g.name FROM edgestat.goal_defs g WHERE g.site_id = sid ORDER BY g.goal_id),
					ARRAY(SELECT CASE WHEN g.event IS NOT NULL THEN 'event' ELSE 'page' END
						  FROM edgestat.goal_defs g WHERE g.site_id = sid ORDER BY g.goal_id),
					ARRAY(SELECT coalesce(replace(replace(replace(g.event, '\', '\\'), '%', '\%'), '_', '\_'),
										  g.page_like)
						  FROM edgestat.goal_defs g WHERE g.site_id = sid ORDER BY g.goal_id)) u
			  ON u.key = d.name
			WHERE d.site_id = sid
		), per_currency AS (
			SELECT d.name AS goal, e.currency, sum(e.revenue) AS r
			FROM edgestat.goal_defs d JOIN edgestat.events e
			  ON CASE WHEN d.event IS NOT NULL THEN e.name = d.event
					  ELSE e.name = 'pageview' AND e.path LIKE d.page_like END
			WHERE d.site_id = sid AND e.site_id = sid AND e.ts >= lo AND e.ts < hi
			  AND e.revenue IS NOT NULL AND e.currency IS NOT NULL
			GROUP BY 1, 2
		)
		SELECT d.name, coalesce(g.v, 0), coalesce(g.n, 0),
			   round(coalesce(100.0 * coalesce(g.v, 0) / nullif(total, 0), 0), 2),
			   c.r, c.currency
		FROM edgestat.goal_defs d
		LEFT JOIN per_goal g ON g.goal = d.name
		LEFT JOIN per_currency c ON c.goal = d.name
		WHERE d.site_id = sid
		ORDER BY 2 DESC, d.name COLLATE "C", c.currency COLLATE "C";
		PERFORM set_config('jit', jit_was, true);
		PERFORM set_config('work_mem', wm_was, true);
		RETURN;
	END IF;
	RETURN QUERY EXECUTE format($q$
		WITH e AS MATERIALIZED (%s),
		m AS MATERIALIZED (
			SELECT d.name AS goal, e.visitor_id, e.revenue, e.currency
			FROM edgestat.goal_defs d JOIN e
			  ON CASE WHEN d.event IS NOT NULL THEN e.name = d.event
					  ELSE e.name = 'pageview' AND e.path LIKE d.page_like END
			WHERE d.site_id = $1
		), per_goal AS (
			SELECT m.goal, count(DISTINCT m.visitor_id) AS v, count(*) AS n
			FROM m GROUP BY m.goal
		), per_currency AS (
			SELECT m.goal, m.currency, sum(m.revenue) AS r
			FROM m WHERE m.revenue IS NOT NULL AND m.currency IS NOT NULL
			GROUP BY m.goal, m.currency
		)
		SELECT d.name, coalesce(g.v, 0), coalesce(g.n, 0),
			   round(coalesce(100.0 * coalesce(g.v, 0) / nullif($6, 0), 0), 2),
			   c.r, c.currency
		FROM edgestat.goal_defs d
		LEFT JOIN per_goal g ON g.goal = d.name
		LEFT JOIN per_currency c ON c.goal = d.name
		WHERE d.site_id = $1
		ORDER BY 2 DESC, d.name COLLATE "C", c.currency COLLATE "C"$q$,
		edgestat.filtered_events_sql(filters, '$2', '$3', edgestat.goal_events_sql(names, likes)))
	USING sid, lo, hi, names, likes, total;
	PERFORM set_config('jit', jit_was, true);
	PERFORM set_config('work_mem', wm_was, true);
END
$$;
COMMENT ON FUNCTION edgestat.goals(text, timestamptz, timestamptz, jsonb) IS
	'per goal (and revenue currency): visitors, events, conversion rate (% of visitors), revenue; unknown site: ERROR 42704';

-- ---------------------------------------------------------------------
-- funnel
-- ---------------------------------------------------------------------

-- A visitor reaches step k when it reached steps 1..k in that order, each
-- at or after the previous one, all within "within" of its step-1 time,
-- step 1 inside the range (later steps may fall after it).  Of a visitor's
-- step-1 times each is tried, and for each the earliest occurrence of the
-- next step at or after the previous: taking the earliest never loses a
-- later step, so the deepest of these runs is the visitor's.  The query is
-- a chain of one sorted pass per step (runs of step k-1 merged with the
-- visitor's occurrences of step k), so its cost grows with the goal events
-- of the range, not with their square.
-- Unknown goal: ERROR 42704; no steps, more than 20, or within not
-- positive: 22023.
CREATE FUNCTION edgestat.funnel(site text, steps text[], since timestamptz,
								until timestamptz, within interval DEFAULT '1 day',
								filters jsonb DEFAULT '{}')
RETURNS TABLE (step int, goal text, visitors bigint, conversion_rate numeric,
			   dropoff bigint)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	sid int;
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	n int := coalesce(array_length(steps, 1), 0);
	d edgestat.goal_defs;
	names text[] := '{}';
	likes text[] := '{}';
	ctes text := '';
	counts text[] := '{}';
	jit_was text := current_setting('jit');
	wm_was text := current_setting('work_mem');
BEGIN
	IF n NOT BETWEEN 1 AND 20 OR array_ndims(steps) <> 1 THEN
		RAISE EXCEPTION 'a funnel has 1 to 20 steps, not %', n
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF within <= interval '0' THEN
		RAISE EXCEPTION 'within must be positive, not "%"', within
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM edgestat.filter_items(filters);
	sid := edgestat.report_site_id(site);
	FOR k IN 1 .. n LOOP
		SELECT * INTO d FROM edgestat.goal_defs g WHERE g.site_id = sid AND g.name = steps[k];
		IF NOT FOUND THEN
			RAISE EXCEPTION 'goal "%" does not exist for site "%"', steps[k], site
				USING ERRCODE = 'undefined_object',
					  HINT = 'Define it with edgestat.add_goal().';
		END IF;
		IF d.event IS NOT NULL THEN
			names := names || d.event;
		ELSE
			likes := likes || d.page_like;
		END IF;
		-- o<k>: the occurrences of step k; r<k>: the runs that reached it
		ctes := ctes || format(', o%s AS MATERIALIZED (SELECT e.visitor_id, e.ts FROM e WHERE %s)',
			k, CASE WHEN d.event IS NOT NULL THEN format('e.name = %L', d.event)
					ELSE format('e.name = %L AND e.path LIKE %L', 'pageview', d.page_like) END);
		IF k = 1 THEN
			ctes := ctes || ', r1 AS MATERIALIZED (SELECT o1.visitor_id, o1.ts AS t1, o1.ts AS t'
							' FROM o1 WHERE o1.ts < $3)';
		ELSE
			-- For each run, the visitor's next step-k occurrence at or after
			-- its last step: a running min over the visitor's runs and
			-- occurrences in descending time (an occurrence before a run at
			-- the same instant), one sort, linear, where a join of runs with
			-- occurrences would be quadratic in a heavy visitor's events.
			-- Runs arriving at the same time keep the latest step-1 time,
			-- whose window ends last: it reaches whatever the others reach.
			ctes := ctes || format(
				', r%1$s AS MATERIALIZED (SELECT x.visitor_id, max(x.t1) AS t1, x.nt AS t FROM ('
				'SELECT u.visitor_id, u.t1, u.kind, min(u.ots) OVER (PARTITION BY u.visitor_id'
				' ORDER BY u.ts DESC, u.kind ROWS UNBOUNDED PRECEDING) AS nt FROM ('
				'SELECT r.visitor_id, r.t AS ts, r.t1, NULL::timestamptz AS ots, 1 AS kind FROM r%2$s r'
				' UNION ALL SELECT o.visitor_id, o.ts, NULL, o.ts, 0 FROM o%1$s o) u) x'
				' WHERE x.kind = 1 AND x.nt <= x.t1 + $6 GROUP BY x.visitor_id, x.nt)', k, k - 1);
		END IF;
		counts := counts || format('(SELECT count(DISTINCT visitor_id) FROM r%s)', k);
	END LOOP;
	PERFORM set_config('jit', 'off', true);
	PERFORM set_config('work_mem', '64MB', true);
	RETURN QUERY EXECUTE format($q$
		WITH e AS MATERIALIZED (%s)%s,
		per_step AS (
			SELECT st.i::int AS step, st.g AS goal, (ARRAY[%s])[st.i] AS v
			FROM unnest($7::text[]) WITH ORDINALITY AS st(g, i)
		)
		SELECT p.step, p.goal, p.v,
			   round(100.0 * p.v / nullif(first_value(p.v) OVER w, 0), 2),
			   coalesce(lag(p.v) OVER w - p.v, 0)
		FROM per_step p
		WINDOW w AS (ORDER BY p.step)
		ORDER BY p.step$q$,
		edgestat.filtered_events_sql(filters, '$2', '($3 + $6)', edgestat.goal_events_sql(names, likes)),
		ctes, array_to_string(counts, ', '))
	USING sid, lo, hi, names, likes, within, steps;
	PERFORM set_config('jit', jit_was, true);
	PERFORM set_config('work_mem', wm_was, true);
END
$$;
COMMENT ON FUNCTION edgestat.funnel(text, text[], timestamptz, timestamptz, interval, jsonb) IS
	'ordered goal steps within a time window: visitors per step, conversion (% of step 1), dropoff; unknown goal: ERROR 42704';

-- ---------------------------------------------------------------------
-- retention
-- ---------------------------------------------------------------------

-- Cohorts of visitors by the UTC day, week (ISO, from Monday) or month of
-- their first visit, first visits inside the range; for each cohort the
-- periods from 0 to the one holding the end of the range, and the cohort's
-- visitors with a visit (kept session) starting in that period before the
-- end of the range.  Without filters the first visit is the visitor's
-- first_seen; with filters, its first kept session.  Bad unit: 22023.
CREATE FUNCTION edgestat.retention(site text, since timestamptz, until timestamptz,
								   unit text DEFAULT 'week', filters jsonb DEFAULT '{}')
RETURNS TABLE (cohort date, visitors bigint, period int, retained bigint, rate numeric)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	sid int;
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	sv text;
	-- Periods as integers: the UTC day, ISO week or month a time falls in,
	-- counted from 1970 (1970-01-01 was a Thursday; its week began three
	-- days before).  From date_part's epoch in double precision: per row,
	-- date_trunc(..., 'UTC') looks the zone up and extract() computes in
	-- numeric, each several times dearer over millions of sessions.
	idx text := CASE unit
		WHEN 'day' THEN 'floor(date_part(''epoch'', %1$s) / 86400)::int'
		WHEN 'week' THEN 'floor((floor(date_part(''epoch'', %1$s) / 86400) + 3) / 7)::int'
		ELSE '(date_part(''year'', date ''1970-01-01'' + floor(date_part(''epoch'', %1$s) / 86400)::int) * 12'
			 ' + date_part(''month'', date ''1970-01-01'' + floor(date_part(''epoch'', %1$s) / 86400)::int)'
			 ' - 23641)::int'
		END;
	jit_was text := current_setting('jit');
	wm_was text := current_setting('work_mem');
BEGIN
	IF unit NOT IN ('day', 'week', 'month') THEN
		RAISE EXCEPTION 'invalid retention unit "%"', unit
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The unit is day, week or month.';
	END IF;
	PERFORM edgestat.filter_items(filters);
	sid := edgestat.report_site_id(site);
	-- sv: the cohort visitors' kept sessions of the range, with their
	-- cohort's period (c) and the session's (p).  All of a cohort visitor's
	-- sessions start at or after its first visit, so in the range: one
	-- range scan of sessions.
	IF filters = '{}' THEN
		-- the first visit is the visitor's first_seen
		sv := format($f$
			SELECT s.visitor_id, %s AS c, %s AS p
			FROM edgestat.sessions s
			JOIN edgestat.visitors v ON v.site_id = s.site_id AND v.visitor_id = s.visitor_id
			WHERE s.site_id = $1 AND s.started_at >= $2 AND s.started_at < $3
			  AND v.first_seen >= $2 AND v.first_seen < $3$f$,
			format(idx, 'v.first_seen'), format(idx, 's.started_at'));
	ELSE
		-- the first visit is the first kept session, which may lie before
		-- the range (then the visitor is no cohort's)
		sv := format($f$
			SELECT s.visitor_id, %2$s AS c, %3$s AS p
			FROM (SELECT s.visitor_id, min(s.started_at) AS first
				  FROM edgestat.sessions s
				  WHERE s.site_id = $1 AND s.started_at < $3 AND %1$s
				  GROUP BY 1 HAVING min(s.started_at) >= $2) f
			JOIN edgestat.sessions s ON s.site_id = $1 AND s.visitor_id = f.visitor_id
			WHERE s.started_at >= $2 AND s.started_at < $3 AND %1$s$f$,
			(edgestat.filter_sql(filters)).spred, format(idx, 'f.first'), format(idx, 's.started_at'));
	END IF;
	PERFORM set_config('jit', 'off', true);
	PERFORM set_config('work_mem', '64MB', true);
	RETURN QUERY EXECUTE format($q$
		WITH counts AS (
			SELECT x.c, x.p - x.c AS p, count(*) AS k
			FROM (SELECT DISTINCT sv.c, sv.visitor_id, sv.p FROM (%s) sv) x
			GROUP BY 1, 2
		), sizes AS (
			-- every cohort visitor has its first visit in period 0
			SELECT counts.c, counts.k AS n FROM counts WHERE counts.p = 0
		), grid AS (
			SELECT sizes.c, sizes.n, g.p
			FROM sizes, LATERAL generate_series(0, %s - sizes.c) AS g(p)
		)
		SELECT CASE $4 WHEN 'day' THEN date '1970-01-01' + grid.c
					   WHEN 'week' THEN date '1970-01-01' + grid.c * 7 - 3
					   ELSE make_date(grid.c / 12 + 1970, grid.c %% 12 + 1, 1) END,
			   grid.n, grid.p,
			   CASE WHEN grid.p = 0 THEN grid.n ELSE coalesce(r.k, 0) END,
			   round(100.0 * CASE WHEN grid.p = 0 THEN grid.n ELSE coalesce(r.k, 0) END / grid.n, 2)
		FROM grid LEFT JOIN counts r ON r.c = grid.c AND r.p = grid.p
		ORDER BY 1, 3$q$, sv, format(idx, '($3 - interval ''1 microsecond'')'))
	USING sid, lo, hi, unit;
	PERFORM set_config('jit', jit_was, true);
	PERFORM set_config('work_mem', wm_was, true);
END
$$;
COMMENT ON FUNCTION edgestat.retention(text, timestamptz, timestamptz, text, jsonb) IS
	'cohorts by UTC day/week/month of first visit: size, and visitors returning in each period; bad unit: ERROR 22023';

-- ---------------------------------------------------------------------
-- journeys
-- ---------------------------------------------------------------------

-- The first "steps" pageview paths of each kept session started in the
-- range (consecutive repeats of one path folded into one; pageviews in
-- time order, then seq), counted per journey.  Filters select sessions;
-- the journey is always the session's whole path.  steps 1..20 and lim
-- >= 0, else 22023.
CREATE FUNCTION edgestat.journeys(site text, since timestamptz, until timestamptz,
								  steps int DEFAULT 3, lim int DEFAULT 20,
								  filters jsonb DEFAULT '{}')
RETURNS TABLE (journey text[], visits bigint)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	sid int;
	lo timestamptz := date_trunc('hour', since, 'UTC');
	hi timestamptz := edgestat.hour_ceil(until);
	jit_was text := current_setting('jit');
	wm_was text := current_setting('work_mem');
BEGIN
	IF steps NOT BETWEEN 1 AND 20 THEN
		RAISE EXCEPTION 'steps must be between 1 and 20, not %', steps
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF lim < 0 THEN
		RAISE EXCEPTION 'lim must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM edgestat.filter_items(filters);
	sid := edgestat.report_site_id(site);
	PERFORM set_config('jit', 'off', true);
	PERFORM set_config('work_mem', '64MB', true);
	-- The events of those sessions lie in [lo, their last_seen].  One sort
	-- of their pageviews by session and time serves the fold (lag), the
	-- numbering and the aggregation, which all keep that order.
	RETURN QUERY EXECUTE format($q$
		WITH s AS MATERIALIZED (
			SELECT s.session_id, s.last_seen FROM edgestat.sessions s
			WHERE s.site_id = $1 AND s.started_at >= $2 AND s.started_at < $3 AND %s
		), pv AS (
			SELECT e.session_id, e.path, e.ts, e.seq,
				   lag(e.path) OVER w IS DISTINCT FROM e.path AS starts_run
			FROM edgestat.events e
			WHERE e.site_id = $1 AND e.name = 'pageview' AND e.ts >= $2
			  AND e.ts <= (SELECT max(s.last_seen) FROM s)
			  AND e.session_id IN (SELECT s.session_id FROM s)
			WINDOW w AS (PARTITION BY e.session_id ORDER BY e.ts, e.seq)
		), folded AS (
			SELECT pv.session_id, pv.path,
				   row_number() OVER (PARTITION BY pv.session_id ORDER BY pv.ts, pv.seq) AS i
			FROM pv WHERE pv.starts_run
		), j AS (
			SELECT array_agg(folded.path ORDER BY folded.i) AS journey
			FROM folded WHERE folded.i <= $4
			GROUP BY folded.session_id
		)
		SELECT j.journey, count(*) FROM j
		GROUP BY 1 ORDER BY 2 DESC, j.journey COLLATE "C"
		LIMIT $5$q$, (edgestat.filter_sql(filters)).spred)
	USING sid, lo, hi, steps, lim;
	PERFORM set_config('jit', jit_was, true);
	PERFORM set_config('work_mem', wm_was, true);
END
$$;
COMMENT ON FUNCTION edgestat.journeys(text, timestamptz, timestamptz, int, int, jsonb) IS
	'the most common first pages (consecutive repeats folded) of sessions started in the range';

-- ---------------------------------------------------------------------
-- compare
-- ---------------------------------------------------------------------

-- summary() of the range against the same length of time just before it
-- ('previous') or one year earlier ('year').  change: percent, 2 decimals,
-- NULL when previous is 0 or NULL.  Bad against: 22023.
CREATE FUNCTION edgestat.compare(site text, since timestamptz, until timestamptz,
								 against text DEFAULT 'previous', filters jsonb DEFAULT '{}')
RETURNS TABLE (metric text, value numeric, previous numeric, change numeric)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	psince timestamptz;
	puntil timestamptz;
	a record;
	b record;
BEGIN
	IF against = 'previous' THEN
		psince := since - (until - since);
		puntil := since;
	ELSIF against = 'year' THEN
		psince := since - interval '1 year';
		puntil := until - interval '1 year';
	ELSE
		RAISE EXCEPTION 'invalid comparison "%"', against
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Compare against previous or year.';
	END IF;
	SELECT * INTO a FROM edgestat.summary(site, since, until, filters);
	SELECT * INTO b FROM edgestat.summary(site, psince, puntil, filters);
	RETURN QUERY
	SELECT m.metric, m.v, m.p, round(100 * (m.v - m.p) / nullif(m.p, 0), 2)
	FROM (VALUES (1, 'visitors', a.visitors::numeric, b.visitors::numeric),
				 (2, 'visits', a.visits, b.visits),
				 (3, 'pageviews', a.pageviews, b.pageviews),
				 (4, 'views_per_visit', a.views_per_visit, b.views_per_visit),
				 (5, 'bounce_rate', a.bounce_rate, b.bounce_rate),
				 (6, 'visit_duration', a.visit_duration, b.visit_duration)
		 ) AS m(i, metric, v, p)
	ORDER BY m.i;
END
$$;
COMMENT ON FUNCTION edgestat.compare(text, timestamptz, timestamptz, text, jsonb) IS
	'summary() metrics against the previous period of the same length or the same period a year earlier';

REVOKE ALL ON FUNCTION
	edgestat.add_goal(text, text, text, text),
	edgestat.filter_items(jsonb),
	edgestat.filter_sql(jsonb),
	edgestat.filtered_events_sql(jsonb, text, text, text),
	edgestat.filtered_sessions_sql(jsonb),
	edgestat.builtin_event_names(),
	edgestat.goal_events_sql(text[], text[]),
	edgestat.rollup_union(int, timestamptz, timestamptz, text[], text[], text[]),
	edgestat.summary(text, timestamptz, timestamptz, jsonb),
	edgestat.report_timeseries_filtered(text, timestamptz, timestamptz, interval, jsonb),
	edgestat.timeseries(text, timestamptz, timestamptz, interval, jsonb),
	edgestat.breakdown(text, text, timestamptz, timestamptz, int, jsonb),
	edgestat.goals(text, timestamptz, timestamptz, jsonb),
	edgestat.funnel(text, text[], timestamptz, timestamptz, interval, jsonb),
	edgestat.retention(text, timestamptz, timestamptz, text, jsonb),
	edgestat.journeys(text, timestamptz, timestamptz, int, int, jsonb),
	edgestat.compare(text, timestamptz, timestamptz, text, jsonb)
FROM PUBLIC;
