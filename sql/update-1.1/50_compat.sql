
-- ---------------------------------------------------------------------
-- Compatibility with Plausible and Umami (docs/compat.md): the
-- sites' public_id for Umami's collect API, per-site API keys and
-- edgestat.stats_api() for Plausible's Stats API v2, the identity salt's
-- rotation, and imports of Plausible's CSV exports.
-- ---------------------------------------------------------------------

-- Umami's trackers name a site by a UUID ("website"): the site's public_id.
-- Not secret: it is in every page that runs the tracker.
ALTER TABLE edgestat.sites ADD public_id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE;
COMMENT ON COLUMN edgestat.sites.public_id IS
	'the site''s id for Umami''s collect API (POST /api/send, payload.website)';

-- Stats API keys, one site each; only the sha256 of a key is kept (as for
-- dashboard tokens), so a leaked table does not leak working keys.
CREATE TABLE edgestat.api_keys (
	key_sha256 bytea PRIMARY KEY CHECK (length(key_sha256) = 32),
	site_id int NOT NULL REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_site ON edgestat.api_keys (site_id);
COMMENT ON TABLE edgestat.api_keys IS
	'Stats API keys (POST /api/v2/query), one site each; only the sha256 of a key is kept';
REVOKE ALL ON edgestat.api_keys FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('edgestat.api_keys', '');

-- A new secret Stats API key for a site, shown once.
CREATE FUNCTION edgestat.api_key(site text) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	sid int := edgestat.report_site_id(site);	-- 42704 if unknown
	k text;
BEGIN
	k := encode(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
					   || uuid_send(gen_random_uuid())), 'hex');
	INSERT INTO edgestat.api_keys (key_sha256, site_id)
		VALUES (sha256(convert_to(k, 'UTF8')), sid);
	RETURN k;
END
$$;
COMMENT ON FUNCTION edgestat.api_key(text) IS
	'creates and returns a new Stats API key for a site (only its hash is stored)';

CREATE FUNCTION edgestat.api_key_revoke(key text) RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d AS (
		DELETE FROM edgestat.api_keys
		WHERE key_sha256 = sha256(convert_to(key, 'UTF8'))
		RETURNING 1)
	SELECT count(*) > 0 FROM d
$$;
COMMENT ON FUNCTION edgestat.api_key_revoke(text) IS
	'revokes a Stats API key; returns whether it existed';

-- What midnight UTC does to the server-side identity, now (src/identity.c).
CREATE FUNCTION edgestat.rotate_identity_salt() RETURNS void
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'es_rotate_identity_salt';
COMMENT ON FUNCTION edgestat.rotate_identity_salt() IS
	'makes a new identity salt now, keeping the current one as the previous day''s (superuser only)';

-- ---------------------------------------------------------------------
-- Plausible's Stats API v2 (the subset in docs/compat.md).  Errors are raised
-- with the message Plausible would give: 28000 (HTTP 401) for the key,
-- 42704 (404) for the site, 22023 (400) for the query.
-- ---------------------------------------------------------------------

-- The [since, until) of a date_range, in UTC: named ranges end today.
CREATE FUNCTION edgestat.stats_api_range(date_range jsonb, today date,
										 OUT since timestamptz, OUT until timestamptz)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	d0 date;
	d1 date := today;
	a text;
	b text;
BEGIN
	IF jsonb_typeof(date_range) = 'string' THEN
		CASE date_range #>> '{}'
		WHEN 'day' THEN d0 := today;
		WHEN '7d' THEN d0 := today - 6;
		WHEN '28d' THEN d0 := today - 27;
		WHEN '30d' THEN d0 := today - 29;
		WHEN '91d' THEN d0 := today - 90;
		WHEN 'month' THEN d0 := date_trunc('month', today)::date;
		WHEN '6mo' THEN d0 := (date_trunc('month', today) - interval '5 months')::date;
		WHEN '12mo' THEN d0 := (date_trunc('month', today) - interval '11 months')::date;
		WHEN 'year' THEN d0 := date_trunc('year', today)::date;
		ELSE
			RAISE EXCEPTION 'Invalid date_range "%"', date_range #>> '{}'
				USING ERRCODE = 'invalid_parameter_value';
		END CASE;
		since := d0::timestamp AT TIME ZONE 'UTC';
		until := (d1 + 1)::timestamp AT TIME ZONE 'UTC';
		RETURN;
	END IF;
	IF jsonb_typeof(date_range) = 'array' AND jsonb_array_length(date_range) = 2
	   AND jsonb_typeof(date_range->0) = 'string' AND jsonb_typeof(date_range->1) = 'string' THEN
		a := date_range->>0;
		b := date_range->>1;
		BEGIN
			IF a ~ '^\d{4}-\d{2}-\d{2}$' THEN
				since := a::date::timestamp AT TIME ZONE 'UTC';
			ELSE
				since := a::timestamptz;
			END IF;
			IF b ~ '^\d{4}-\d{2}-\d{2}$' THEN
				until := (b::date + 1)::timestamp AT TIME ZONE 'UTC';
			ELSE
				until := b::timestamptz + interval '1 microsecond';
			END IF;
		EXCEPTION WHEN data_exception THEN
			RAISE EXCEPTION 'Invalid date_range %', date_range::text
				USING ERRCODE = 'invalid_parameter_value';
		END;
		IF since >= until THEN
			RAISE EXCEPTION 'Invalid date_range %: the start is after the end', date_range::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		RETURN;
	END IF;
	RAISE EXCEPTION 'Invalid date_range %', coalesce(date_range::text, 'null')
		USING ERRCODE = 'invalid_parameter_value',
			  HINT = 'A name (day, 7d, 28d, 30d, month, 6mo, 12mo, year) or ["YYYY-MM-DD", "YYYY-MM-DD"].';
END
$$;

