
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

-- Plausible's filters as edgestat's filters object: only "is" (possibly
-- under "and") maps onto it; anything else is refused with 400.
CREATE FUNCTION edgestat.stats_api_filters(filters jsonb, dims jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f jsonb;
	res jsonb := '{}';
	inner_res jsonb;
	dim text;
BEGIN
	IF filters IS NULL OR filters = 'null' THEN
		RETURN res;
	END IF;
	IF jsonb_typeof(filters) <> 'array' THEN
		RAISE EXCEPTION 'Invalid filters: must be a list'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR f IN SELECT * FROM jsonb_array_elements(filters) LOOP
		IF jsonb_typeof(f) <> 'array' OR jsonb_typeof(f->0) <> 'string' THEN
			RAISE EXCEPTION 'Invalid filter %', f::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF f->>0 = 'and' THEN
			inner_res := edgestat.stats_api_filters(f->1, dims);
			res := res || inner_res;
			CONTINUE;
		END IF;
		IF f->>0 IN ('is_not', 'contains', 'contains_not', 'matches', 'matches_not', 'or', 'not') THEN
			RAISE EXCEPTION 'Filter operator "%" is not supported by this server', f->>0
				USING ERRCODE = 'feature_not_supported',
					  HINT = 'Supported: "is", and "and" of them.';
		END IF;
		IF f->>0 <> 'is' OR jsonb_typeof(f->2) <> 'array' THEN
			RAISE EXCEPTION 'Invalid filter %', f::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		dim := dims->>(f->>1);
		IF dim IS NULL THEN
			RAISE EXCEPTION 'Invalid filter dimension "%"', f->>1
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		res := res || jsonb_build_object(dim, f->2);
	END LOOP;
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
	-- edgestat's own event kinds: not events in Plausible's sense
	own_kinds constant text[] := '{heartbeat,scroll,interaction,leave}';
	sid int;
	dom text;
	metrics text[];
	dimensions text[] := '{}';
	m text;
	r record;
	since timestamptz;
	until timestamptz;
	filt jsonb;
	filtered boolean;
	lim int := 10000;
	off int := 0;
	rows jsonb := '[]';
	row_metrics jsonb;
	dim text;
	tdim text;
	step interval;
	b timestamptz;
	bnext timestamptz;
	total_visitors numeric;
	ord text := '';
	o jsonb;
	idx int;
	res jsonb;
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
	   OR jsonb_array_length(query->'metrics') = 0 THEN
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

	-- dimensions: at most one time dimension or one other
	IF query ? 'dimensions' THEN
		IF jsonb_typeof(query->'dimensions') <> 'array' THEN
			RAISE EXCEPTION 'Invalid dimensions: must be a list'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		dimensions := ARRAY(SELECT jsonb_array_elements_text(query->'dimensions'));
	END IF;
	FOREACH dim IN ARRAY dimensions LOOP
		IF NOT (dims ? dim OR dim IN ('time', 'time:hour', 'time:day', 'time:month')) THEN
			RAISE EXCEPTION 'Invalid dimension "%"', dim
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END LOOP;
	IF cardinality(dimensions) > 1 THEN
		RAISE EXCEPTION 'Querying more than one dimension at a time is not supported by this server'
			USING ERRCODE = 'feature_not_supported';
	END IF;
	dim := dimensions[1];
	IF dim LIKE 'time%' THEN
		tdim := dim;
		dim := NULL;
	END IF;

	-- range, filters, pagination
	SELECT x.since, x.until INTO since, until
	FROM edgestat.stats_api_range(query->'date_range',
								  coalesce(today, (now() AT TIME ZONE 'UTC')::date)) x;
	filt := edgestat.stats_api_filters(query->'filters', dims);
	filtered := filt <> '{}';
	IF filtered AND to_regprocedure('edgestat.summary(text,timestamptz,timestamptz,jsonb)') IS NULL THEN
		RAISE EXCEPTION 'Filters are not supported by this server'
			USING ERRCODE = 'feature_not_supported';
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
	IF 'conversion_rate' = ANY (metrics) AND dim IS DISTINCT FROM 'event:goal'
	   AND NOT filt ? 'event' THEN
		RAISE EXCEPTION 'Metric `conversion_rate` can only be queried with event:goal filters or dimensions.'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	IF dim IS NULL THEN
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
			IF filtered THEN
				SELECT * INTO r FROM edgestat.summary(dom, greatest(b, since), bnext, filt);
			ELSE
				SELECT * INTO r FROM edgestat.summary(dom, greatest(b, since), bnext);
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
						FROM edgestat.breakdown(dom, 'event', greatest(b, since), bnext, 100000) x
						WHERE x.value IS NULL OR NOT x.value = ANY (own_kinds)))
					WHEN 'conversion_rate' THEN to_jsonb((
						SELECT coalesce(round(100.0 * r.visitors / nullif(u.visitors, 0), 2), 0)
						FROM edgestat.summary(dom, greatest(b, since), bnext) u))
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
	ELSE
		FOREACH m IN ARRAY metrics LOOP
			IF m NOT IN ('visitors', 'pageviews', 'events', 'conversion_rate')
			   OR (m = 'conversion_rate' AND dim <> 'event:goal') THEN
				RAISE EXCEPTION 'Metric `%` is not supported with dimension % by this server', m, dim
					USING ERRCODE = 'feature_not_supported',
						  HINT = 'With a dimension: visitors, pageviews, events; conversion_rate with event:goal.';
			END IF;
		END LOOP;
		IF 'conversion_rate' = ANY (metrics) THEN
			SELECT x.visitors INTO total_visitors FROM edgestat.summary(dom, since, until) x;
		END IF;
		FOR r IN EXECUTE
			CASE WHEN filtered
				 THEN 'SELECT * FROM edgestat.breakdown($1, $2, $3, $4, $5, $6)'
				 ELSE 'SELECT * FROM edgestat.breakdown($1, $2, $3, $4, $5)' END
			USING dom, dims->>dim, since, until, least(off + lim + 10, 100000), filt
		LOOP
			-- goals are custom events: not pageviews, not edgestat's own kinds
			CONTINUE WHEN dim = 'event:goal' AND (r.value = 'pageview' OR r.value = ANY (own_kinds));
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
			ELSIF o->>0 = coalesce(dimensions[1], '') THEN
				ord := ord || format('x->''dimensions''->>0 %s, ', o->>1);
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

	RETURN jsonb_build_object(
		'results', res,
		'meta', CASE WHEN EXISTS (
					SELECT 1 FROM edgestat.imported_days i
					WHERE i.site_id = sid AND i.day >= (since AT TIME ZONE 'UTC')::date
					  AND i.day < (until AT TIME ZONE 'UTC')::date)
				THEN '{"imports_included": true}'::jsonb ELSE '{}'::jsonb END,
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
	edgestat.stats_api_filters(jsonb, jsonb), edgestat.stats_api(text, jsonb, date)
	FROM PUBLIC;
