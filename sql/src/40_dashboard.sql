-- edgestat 1.0: the dashboard's side of the database.
--
-- The HTTP worker serves the static dashboard from
-- <sharedir>/extension/edgestat/dashboard/ and answers GET /api/<endpoint>
-- by calling edgestat.dashboard_api(token, endpoint, params).  A token is
-- bound to one site; only its sha256 is stored, so a leaked table does not
-- leak working tokens.  Every answer is computed for the token's site alone.

CREATE TABLE edgestat.dashboard_tokens (
	token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
	site_id int NOT NULL REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dashboard_tokens_site ON edgestat.dashboard_tokens (site_id);
COMMENT ON TABLE edgestat.dashboard_tokens IS
	'read-only dashboard tokens, one site each; only the sha256 of a token is kept';
REVOKE ALL ON edgestat.dashboard_tokens FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('edgestat.dashboard_tokens', '');

-- A new secret token for a site, shown once: 256 bits from two
-- gen_random_uuid() (pg_strong_random), hashed into 64 hex characters.
CREATE FUNCTION edgestat.dashboard_token(site text) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$
DECLARE
	sid int;
	tok text;
BEGIN
	sid := edgestat.report_site_id(site);	-- 42704 if unknown
	tok := encode(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
						 || uuid_send(gen_random_uuid())), 'hex');
	INSERT INTO edgestat.dashboard_tokens (token_sha256, site_id)
		VALUES (sha256(convert_to(tok, 'UTF8')), sid);
	RETURN tok;
END
$$;
COMMENT ON FUNCTION edgestat.dashboard_token(text) IS
	'creates and returns a new dashboard token for a site (only its hash is stored)';
REVOKE ALL ON FUNCTION edgestat.dashboard_token(text) FROM PUBLIC;

-- Revoke one token (returns whether it existed).
CREATE FUNCTION edgestat.dashboard_revoke(token text) RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$
	WITH d AS (
		DELETE FROM edgestat.dashboard_tokens
		WHERE token_sha256 = sha256(convert_to(token, 'UTF8'))
		RETURNING 1)
	SELECT count(*) > 0 FROM d
$$;
REVOKE ALL ON FUNCTION edgestat.dashboard_revoke(text) FROM PUBLIC;

-- The dashboard's JSON API.  params is a flat object of strings (the query
-- string less token).  Errors: 28000 bad token (HTTP 401), class 22 bad
-- parameter (HTTP 400).
CREATE FUNCTION edgestat.dashboard_api(token text, endpoint text, params jsonb DEFAULT '{}')
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
	res json;
BEGIN
	IF token IS NULL OR length(token) NOT BETWEEN 16 AND 256 THEN
		RAISE EXCEPTION 'edgestat: invalid or missing dashboard token'
			USING ERRCODE = 'invalid_authorization_specification';
	END IF;
	SELECT s.site_id, s.domain INTO sid, dom
	FROM edgestat.dashboard_tokens t JOIN edgestat.sites s USING (site_id)
	WHERE t.token_sha256 = sha256(convert_to(token, 'UTF8'));
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

	CASE endpoint
	WHEN 'site' THEN
		res := json_build_object('site_id', sid, 'domain', dom);

	WHEN 'summary' THEN
		SELECT row_to_json(x) INTO res
		FROM edgestat.summary(dom, t_since, t_until) x;
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
		SELECT coalesce(json_agg(x ORDER BY x.bucket), '[]'::json) INTO res
		FROM edgestat.timeseries(dom, t_since, t_until, bkt) x;

	WHEN 'breakdown' THEN
		dim := coalesce(nullif(p->>'dimension', ''), 'page');
		IF dim NOT IN ('page', 'entry_page', 'exit_page', 'referrer', 'utm_source',
					   'utm_medium', 'utm_campaign', 'country', 'region', 'city',
					   'browser', 'os', 'device', 'event') THEN
			RAISE EXCEPTION 'edgestat: unknown dimension "%"', dim
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		lim := least(greatest(coalesce(nullif(p->>'lim', '')::int, 10), 1), 100);
		SELECT coalesce(json_agg(x), '[]'::json) INTO res
		FROM edgestat.breakdown(dom, dim, t_since, t_until, lim) x;

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

	ELSE
		RAISE EXCEPTION 'edgestat: unknown dashboard endpoint "%"', endpoint
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Endpoints: site, summary, timeseries, breakdown, live, recent.';
	END CASE;
	RETURN res;
END
$$;
COMMENT ON FUNCTION edgestat.dashboard_api(text, text, jsonb) IS
	'JSON API of the dashboard, called by the HTTP worker for GET /api/<endpoint>';
