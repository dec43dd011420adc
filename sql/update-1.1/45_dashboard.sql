-- edgestat 1.1: the dashboard's API for the reports of docs/analytics.md.
-- Owns edgestat.dashboard_api() from 1.1 on: every 1.0 endpoint answers as
-- before (site, summary, timeseries, breakdown, live, recent), and
--   goals       edgestat.goals()                    (filters)
--   funnel      edgestat.funnel()       steps, within (filters)
--   retention   edgestat.retention()    unit        (filters)
--   journeys    edgestat.journeys()     steps, lim  (filters)
--   compare     edgestat.compare()      against     (filters)
--   alerts      edgestat.alerts() and the site's last 50 rows of alert_log
-- are added.  summary, timeseries and breakdown take filters too.
--
-- Parameters arrive as the query string, a flat object of strings (the
-- worker does not parse JSON in it), so the structured ones are JSON text:
-- filters={"country":"DE"} and steps=["Signup","Purchase"] for funnel.
-- Without filters (absent, empty or {}) summary, timeseries and breakdown
-- call the 1.0 functions exactly as 1.0 did, so their answers do not move.
-- Errors as in 1.0: 28000 bad token (HTTP 401); class 22 or 42 bad
-- parameter (HTTP 400), including the SQL functions' own (unknown goal
-- 42704, unknown filter dimension 22023, bad unit 22023).

CREATE OR REPLACE FUNCTION edgestat.dashboard_api(token text, endpoint text, params jsonb DEFAULT '{}')
RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$
DECLARE
	sid int;
	dom text;
	p jsonb := coalesce(params, '{}'::jsonb);
	t_until timestamptz;
	t_since timestamptz;
	bkt interval;
	lim int;
	dim text;
	ttl int;
	flt jsonb := '{}'::jsonb;
	steps jsonb;
	res json;
