-- edgestat 1.1: traffic alerts.  Owns edgestat.alert_rules,
-- edgestat.alert_log, edgestat.add_alert(), edgestat.drop_alert(),
-- edgestat.alerts() (the list, for the dashboard) and
-- edgestat.check_alerts(), which the maintenance worker calls periodically
-- (off the ingest path: an alert costs a count over its window).
--
-- An alert fires when its metric over the window [at - over, at) exceeds
-- above: one NOTIFY on channel edgestat_alerts, payload
-- {"site", "alert", "metric", "value", "above"}, and one row in
-- edgestat.alert_log; then not again before at + over (at most once per
-- window per alert).  Metrics: visitors (distinct, exact), pageviews, or a
-- goal's name (times the goal was reached).  NOTIFY is delivered when the
-- calling transaction commits.

CREATE TABLE edgestat.alert_rules (
	alert_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	site_id int NOT NULL REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	metric text NOT NULL,
	above numeric NOT NULL,
	over interval NOT NULL CHECK (over > interval '0' AND over <= interval '31 days'),
	last_fired timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE edgestat.alert_rules IS
	'alerts: metric over the last "over" above "above"; last_fired keeps them to once per window';

CREATE TABLE edgestat.alert_log (
	alert_id int NOT NULL REFERENCES edgestat.alert_rules (alert_id) ON DELETE CASCADE,
	site_id int NOT NULL,
	metric text NOT NULL,
	value numeric NOT NULL,
	above numeric NOT NULL,
	fired_at timestamptz NOT NULL,
	PRIMARY KEY (alert_id, fired_at)
);
COMMENT ON TABLE edgestat.alert_log IS 'every alert fired, with the value that crossed the threshold';
REVOKE ALL ON edgestat.alert_rules, edgestat.alert_log FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('edgestat.alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.alert_log', '');

-- Unknown site: 42704; metric neither visitors, pageviews nor a goal of the
-- site: 42704; above NULL, over not in (0, 31 days]: 22023.
CREATE FUNCTION edgestat.add_alert(site text, metric text, above numeric, over interval)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	sid int;
	id int;
BEGIN
	IF site IS NULL THEN
		RAISE EXCEPTION 'site must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	sid := edgestat.report_site_id(site);
	IF metric IS NULL OR (metric NOT IN ('visitors', 'pageviews') AND NOT EXISTS (
			SELECT 1 FROM edgestat.goal_defs d WHERE d.site_id = sid AND d.name = metric)) THEN
		RAISE EXCEPTION 'unknown alert metric "%"', metric
			USING ERRCODE = 'undefined_object',
				  DETAIL = 'A metric is visitors, pageviews or the name of one of the site''s goals.';
	END IF;
	IF above IS NULL THEN
		RAISE EXCEPTION 'above must not be null' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF over IS NULL OR over <= interval '0' OR over > interval '31 days' THEN
		RAISE EXCEPTION 'invalid alert window "%"', over
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'over is a positive interval of at most 31 days, such as ''1 hour''.';
	END IF;
	INSERT INTO edgestat.alert_rules (site_id, metric, above, over)
	VALUES (sid, metric, above, over)
	RETURNING alert_id INTO id;
	RETURN id;
END
$$;
COMMENT ON FUNCTION edgestat.add_alert(text, text, numeric, interval) IS
	'alert when metric (visitors, pageviews or a goal) over the last "over" exceeds "above"; returns its id';

CREATE FUNCTION edgestat.drop_alert(site text, alert int)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
	WITH d AS (
		DELETE FROM edgestat.alert_rules a
		WHERE a.alert_id = alert AND a.site_id = edgestat.report_site_id(site)
		RETURNING 1)
	SELECT count(*) > 0 FROM d
$$;

-- The site's alerts, with when each last fired and how often.
CREATE FUNCTION edgestat.alerts(site text)
RETURNS TABLE (alert int, metric text, above numeric, over interval,
			   last_fired timestamptz, fired bigint)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
	SELECT a.alert_id, a.metric, a.above, a.over, a.last_fired,
		   (SELECT count(*) FROM edgestat.alert_log l WHERE l.alert_id = a.alert_id)
	FROM edgestat.alert_rules a
	WHERE a.site_id = edgestat.report_site_id(site)
	ORDER BY a.alert_id
$$;

-- A metric's value for one site over [lo, hi).
CREATE FUNCTION edgestat.alert_value(sid int, metric text, lo timestamptz, hi timestamptz)
RETURNS numeric
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	d edgestat.goal_defs;
	v numeric;
BEGIN
	IF metric = 'visitors' THEN
		SELECT count(DISTINCT e.visitor_id) INTO v FROM edgestat.events e
		WHERE e.site_id = sid AND e.ts >= lo AND e.ts < hi;
	ELSIF metric = 'pageviews' THEN
		SELECT count(*) INTO v FROM edgestat.events e
		WHERE e.site_id = sid AND e.name = 'pageview' AND e.ts >= lo AND e.ts < hi;
	ELSE
		SELECT * INTO d FROM edgestat.goal_defs g WHERE g.site_id = sid AND g.name = metric;
		IF NOT FOUND THEN
			RETURN 0;			-- the goal was dropped since
		END IF;
		SELECT count(*) INTO v FROM edgestat.events e
		WHERE e.site_id = sid AND e.ts >= lo AND e.ts < hi
		  AND CASE WHEN d.event IS NOT NULL THEN e.name = d.event
				   ELSE e.name = 'pageview' AND e.path LIKE d.page_like END;
	END IF;
	RETURN v;
END
$$;

-- Evaluates every alert not fired within its window; returns how many
-- fired.  Alerts another caller is evaluating are skipped (SKIP LOCKED).
CREATE FUNCTION edgestat.check_alerts(at timestamptz DEFAULT now())
RETURNS int
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a record;
	v numeric;
	fired int := 0;
BEGIN
	FOR a IN
		SELECT r.alert_id, r.site_id, r.metric, r.above, r.over, s.domain
		FROM edgestat.alert_rules r JOIN edgestat.sites s USING (site_id)
		WHERE r.last_fired IS NULL OR r.last_fired <= at - r.over
		ORDER BY r.alert_id
		FOR UPDATE OF r SKIP LOCKED
	LOOP
		v := edgestat.alert_value(a.site_id, a.metric, at - a.over, at);
		CONTINUE WHEN NOT v > a.above;
		PERFORM pg_notify('edgestat_alerts', json_build_object(
			'site', a.domain, 'alert', a.alert_id, 'metric', a.metric,
			'value', v, 'above', a.above)::text);
		INSERT INTO edgestat.alert_log (alert_id, site_id, metric, value, above, fired_at)
		VALUES (a.alert_id, a.site_id, a.metric, v, a.above, at);
		UPDATE edgestat.alert_rules SET last_fired = at WHERE alert_id = a.alert_id;
		fired := fired + 1;
	END LOOP;
	RETURN fired;
END
$$;
COMMENT ON FUNCTION edgestat.check_alerts(timestamptz) IS
	'evaluates every alert at "at" (default now()): NOTIFY edgestat_alerts and a row in alert_log for each that fires; returns how many fired';

REVOKE ALL ON FUNCTION
	edgestat.add_alert(text, text, numeric, interval),
	edgestat.drop_alert(text, int),
	edgestat.alerts(text),
	edgestat.alert_value(int, text, timestamptz, timestamptz),
	edgestat.check_alerts(timestamptz)
FROM PUBLIC;