-- One of Plausible's filter expressions as one of edgestat's filter tree
-- (docs/analytics.md): the same operators, dimensions renamed.  The
-- compiler (edgestat.filter_tree) checks the rest: values, modifiers,
-- regular expressions, nesting.  event:goal is the site's goals (goals:
-- [{"name", "event", "page"}, ...] from edgestat.goal_defs): a goal is
-- reached by a custom event of its name or a pageview whose path matches
-- its pattern, and the filter becomes the events reaching the goals it
-- names.  As in Plausible, "is" of a goal the site does not have is a 400,
-- "contains" that names none matches nothing.
CREATE FUNCTION edgestat.stats_api_filter(f jsonb, dims jsonb, goals jsonb DEFAULT '[]')
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	op text;
	dim text;
	edim text;
	res jsonb := '[]';
	c jsonb;
	vals text[];
	none_label text;
BEGIN
	IF jsonb_typeof(f) IS DISTINCT FROM 'array' OR jsonb_typeof(f->0) IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'Invalid filter %', coalesce(f::text, 'null')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	op := f->>0;
	IF op IN ('and', 'or') THEN
		IF jsonb_array_length(f) <> 2 OR jsonb_typeof(f->1) IS DISTINCT FROM 'array'
		   OR jsonb_array_length(f->1) = 0 THEN
			RAISE EXCEPTION 'Invalid filter %: "%" takes a non-empty list of filters', f::text, op
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR c IN SELECT * FROM jsonb_array_elements(f->1) LOOP
			res := res || jsonb_build_array(edgestat.stats_api_filter(c, dims, goals));
		END LOOP;
		RETURN jsonb_build_array(op, res);
	END IF;
	IF op = 'not' THEN
		IF jsonb_array_length(f) <> 2 THEN
			RAISE EXCEPTION 'Invalid filter %: "not" takes one filter', f::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		RETURN jsonb_build_array('not', edgestat.stats_api_filter(f->1, dims, goals));
	END IF;
	IF op IN ('has_done', 'has_not_done') THEN
		RAISE EXCEPTION 'Filter operator "%" is not supported by this server', op
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Supported: is, is_not, contains, contains_not, matches, matches_not, and, or, not.';
	END IF;
	IF op NOT IN ('is', 'is_not', 'contains', 'contains_not', 'matches', 'matches_not') THEN
		RAISE EXCEPTION 'Invalid filter %: unknown operator "%"', f::text, op
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_array_length(f) NOT IN (3, 4) OR jsonb_typeof(f->1) IS DISTINCT FROM 'string'
	   OR jsonb_typeof(f->2) IS DISTINCT FROM 'array' THEN
		RAISE EXCEPTION 'Invalid filter %', f::text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	dim := f->>1;
	IF dim = 'time' OR dim LIKE 'time:%' THEN
		RAISE EXCEPTION 'Invalid filter %: time dimensions cannot be filtered, use date_range', f::text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	edim := dims->>dim;
	IF edim IS NULL THEN
		RAISE EXCEPTION 'Invalid filter dimension "%"', dim
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF dim = 'event:goal' AND op NOT IN ('is', 'contains') THEN
		RAISE EXCEPTION 'Invalid filter %: only "is" and "contains" can filter event:goal', f::text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- Plausible takes numbers among the values (city ids): as text
	IF EXISTS (SELECT 1 FROM jsonb_array_elements(f->2) x WHERE jsonb_typeof(x) NOT IN ('string', 'number')) THEN
		RAISE EXCEPTION 'Invalid filter %: the values must be a list of strings', f::text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF op LIKE 'matches%' THEN
		DECLARE
			v text;
			test boolean;
		BEGIN
			FOR v IN SELECT jsonb_array_elements_text(f->2) LOOP
				test := '' ~ v;
			END LOOP;
		EXCEPTION WHEN invalid_regular_expression THEN
			RAISE EXCEPTION 'Invalid filter %: not a valid regular expression', f::text
				USING ERRCODE = 'invalid_parameter_value';
		END;
	END IF;
	IF jsonb_array_length(f) = 4
	   AND (jsonb_typeof(f->3) IS DISTINCT FROM 'object'
			OR EXISTS (SELECT 1 FROM jsonb_each(f->3) x
					   WHERE x.key <> 'case_sensitive' OR jsonb_typeof(x.value) <> 'boolean')) THEN
		RAISE EXCEPTION 'Invalid filter %: the only modifier is {"case_sensitive": true or false}', f::text
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	vals := ARRAY(SELECT x #>> '{}' FROM jsonb_array_elements(f->2) WITH ORDINALITY AS t(x, o) ORDER BY o);
	IF dim = 'event:goal' THEN
		DECLARE
			cs boolean := coalesce((f #>> '{3,case_sensitive}')::boolean, true);
			g jsonb;
			v text;
		BEGIN
			IF op = 'is' THEN
				FOREACH v IN ARRAY vals LOOP
					IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(goals) x
								   WHERE CASE WHEN cs THEN x->>'name' = v
											  ELSE lower(x->>'name') = lower(v) END) THEN
						RAISE EXCEPTION 'Invalid filters. The goal `%` is not configured for this site.', v
							USING ERRCODE = 'invalid_parameter_value';
					END IF;
				END LOOP;
			END IF;
			FOR g IN SELECT x FROM jsonb_array_elements(goals) x
					 WHERE CASE WHEN op = 'is' AND cs THEN x->>'name' = ANY (vals)
								WHEN op = 'is' THEN lower(x->>'name') = ANY (ARRAY(SELECT lower(y) FROM unnest(vals) y))
								WHEN cs THEN EXISTS (SELECT 1 FROM unnest(vals) y WHERE strpos(x->>'name', y) > 0)
								ELSE EXISTS (SELECT 1 FROM unnest(vals) y WHERE strpos(lower(x->>'name'), lower(y)) > 0) END
			LOOP
				res := res || CASE WHEN g->>'event' IS NOT NULL
					THEN jsonb_build_array(jsonb_build_array('is', 'event', jsonb_build_array(g->>'event')))
					-- the page pattern as an anchored regular expression: * is any run
					ELSE jsonb_build_array(jsonb_build_array('and', jsonb_build_array(
						jsonb_build_array('is', 'event', '["pageview"]'::jsonb),
						jsonb_build_array('matches', 'page', jsonb_build_array(
							'^' || replace(regexp_replace(g->>'page', '([.^$+?()[\]{}|\\])', '\\\1', 'g'),
										   '*', '.*') || '$')))))
					END;
			END LOOP;
			RETURN CASE jsonb_array_length(res)
				WHEN 0 THEN '["is", "event", []]'::jsonb		-- no goal: nothing
				WHEN 1 THEN res->0
				ELSE jsonb_build_array('or', res) END;
		END;
	END IF;
	res := jsonb_build_array(op, edim, to_jsonb(vals));
	IF jsonb_array_length(f) = 4 THEN
		res := res || jsonb_build_array(f->3);
	END IF;
	-- The label the results give a visit attribute that is missing
	-- ("Direct / None", "(none)") selects it: contains "" holds for every
	-- value but none.
	none_label := CASE WHEN dim IN ('visit:source', 'visit:referrer') THEN 'Direct / None'
					   WHEN dim LIKE 'visit:%' THEN '(none)' END;
	IF op IN ('is', 'is_not') AND none_label = ANY (vals) THEN
		res := jsonb_set(res, '{2}', to_jsonb(array_remove(vals, none_label)));
		res := CASE op
			WHEN 'is' THEN jsonb_build_array('or', jsonb_build_array(res,
				jsonb_build_array('not', jsonb_build_array('contains', edim, jsonb_build_array('')))))
			ELSE jsonb_build_array('and', jsonb_build_array(res,
				jsonb_build_array('contains', edim, jsonb_build_array(''))))
			END;
	END IF;
	RETURN res;
END
$$;

-- Plausible's filters (a list, implicitly "and") as edgestat's filter
-- tree: '[]' when there are none.  Compiled once here so that a bad one
-- is a 400 before anything runs.
CREATE FUNCTION edgestat.stats_api_filters(filters jsonb, dims jsonb, goals jsonb DEFAULT '[]')
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f jsonb;
	res jsonb := '[]';
BEGIN
	IF filters IS NULL OR filters = 'null' THEN
		RETURN res;
	END IF;
	IF jsonb_typeof(filters) <> 'array' THEN
		RAISE EXCEPTION 'Invalid filters: must be a list'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR f IN SELECT * FROM jsonb_array_elements(filters) LOOP
		res := res || jsonb_build_array(edgestat.stats_api_filter(f, dims, goals));
	END LOOP;
	PERFORM edgestat.filter_items(res);		-- validates
	RETURN res;
END
$$;

-- The part of [since, until) that reads no imported data from the
-- rollups.  Imported days are whole UTC days that had no measured data
-- when they were imported, and events are stamped when they arrive, so
-- an imported day's rollup rows hold nothing measured (checked below
-- against the raw events).  how:
--   'all'      no imported day in the range: [lo, hi) is the range;
--   'trimmed'  the imported days were at the ends of the range: [lo, hi)
--              is the rest (possibly empty, lo = hi), exactly the
--              range's measured data in the rollups;
--   'raw'      imported days lie between measured ones (or an imported
--              day has measured events): only the raw tables separate
--              them (summary() etc. with filters '[]');
--   'raw_partial'  as 'raw', but measured hours of the range are older
--              than the raw events kept (edgestat.retention): those are
--              missing.
-- With 'raw' and 'raw_partial', [lo, hi) is [since, until): the caller
-- always reads [lo, hi).
-- Reports count whole UTC hours and an imported day sits in its first
-- hour, so what counts is whether that hour is in the widened range.
CREATE FUNCTION edgestat.stats_api_native(sid int, since timestamptz, until timestamptz,
										  OUT lo timestamptz, OUT hi timestamptz, OUT how text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	hlo timestamptz := date_trunc('hour', since, 'UTC');
	hhi timestamptz := edgestat.hour_ceil(until);
	first_raw timestamptz;
BEGIN
	lo := since;
	hi := until;
	how := 'all';
	IF NOT EXISTS (SELECT 1 FROM edgestat.imported_days i
				   WHERE i.site_id = sid AND i.day::timestamp AT TIME ZONE 'UTC' >= hlo
					 AND i.day::timestamp AT TIME ZONE 'UTC' < hhi) THEN
		RETURN;
	END IF;
	IF EXISTS (SELECT 1 FROM edgestat.imported_days i JOIN edgestat.events e
				 ON e.site_id = i.site_id AND e.ts >= i.day::timestamp AT TIME ZONE 'UTC'
				AND e.ts < (i.day + 1)::timestamp AT TIME ZONE 'UTC'
			   WHERE i.site_id = sid AND i.day::timestamp AT TIME ZONE 'UTC' >= hlo
				 AND i.day::timestamp AT TIME ZONE 'UTC' < hhi) THEN
		how := 'raw';
	ELSE
		lo := hlo;
		hi := hhi;
		-- leading and trailing imported days hold nothing measured: cut
		WHILE lo < hi AND EXISTS (SELECT 1 FROM edgestat.imported_days i WHERE i.site_id = sid
								  AND i.day = (lo AT TIME ZONE 'UTC')::date) LOOP
			lo := ((lo AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC';
		END LOOP;
		WHILE lo < hi AND EXISTS (SELECT 1 FROM edgestat.imported_days i WHERE i.site_id = sid
								  AND i.day = ((hi - interval '1 microsecond') AT TIME ZONE 'UTC')::date) LOOP
			hi := ((hi - interval '1 microsecond') AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC';
		END LOOP;
		IF lo >= hi THEN
			lo := least(lo, hi);
			hi := lo;
			how := 'trimmed';
			RETURN;
		END IF;
		IF NOT EXISTS (SELECT 1 FROM edgestat.imported_days i
					   WHERE i.site_id = sid AND i.day::timestamp AT TIME ZONE 'UTC' >= lo
						 AND i.day::timestamp AT TIME ZONE 'UTC' < hi) THEN
			how := 'trimmed';
			RETURN;
		END IF;
		how := 'raw';
	END IF;
	lo := since;
	hi := until;
	SELECT min(e.ts) INTO first_raw FROM edgestat.events e WHERE e.site_id = sid;
	IF EXISTS (SELECT 1 FROM edgestat.rollup_hourly r
			   WHERE r.site_id = sid AND r.hour >= hlo AND r.hour < hhi
				 AND (first_raw IS NULL OR r.hour < date_trunc('hour', first_raw, 'UTC'))
				 AND NOT EXISTS (SELECT 1 FROM edgestat.imported_days i WHERE i.site_id = sid
								 AND i.day = (r.hour AT TIME ZONE 'UTC')::date)) THEN
		how := 'raw_partial';
	END IF;
END
$$;

-- More than one dimension (or a time dimension and another, or a visit
-- dimension with visit metrics): grouped
-- exactly from the raw tables, as the filtered reports are.  With an event
-- dimension (event:page, event:goal, event:name) the rows are the kept
-- events (and their sessions' attributes), bucketed by event time; with
-- visit dimensions only, the kept sessions that started in the range,
-- bucketed by their start, which also gives the visit metrics.  Returns
-- the result rows in the default order: time, then the first metric
-- descending, then the dimension values.  event:goal: the site's goals
-- (edgestat.goal_defs), an event counting for each goal it reaches.
-- conversion_rate: the row's visitors over those of the same query with
-- the goal filters removed (gfilt), grouped by the same dimensions but
-- event:goal, as Plausible's group conversion rate.
CREATE FUNCTION edgestat.stats_api_grouped(sid int, since timestamptz, until timestamptz,
										   dimensions text[], metrics text[], filt jsonb,
										   dims jsonb, gfilt jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	-- with conversion_rate and event metrics only, the visitors are those
	-- of the kept events, as the aggregate's and breakdown()'s
	event_scope boolean := dimensions && '{event:page,event:goal,event:name}'::text[]
		OR ('conversion_rate' = ANY (metrics)
			AND metrics <@ '{visitors,pageviews,events,conversion_rate}'::text[]);
	goal_join constant text := ' JOIN edgestat.goal_defs g ON g.site_id = $1 AND CASE WHEN g.event IS NOT NULL'
		' THEN e.name = g.event ELSE e.name = ''pageview'' AND e.path LIKE g.page_like END';
	tsel text[] := '{}';
	tkeys text[] := '{}';
	tq text;
	allowed text[];
	sel text[] := '{}';
	dexprs text[] := '{}';
	mexprs text[] := '{}';
	ord text[] := '{}';
	d text;
	m text;
	k int := 0;
	tcol text;
	q text;
	res jsonb;
	jit_was text := current_setting('jit');
	wm_was text := current_setting('work_mem');
BEGIN
	-- (conversion_rate: the caller checked for a goal dimension or filter)
	allowed := CASE WHEN event_scope THEN '{visitors,pageviews,events,conversion_rate}'::text[]
					ELSE '{visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration,events,conversion_rate}'::text[] END;
	FOREACH m IN ARRAY metrics LOOP
		IF NOT m = ANY (allowed) THEN
			RAISE EXCEPTION 'Metric `%` is not supported with dimensions % by this server', m, array_to_string(dimensions, ', ')
				USING ERRCODE = 'feature_not_supported',
					  HINT = CASE WHEN event_scope
						THEN 'With an event dimension: visitors, pageviews, events, conversion_rate.'
						ELSE 'With visit dimensions: every metric.' END;
		END IF;
	END LOOP;
	tcol := CASE WHEN event_scope THEN 'e.ts' ELSE 's.started_at' END;
	FOREACH d IN ARRAY dimensions LOOP
		k := k + 1;
		IF d IN ('time', 'time:hour', 'time:day', 'time:month') THEN
			sel := sel || format('to_char(date_trunc(%L, %s, %L) AT TIME ZONE %L, %L) AS d%s',
				CASE d WHEN 'time:hour' THEN 'hour' WHEN 'time:month' THEN 'month' ELSE 'day' END,
				tcol, 'UTC', 'UTC',
				CASE d WHEN 'time:hour' THEN 'YYYY-MM-DD HH24:MI:SS' ELSE 'YYYY-MM-DD' END, k);
			ord := ord || format('q.d%s', k);
		ELSIF d = 'event:goal' THEN
			sel := sel || format('g.name AS d%s', k);
		ELSE
			sel := sel || format('coalesce(%s, %L) AS d%s',
				CASE dims->>d WHEN 'page' THEN 'e.path' WHEN 'event' THEN 'e.name'
							  WHEN 'referrer' THEN 's.referrer_host' ELSE 's.' || quote_ident(dims->>d) END,
				CASE WHEN d IN ('visit:source', 'visit:referrer') THEN 'Direct / None' ELSE '(none)' END, k);
		END IF;
		IF d <> 'event:goal' THEN
			tsel := tsel || sel[k];
			tkeys := tkeys || format('t.d%s = q.d%s', k, k);
		END IF;
		dexprs := dexprs || format('q.d%s', k);
	END LOOP;
	FOREACH m IN ARRAY metrics LOOP
		mexprs := mexprs || CASE m
			WHEN 'conversion_rate' THEN 'coalesce(round(100.0 * q.visitors / nullif(t.visitors, 0), 2), 0)'
			ELSE 'q.' || m END;
	END LOOP;
	ord := ord || format('q.%s DESC', CASE WHEN metrics[1] = 'conversion_rate' THEN 'visitors' ELSE metrics[1] END);
	FOR i IN 1 .. k LOOP
		IF NOT dimensions[i] LIKE 'time%' THEN
			ord := ord || format('q.d%s COLLATE "C"', i);
		END IF;
	END LOOP;
	IF event_scope THEN
		q := format($q$
			SELECT %s, count(DISTINCT e.visitor_id) AS visitors,
				   count(*) FILTER (WHERE e.name = 'pageview') AS pageviews, count(*) AS events
			FROM (%s) e LEFT JOIN edgestat.sessions s ON s.site_id = $1 AND s.session_id = e.session_id%s
			GROUP BY %s$q$,
			array_to_string(sel, ', '), edgestat.filtered_events_sql(filt),
			CASE WHEN 'event:goal' = ANY (dimensions) THEN goal_join ELSE '' END,
			(SELECT string_agg(g::text, ', ') FROM generate_series(1, k) g));
		tq := format($q$
			SELECT %s count(DISTINCT e.visitor_id) AS visitors
			FROM (%s) e LEFT JOIN edgestat.sessions s ON s.site_id = $1 AND s.session_id = e.session_id
			%s$q$,
			(SELECT string_agg(y || ', ', '') FROM unnest(tsel) y), edgestat.filtered_events_sql(gfilt),
			CASE WHEN cardinality(tsel) > 0
				 THEN 'GROUP BY ' || (SELECT string_agg(g::text, ', ') FROM generate_series(1, cardinality(tsel)) g)
				 ELSE '' END);
	ELSE
		q := format($q$
			SELECT %s, count(DISTINCT s.visitor_id) AS visitors, count(*) AS visits,
				   sum(s.pageviews) AS pageviews,
				   round(sum(s.pageviews)::numeric / count(*), 2) AS views_per_visit,
				   round(100 * count(*) FILTER (WHERE s.pageviews = 1)::numeric / count(*), 2) AS bounce_rate,
				   round(round(sum((extract(epoch FROM s.last_seen - s.started_at) * 1000)::bigint)
							   / 1000.0 / count(*), 2)) AS visit_duration,
				   sum(s.events) AS events
			FROM (%s) s
			GROUP BY %s$q$,
			array_to_string(sel, ', '), edgestat.filtered_sessions_sql(filt),
			(SELECT string_agg(g::text, ', ') FROM generate_series(1, k) g));
		tq := format($q$
			SELECT %s count(DISTINCT s.visitor_id) AS visitors FROM (%s) s %s$q$,
			(SELECT string_agg(y || ', ', '') FROM unnest(tsel) y), edgestat.filtered_sessions_sql(gfilt),
			CASE WHEN cardinality(tsel) > 0
				 THEN 'GROUP BY ' || (SELECT string_agg(g::text, ', ') FROM generate_series(1, cardinality(tsel)) g)
				 ELSE '' END);
	END IF;
	IF 'conversion_rate' = ANY (metrics) THEN
		q := format('%s) q %s (%s) t %s', q,
					CASE WHEN cardinality(tkeys) > 0 THEN 'LEFT JOIN' ELSE 'CROSS JOIN' END, tq,
					CASE WHEN cardinality(tkeys) > 0 THEN 'ON ' || array_to_string(tkeys, ' AND ') ELSE '' END);
	ELSE
		q := q || ') q';
	END IF;
	PERFORM set_config('jit', 'off', true);
	PERFORM set_config('work_mem', '64MB', true);
	EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_object(%L, jsonb_build_array(%s), %L, jsonb_build_array(%s))'
				   ' ORDER BY %s), %L) FROM (%s',
				   'dimensions', array_to_string(dexprs, ', '), 'metrics', array_to_string(mexprs, ', '),
				   array_to_string(ord, ', '), '[]', q)
		INTO res
		USING sid, date_trunc('hour', since, 'UTC'), edgestat.hour_ceil(until);
	PERFORM set_config('jit', jit_was, true);
	PERFORM set_config('work_mem', wm_was, true);
	RETURN res;
END
$$;

CREATE FUNCTION edgestat.stats_api(key text, query jsonb, today date DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	-- Plausible's dimensions as edgestat.breakdown's
	dims constant jsonb := '{"event:page": "page", "event:goal": "event", "event:name": "event",
		"visit:source": "referrer", "visit:referrer": "referrer",
		"visit:utm_source": "utm_source", "visit:utm_medium": "utm_medium",
		"visit:utm_campaign": "utm_campaign", "visit:entry_page": "entry_page",
		"visit:exit_page": "exit_page", "visit:country": "country", "visit:region": "region",
		"visit:city": "city", "visit:browser": "browser", "visit:os": "os", "visit:device": "device"}';
	known_metrics constant text[] := '{visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration,events,conversion_rate}';
	time_dims constant text[] := '{time,time:hour,time:day,time:month}';
	-- edgestat's own event kinds: not events in Plausible's sense
	own_kinds constant text[] := '{heartbeat,scroll,interaction,leave}';
	sid int;
	dom text;
	metrics text[];
	dimensions text[] := '{}';
	odims text[];
	m text;
	r record;
	nat record;
	since timestamptz;
	until timestamptz;
	filt jsonb;
	gfilt jsonb;			-- filt without the goal filters: conversion_rate's base
	goals jsonb;
	filtered boolean;
	goal_filter boolean;
	grouped boolean;
	want_imports boolean := false;
	use_native boolean;
	has_imported boolean;
	imports_used boolean := false;
	partial boolean := false;
	f2 jsonb;				-- NULL: the rollups over [bl, bh), else these filters
	tf jsonb;				-- the same for the conversion rate's total
	bl timestamptz;
	bh timestamptz;
	lim int := 10000;
	off int := 0;
	rows jsonb := '[]';
	row_metrics jsonb;
	dim text;
	tdim text;
	step interval;
	b timestamptz;
	bnext timestamptz;
	ord text := '';
	o jsonb;
	idx int;
	total_visitors numeric;
	res jsonb;
	meta jsonb := '{}';
BEGIN
	IF key IS NULL OR length(key) NOT BETWEEN 16 AND 256 THEN
		RAISE EXCEPTION 'Invalid API key. Please make sure you''re using a valid API key with access to the resource you''ve requested.'
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	SELECT s.site_id, s.domain INTO sid, dom
	FROM edgestat.api_keys k JOIN edgestat.sites s USING (site_id)
	WHERE k.key_sha256 = sha256(convert_to(key, 'UTF8'));
	IF sid IS NULL THEN
		RAISE EXCEPTION 'Invalid API key. Please make sure you''re using a valid API key with access to the resource you''ve requested.'
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	IF jsonb_typeof(query) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'Invalid query: the body must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(query->'site_id') IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'Missing site ID. Please provide the required site_id parameter with your request.'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF lower(query->>'site_id') <> dom THEN
		RAISE EXCEPTION 'Site does not exist or user does not have access to it.'
			USING ERRCODE = 'undefined_object';
	END IF;

	-- metrics
	IF jsonb_typeof(query->'metrics') IS DISTINCT FROM 'array'
	   OR jsonb_array_length(query->'metrics') = 0
	   OR EXISTS (SELECT 1 FROM jsonb_array_elements(query->'metrics') x WHERE jsonb_typeof(x) <> 'string') THEN
		RAISE EXCEPTION 'Invalid query: metrics must be a non-empty list'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	metrics := ARRAY(SELECT jsonb_array_elements_text(query->'metrics'));
	FOREACH m IN ARRAY metrics LOOP
		IF NOT m = ANY (known_metrics) THEN
			RAISE EXCEPTION 'Unknown metric "%"', m
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Valid metrics are: ' || array_to_string(known_metrics, ', ') || '.';
		END IF;
	END LOOP;
	IF cardinality(metrics) <> (SELECT count(DISTINCT x) FROM unnest(metrics) x) THEN
		RAISE EXCEPTION 'Invalid metrics: a metric is listed twice'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- dimensions: any of them, at most one of time
	IF query ? 'dimensions' THEN
		IF jsonb_typeof(query->'dimensions') <> 'array'
		   OR EXISTS (SELECT 1 FROM jsonb_array_elements(query->'dimensions') x WHERE jsonb_typeof(x) <> 'string') THEN
			RAISE EXCEPTION 'Invalid dimensions: must be a list'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		dimensions := ARRAY(SELECT jsonb_array_elements_text(query->'dimensions'));
	END IF;
	FOREACH dim IN ARRAY dimensions LOOP
		IF NOT (dims ? dim OR dim = ANY (time_dims)) THEN
			RAISE EXCEPTION 'Invalid dimension "%"', dim
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	IF cardinality(dimensions) <> (SELECT count(DISTINCT x) FROM unnest(dimensions) x) THEN
		RAISE EXCEPTION 'Invalid dimensions: a dimension is listed twice'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (SELECT count(*) FROM unnest(dimensions) x WHERE x = ANY (time_dims)) > 1 THEN
		RAISE EXCEPTION 'Invalid dimensions: at most one time dimension'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF cardinality(dimensions) > 8 THEN
		RAISE EXCEPTION 'Invalid dimensions: at most 8'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	odims := ARRAY(SELECT x FROM unnest(dimensions) x WHERE NOT x = ANY (time_dims));
	tdim := (SELECT x FROM unnest(dimensions) x WHERE x = ANY (time_dims));
	dim := CASE WHEN cardinality(dimensions) = 1 THEN odims[1] END;

	-- range, filters, include, pagination
	SELECT x.since, x.until INTO since, until
	FROM edgestat.stats_api_range(query->'date_range',
								  coalesce(today, (now() AT TIME ZONE 'UTC')::date)) x;
	goals := (SELECT coalesce(jsonb_agg(jsonb_build_object('name', d.name, 'event', d.event, 'page', d.page)
										ORDER BY d.goal_id), '[]')
			  FROM edgestat.goal_defs d WHERE d.site_id = sid);
	filt := edgestat.stats_api_filters(query->'filters', dims, goals);
	filtered := filt <> '[]';
	goal_filter := jsonb_path_exists(coalesce(query->'filters', '[]'), '$.** ? (@ == "event:goal")');
	-- as Plausible: the top-level filters that name event:goal removed
	gfilt := edgestat.stats_api_filters(
		CASE WHEN jsonb_typeof(query->'filters') = 'array'
			 THEN (SELECT coalesce(jsonb_agg(t.x ORDER BY t.n), '[]')
				   FROM jsonb_array_elements(query->'filters') WITH ORDINALITY AS t(x, n)
				   WHERE NOT jsonb_path_exists(t.x, '$.** ? (@ == "event:goal")')) END,
		dims, goals);
	IF query ? 'include' THEN
		IF jsonb_typeof(query->'include') <> 'object'
		   OR (query->'include' ? 'imports' AND jsonb_typeof(query #> '{include,imports}') <> 'boolean') THEN
			RAISE EXCEPTION 'Invalid include %: an object, whose imports is true or false', (query->'include')::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		want_imports := coalesce((query #>> '{include,imports}')::boolean, false);
	END IF;
	IF query ? 'pagination' THEN
		BEGIN
			lim := coalesce((query #>> '{pagination,limit}')::int, 10000);
			off := coalesce((query #>> '{pagination,offset}')::int, 0);
		EXCEPTION WHEN data_exception THEN
			RAISE EXCEPTION 'Invalid pagination %', (query->'pagination')::text
				USING ERRCODE = 'invalid_parameter_value';
		END;
		IF lim NOT BETWEEN 1 AND 10000 OR off < 0 THEN
			RAISE EXCEPTION 'Invalid pagination %', (query->'pagination')::text
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'limit is 1 to 10000, offset is not negative.';
		END IF;
	END IF;
	IF 'conversion_rate' = ANY (metrics) AND NOT 'event:goal' = ANY (odims) AND NOT goal_filter THEN
		RAISE EXCEPTION 'Metric `conversion_rate` can only be queried with event:goal filters or dimensions.'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Imported days are in the rollups only: the unfiltered queries of at
	-- most one dimension read them unless the query asks for them
	-- ("include": {"imports": true}); every other query reads the raw
	-- tables, which never hold imported data.
	has_imported := EXISTS (SELECT 1 FROM edgestat.imported_days i
							WHERE i.site_id = sid
							  AND i.day::timestamp AT TIME ZONE 'UTC' >= date_trunc('hour', since, 'UTC')
							  AND i.day::timestamp AT TIME ZONE 'UTC' < edgestat.hour_ceil(until));
	-- several dimensions, time and another, or visit metrics by a
	-- dimension: grouped from the raw tables (breakdown() has no visits);
	-- so are conversion rates by a dimension (a base per row) and goals
	-- with pageviews (goals() has visitors and events)
	grouped := cardinality(odims) > 1
			   OR (cardinality(odims) = 1
				   AND (tdim IS NOT NULL
						OR CASE WHEN odims[1] = 'event:goal'
								THEN NOT metrics <@ '{visitors,events,conversion_rate}'::text[]
								ELSE 'conversion_rate' = ANY (metrics)
									 OR NOT metrics <@ '{visitors,pageviews,events}'::text[] END));
	use_native := filtered OR NOT want_imports OR grouped;
	imports_used := has_imported AND NOT use_native;

	IF cardinality(odims) = 0 THEN
		-- aggregate, or one row per time bucket: summary() over each
		IF tdim IS NULL THEN
			b := since;
			bnext := until;
		ELSE
			step := CASE tdim WHEN 'time:hour' THEN interval '1 hour'
							  WHEN 'time:month' THEN interval '1 month'
							  ELSE interval '1 day' END;
			b := date_trunc(CASE tdim WHEN 'time:hour' THEN 'hour'
									  WHEN 'time:month' THEN 'month' ELSE 'day' END,
							since, 'UTC');
			IF extract(epoch FROM until - b) / extract(epoch FROM step) > 5000 THEN
				RAISE EXCEPTION 'Too many time buckets (at most 5000): pick a coarser time dimension'
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END IF;
		LOOP
			IF tdim IS NOT NULL THEN
				bnext := least((b AT TIME ZONE 'UTC' + step) AT TIME ZONE 'UTC', until);
			END IF;
			bl := greatest(b, since);
			bh := bnext;
			tf := NULL;
			IF use_native AND has_imported THEN
				nat := edgestat.stats_api_native(sid, bl, bh);
				bl := nat.lo;
				bh := nat.hi;
				tf := CASE WHEN nat.how LIKE 'raw%' THEN '[]'::jsonb END;	-- raw: through the filtered paths
				partial := partial OR nat.how = 'raw_partial';
			END IF;
			f2 := CASE WHEN filtered THEN filt ELSE tf END;
			IF f2 IS NULL THEN
				SELECT * INTO r FROM edgestat.summary(dom, bl, bh);
			ELSE
				SELECT * INTO r FROM edgestat.summary(dom, bl, bh, f2);
			END IF;
			row_metrics := '[]';
			FOREACH m IN ARRAY metrics LOOP
				row_metrics := row_metrics || CASE m
					WHEN 'visitors' THEN to_jsonb(r.visitors)
					WHEN 'visits' THEN to_jsonb(r.visits)
					WHEN 'pageviews' THEN to_jsonb(r.pageviews)
					WHEN 'views_per_visit' THEN coalesce(to_jsonb(r.views_per_visit), '0')
					WHEN 'bounce_rate' THEN coalesce(to_jsonb(r.bounce_rate), '0')
					WHEN 'visit_duration' THEN coalesce(to_jsonb(round(r.visit_duration)), '0')
					WHEN 'events' THEN to_jsonb((
						SELECT coalesce(sum(x.events), 0)
						FROM edgestat.breakdown(dom, 'event', bl, bh, 100000, coalesce(f2, '{}')) x
						WHERE x.value IS NULL OR NOT x.value = ANY (own_kinds)))
					WHEN 'conversion_rate' THEN to_jsonb((
						SELECT coalesce(round(100.0 * r.visitors / nullif(u.visitors, 0), 2), 0)
						FROM edgestat.summary(dom, bl, bh,
							CASE WHEN gfilt <> '[]' THEN gfilt ELSE coalesce(tf, '{}') END) u))
					END;
			END LOOP;
			rows := rows || jsonb_build_object(
				'dimensions', CASE WHEN tdim IS NULL THEN '[]'::jsonb
					ELSE jsonb_build_array(to_char(b AT TIME ZONE 'UTC',
						CASE tdim WHEN 'time:hour' THEN 'YYYY-MM-DD HH24:MI:SS' ELSE 'YYYY-MM-DD' END))
					END,
				'metrics', row_metrics);
			EXIT WHEN tdim IS NULL OR bnext >= until;
			b := bnext;
		END LOOP;
	ELSIF NOT grouped THEN
		-- one dimension: breakdown()
		bl := since;
		bh := until;
		tf := NULL;
		IF use_native AND has_imported THEN
			nat := edgestat.stats_api_native(sid, since, until);
			bl := nat.lo;
			bh := nat.hi;
			tf := CASE WHEN nat.how LIKE 'raw%' THEN '[]'::jsonb END;	-- raw: through the filtered paths
			partial := nat.how = 'raw_partial';
		END IF;
		f2 := CASE WHEN filtered THEN filt ELSE tf END;
		IF 'conversion_rate' = ANY (metrics) THEN
			SELECT x.visitors INTO total_visitors
			FROM edgestat.summary(dom, bl, bh, CASE WHEN gfilt <> '[]' THEN gfilt ELSE coalesce(tf, '{}') END) x;
		END IF;
		-- goals: goals(), which reads the rollups without filters; the
		-- goals reached, one row each (goals() has one per currency)
		FOR r IN EXECUTE
			CASE WHEN dim = 'event:goal'
				 THEN format('SELECT g.goal AS value, g.visitors, NULL::bigint AS pageviews, g.events'
							 ' FROM (SELECT DISTINCT ON (x.goal) x.goal, x.visitors, x.events'
							 ' FROM edgestat.goals($1, $3, $4, coalesce($6, %L)) x ORDER BY x.goal) g'
							 ' WHERE g.visitors > 0 ORDER BY g.%s DESC, g.goal COLLATE "C"',
							 '{}', CASE WHEN metrics[1] = 'events' THEN 'events' ELSE 'visitors' END)
				 WHEN f2 IS NOT NULL
				 THEN 'SELECT * FROM edgestat.breakdown($1, $2, $3, $4, $5, $6)'
				 ELSE 'SELECT * FROM edgestat.breakdown($1, $2, $3, $4, $5)' END
			USING dom, dims->>dim, bl, bh,
				  CASE WHEN (query #> '{include,total_rows}') = 'true' THEN 100000
					   ELSE least(off + lim + 10, 100000) END, f2
		LOOP
			row_metrics := '[]';
			FOREACH m IN ARRAY metrics LOOP
				row_metrics := row_metrics || CASE m
					WHEN 'visitors' THEN to_jsonb(r.visitors)
					WHEN 'pageviews' THEN to_jsonb(r.pageviews)
					WHEN 'events' THEN to_jsonb(r.events)
					WHEN 'conversion_rate' THEN
						to_jsonb(coalesce(round(100.0 * r.visitors / nullif(total_visitors, 0), 2), 0))
					END;
			END LOOP;
			rows := rows || jsonb_build_object(
				'dimensions', jsonb_build_array(coalesce(r.value,
					CASE WHEN dim IN ('visit:source', 'visit:referrer') THEN 'Direct / None'
						 ELSE '(none)' END)),
				'metrics', row_metrics);
		END LOOP;
	ELSE
		-- grouped from the raw tables
		rows := edgestat.stats_api_grouped(sid, since, until, dimensions, metrics, filt, dims, gfilt);
	END IF;

	-- order_by: [[metric or dimension, "asc"|"desc"], ...]
	IF query ? 'order_by' THEN
		IF jsonb_typeof(query->'order_by') <> 'array' THEN
			RAISE EXCEPTION 'Invalid order_by: must be a list'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR o IN SELECT * FROM jsonb_array_elements(query->'order_by') LOOP
			IF jsonb_typeof(o) <> 'array' OR NOT (o->>1 IN ('asc', 'desc')) THEN
				RAISE EXCEPTION 'Invalid order_by entry %', o::text
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			idx := array_position(metrics, o->>0);
			IF idx IS NOT NULL THEN
				ord := ord || format('(x->''metrics''->>%s)::numeric %s, ', idx - 1, o->>1);
			ELSIF array_position(dimensions, o->>0) IS NOT NULL THEN
				ord := ord || format('(x->''dimensions''->>%s) COLLATE "C" %s, ',
									 array_position(dimensions, o->>0) - 1, o->>1);
			ELSE
				RAISE EXCEPTION 'Invalid order_by entry %: not a queried metric or dimension', o::text
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END LOOP;
	END IF;
	EXECUTE format('SELECT coalesce(jsonb_agg(y.x ORDER BY y.n), ''[]'') FROM ('
				   'SELECT x, row_number() OVER (ORDER BY %s o) AS n'
				   ' FROM jsonb_array_elements($1) WITH ORDINALITY AS t(x, o)'
				   ' ORDER BY n OFFSET $2 LIMIT $3) y', ord)
		INTO res USING rows, off, lim;

	-- meta, as Plausible's: imports_included when include.imports is given
	IF query->'include' ? 'imports' THEN
		meta := jsonb_build_object('imports_included', imports_used);
		IF want_imports AND NOT imports_used THEN
			IF NOT has_imported THEN
				meta := meta || jsonb_build_object('imports_skip_reason',
					CASE WHEN EXISTS (SELECT 1 FROM edgestat.imported_days i WHERE i.site_id = sid)
						 THEN 'out_of_range' ELSE 'no_imported_data' END);
			ELSE
				meta := meta || jsonb_build_object('imports_skip_reason', 'unsupported_query',
					'imports_warning', 'Imported stats are not included: with filters, goals or more than one dimension the results come from the raw events, and imported days have none.');
			END IF;
		END IF;
	END IF;
	IF (query #> '{include,total_rows}') = 'true' THEN
		meta := meta || jsonb_build_object('total_rows', jsonb_array_length(rows));
	END IF;
	IF partial THEN
		meta := meta || jsonb_build_object('imports_warning',
			'Imported days lie between measured ones in this range, and some measured hours are older than the raw events kept (edgestat.retention): those hours are missing from the results.');
	END IF;

	RETURN jsonb_build_object(
		'results', res,
		'meta', meta,
		'query', jsonb_build_object(
			'site_id', dom,
			'metrics', to_jsonb(metrics),
			'date_range', jsonb_build_array(
				to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
				to_char((until - interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')),
			'filters', coalesce(query->'filters', '[]'),
			'dimensions', to_jsonb(dimensions),
			'order_by', coalesce(query->'order_by', 'null'),
			'include', coalesce(query->'include', '{}'),
			'pagination', jsonb_build_object('limit', lim, 'offset', off)));
END
$$;
COMMENT ON FUNCTION edgestat.stats_api(text, jsonb, date) IS
	'Plausible''s Stats API v2 (docs/compat.md) over the SQL reports; called by the HTTP worker for POST /api/v2/query';

REVOKE ALL ON FUNCTION edgestat.api_key(text), edgestat.api_key_revoke(text),
	edgestat.rotate_identity_salt(), edgestat.stats_api_range(jsonb, date),
	edgestat.stats_api_filter(jsonb, jsonb, jsonb), edgestat.stats_api_filters(jsonb, jsonb, jsonb),
	edgestat.stats_api_native(int, timestamptz, timestamptz),
	edgestat.stats_api_grouped(int, timestamptz, timestamptz, text[], text[], jsonb, jsonb, jsonb),
	edgestat.stats_api(text, jsonb, date)
	FROM PUBLIC;