BEGIN
	IF token IS NULL OR length(token) NOT BETWEEN 16 AND 256 THEN
		RAISE EXCEPTION 'edgestat: invalid or missing dashboard token'
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	SELECT s.site_id, s.domain INTO sid, dom
	FROM edgestat.dashboard_tokens t JOIN edgestat.sites s USING (site_id)
	WHERE t.token_sha256 = sha256(convert_to(token, 'UTF8')) AND t.expires_at > now();
	IF sid IS NULL THEN
		RAISE EXCEPTION 'edgestat: invalid or missing dashboard token'
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'edgestat: params must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Time range: default the last 24 hours.  Bad values raise class 22.
	t_until := coalesce(nullif(p->>'until', '')::timestamptz, now());
	t_since := coalesce(nullif(p->>'since', '')::timestamptz, t_until - interval '24 hours');
	IF t_since > t_until THEN
		RAISE EXCEPTION 'edgestat: since is after until'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- filters: JSON text in the query string, or an object when called from
	-- SQL.  Its keys and values are checked by the report functions.
	IF jsonb_typeof(p->'filters') = 'object' THEN
		flt := p->'filters';
	ELSIF nullif(p->>'filters', '') IS NOT NULL THEN
		flt := (p->>'filters')::jsonb;		-- 22P02 when not JSON
		IF jsonb_typeof(flt) IS DISTINCT FROM 'object' THEN
			RAISE EXCEPTION 'edgestat: filters must be a JSON object'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'For example filters={"country":"DE"}.';
		END IF;
	END IF;

	CASE endpoint
	WHEN 'site' THEN
		res := json_build_object('site_id', sid, 'domain', dom);

	WHEN 'summary' THEN
		IF flt = '{}'::jsonb THEN
			SELECT row_to_json(x) INTO res
			FROM edgestat.summary(dom, t_since, t_until) x;
		ELSE
			SELECT row_to_json(x) INTO res
			FROM edgestat.summary(dom, t_since, t_until, flt) x;
		END IF;
		res := coalesce(res, '{}'::json);

	WHEN 'timeseries' THEN
		bkt := coalesce(nullif(p->>'bucket', '')::interval,
						CASE WHEN t_until - t_since > interval '3 days'
							 THEN interval '1 day' ELSE interval '1 hour' END);
		IF bkt < interval '1 minute' THEN
			RAISE EXCEPTION 'edgestat: bucket must be at least 1 minute'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF extract(epoch FROM t_until - t_since) / extract(epoch FROM bkt) > 5000 THEN
			RAISE EXCEPTION 'edgestat: too many buckets (at most 5000)'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF flt = '{}'::jsonb THEN
			SELECT coalesce(json_agg(x ORDER BY x.bucket), '[]'::json) INTO res
			FROM edgestat.timeseries(dom, t_since, t_until, bkt) x;
		ELSE
			SELECT coalesce(json_agg(x ORDER BY x.bucket), '[]'::json) INTO res
			FROM edgestat.timeseries(dom, t_since, t_until, bkt, flt) x;
		END IF;

	WHEN 'breakdown' THEN
		dim := coalesce(nullif(p->>'dimension', ''), 'page');
		IF dim NOT IN ('page', 'entry_page', 'exit_page', 'referrer', 'utm_source',
					   'utm_medium', 'utm_campaign', 'country', 'region', 'city',
					   'browser', 'os', 'device', 'event') THEN
			RAISE EXCEPTION 'edgestat: unknown dimension "%"', dim
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		lim := least(greatest(coalesce(nullif(p->>'lim', '')::int, 10), 1), 100);
		IF flt = '{}'::jsonb THEN
			SELECT coalesce(json_agg(x), '[]'::json) INTO res
			FROM edgestat.breakdown(dom, dim, t_since, t_until, lim) x;
		ELSE
			SELECT coalesce(json_agg(x), '[]'::json) INTO res
			FROM edgestat.breakdown(dom, dim, t_since, t_until, lim, flt) x;
		END IF;

	WHEN 'live' THEN
		-- SHOW gives the GUC with its unit ("5min"); as an interval it reads back.
		ttl := coalesce(extract(epoch FROM nullif(current_setting('edgestat.live_ttl', true), '')::interval)::int, 300);
		SELECT json_build_object(
			'live', edgestat.live_visitors(dom),
			'ttl', ttl,
			'visitors', coalesce(json_agg(json_build_object(
				'v', l.visitor_id, 'lat', l.latitude, 'lon', l.longitude,
				'score', l.score, 'country', l.country, 'city', l.city,
				'last_seen', l.last_seen) ORDER BY l.last_seen DESC), '[]'::json))
		INTO res
		FROM (SELECT vi.* FROM edgestat.live_visitor_ids(dom, 2000) lv
			  JOIN edgestat.visitors vi
				ON vi.site_id = sid AND vi.visitor_id = lv.visitor_id
			  WHERE vi.latitude IS NOT NULL AND vi.longitude IS NOT NULL
			  ORDER BY lv.last_seen DESC
			  LIMIT 500) l;

	WHEN 'recent' THEN
		SELECT coalesce(json_agg(json_build_object(
			'ts', e.ts, 'n', e.name, 'path', e.path, 'v', e.visitor_id,
			'country', e.country, 'city', e.city, 'referrer', e.referrer_host,
			'device', e.device, 'browser', e.browser, 'score', vi.score)
			ORDER BY e.ts DESC), '[]'::json)
		INTO res
		FROM (SELECT * FROM edgestat.events ev
			  WHERE ev.site_id = sid
			  ORDER BY ev.ts DESC
			  LIMIT 50) e
		LEFT JOIN edgestat.visitors vi
			ON vi.site_id = sid AND vi.visitor_id = e.visitor_id;

	WHEN 'goals' THEN
		-- One row per goal and revenue currency, in goals()' order.
		SELECT coalesce(json_agg(x), '[]'::json) INTO res
		FROM edgestat.goals(dom, t_since, t_until, flt) x;

	WHEN 'funnel' THEN
		IF nullif(p->>'steps', '') IS NULL THEN
			RAISE EXCEPTION 'edgestat: funnel needs steps'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'steps is a JSON array of goal names, e.g. steps=["Signup","Purchase"].';
		END IF;
		steps := CASE WHEN jsonb_typeof(p->'steps') = 'array' THEN p->'steps'
					  ELSE (p->>'steps')::jsonb END;
		IF jsonb_typeof(steps) IS DISTINCT FROM 'array'
		   OR EXISTS (SELECT 1 FROM jsonb_array_elements(steps) s
					  WHERE jsonb_typeof(s) <> 'string') THEN
			RAISE EXCEPTION 'edgestat: steps must be a JSON array of goal names'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT coalesce(json_agg(x ORDER BY x.step), '[]'::json) INTO res
		FROM edgestat.funnel(dom, ARRAY(SELECT jsonb_array_elements_text(steps)),
							 t_since, t_until,
							 coalesce(nullif(p->>'within', '')::interval, interval '1 day'),
							 flt) x;

	WHEN 'retention' THEN
		SELECT coalesce(json_agg(x ORDER BY x.cohort, x.period), '[]'::json) INTO res
		FROM edgestat.retention(dom, t_since, t_until,
								coalesce(nullif(p->>'unit', ''), 'week'), flt) x;

	WHEN 'journeys' THEN
		SELECT coalesce(json_agg(x), '[]'::json) INTO res
		FROM edgestat.journeys(dom, t_since, t_until,
							   coalesce(nullif(p->>'steps', '')::int, 3),
							   least(greatest(coalesce(nullif(p->>'lim', '')::int, 20), 1), 100),
							   flt) x;

	WHEN 'compare' THEN
		SELECT coalesce(json_agg(x), '[]'::json) INTO res
		FROM edgestat.compare(dom, t_since, t_until,
							  coalesce(nullif(p->>'against', ''), 'previous'), flt) x;

	WHEN 'alerts' THEN
		-- The rules, and the last 50 times any of them fired.
		SELECT json_build_object(
			'alerts', (SELECT coalesce(json_agg(a), '[]'::json) FROM edgestat.alerts(dom) a),
			'log', (SELECT coalesce(json_agg(json_build_object(
						'alert', l.alert_id, 'metric', l.metric, 'value', l.value,
						'above', l.above, 'fired_at', l.fired_at)
						ORDER BY l.fired_at DESC, l.alert_id), '[]'::json)
					FROM (SELECT * FROM edgestat.alert_log al
						  WHERE al.site_id = sid
						  ORDER BY al.fired_at DESC, al.alert_id
						  LIMIT 50) l))
		INTO res;

	ELSE
		RAISE EXCEPTION 'edgestat: unknown dashboard endpoint "%"', endpoint
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Endpoints: site, summary, timeseries, breakdown, live, recent, goals, funnel, retention, journeys, compare, alerts.';
	END CASE;
	RETURN res;
END
$$;
COMMENT ON FUNCTION edgestat.dashboard_api(text, text, jsonb) IS
	'JSON API of the dashboard, called by the HTTP worker for GET /api/<endpoint>';
-- Its privileges are 1.0's, unchanged by CREATE OR REPLACE: a token is the
-- authorization, checked above.
