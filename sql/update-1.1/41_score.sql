-- edgestat 1.1: a value score that learns from the site's own conversions.
-- Owns edgestat.site_score_weights, edgestat.site_score_models,
-- edgestat.train_score(), edgestat.reset_score() and the site-aware
-- edgestat.value_score(site_id, ...) (C: src/scoring.c).
--
-- The model is 1.0's (edgestat.score_weights; src/core/score.c): score =
-- 100 / (1 + exp(-(bias + sum weight * feature))) over the same features,
-- transformed the same way as score.c does:
--   pageviews     ln(1 + pageviews)
--   heartbeats    ln(1 + heartbeats)
--   scroll        least(max_scroll, 100) / 100
--   interactions  ln(1 + interactions)
--   engaged       ln(1 + engaged_ms / 60000)
--   sessions      ln(sessions) when above 1, else 0
--   goals         ln(1 + goals)   (custom events; in training, less the
--                                  target goal's own events, which would
--                                  otherwise give the label away: the
--                                  weight learnt is that of other goals)
-- train_score fits bias and weights by L2-regularised logistic regression
-- (penalty lambda/2 * |w|^2 on the weights, not the bias, lambda = 1) with
-- Newton's method (at most 25 steps; each is one aggregate scan of the
-- training set, 8 gradients and 36 Hessian entries, and an 8x8 solve), on
-- the site's visitors (at most 200000, the same ones every time: lowest
-- hash of visitor_id), the label being whether the visitor ever reached
-- the goal.  One visitor in five (last byte of the visitor_id modulo 5 = 0)
-- is held out: the AUC reported is theirs.

CREATE TABLE edgestat.site_score_weights (
	site_id int NOT NULL REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	feature text NOT NULL
		CHECK (feature IN ('bias', 'pageviews', 'heartbeats', 'scroll',
						   'interactions', 'engaged', 'sessions', 'goals')),
	weight double precision NOT NULL CHECK (weight = weight AND abs(weight) < 1e6),
	PRIMARY KEY (site_id, feature)
);
COMMENT ON TABLE edgestat.site_score_weights IS
	'per-site value score weights fitted by edgestat.train_score(); sites without rows use edgestat.score_weights';

CREATE TABLE edgestat.site_score_models (
	site_id int PRIMARY KEY REFERENCES edgestat.sites (site_id) ON DELETE CASCADE,
	goal text NOT NULL,
	auc double precision,
	train_visitors bigint NOT NULL,
	heldout_visitors bigint NOT NULL,
	iterations int NOT NULL,
	trained_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE edgestat.site_score_models IS
	'how each site''s fitted score weights were trained: goal, held-out AUC, sizes';
REVOKE ALL ON edgestat.site_score_weights, edgestat.site_score_models FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('edgestat.site_score_weights', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.site_score_models', '');

-- Every process drops its cached site models when the weights commit.
CREATE TRIGGER site_score_weights_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON edgestat.site_score_weights
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.invalidate_caches();

CREATE FUNCTION edgestat.value_score(site_id int, pageviews bigint, heartbeats bigint,
									 max_scroll bigint, interactions bigint,
									 engaged_ms bigint, sessions bigint, goals bigint)
RETURNS smallint
AS 'MODULE_PATHNAME', 'edgestat_value_score_site'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION edgestat.value_score(int, bigint, bigint, bigint, bigint, bigint, bigint, bigint) IS
	'the value score (0-100) of the given activity under the site''s fitted weights, else edgestat.score_weights';

-- x = ARRAY[1, features...] of a visitors row v, as score.c computes them,
-- not counting own_goals of its custom goal events.
CREATE FUNCTION edgestat.score_features(v edgestat.visitors, own_goals bigint DEFAULT 0)
RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN ARRAY[1.0,
	ln(1 + greatest(v.pageviews, 0)),
	ln(1 + greatest(v.heartbeats, 0)),
	least(greatest(v.max_scroll, 0), 100) / 100.0,
	ln(1 + greatest(v.interactions, 0)),
	ln(1 + greatest(v.engaged_ms, 0) / 60000.0),
	CASE WHEN v.sessions > 1 THEN ln(v.sessions) ELSE 0 END,
	ln(1 + greatest(v.goals - own_goals, 0))]::double precision[];

CREATE FUNCTION edgestat.train_score(site text, goal text)
RETURNS TABLE (feature text, weight double precision, auc double precision)
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
	names constant text[] := '{bias,pageviews,heartbeats,scroll,interactions,engaged,sessions,goals}';
	lambda constant float8 := 1.0;
	k constant int := 8;
	sid int;
	d edgestat.goal_defs;
	w float8[] := array_fill(0.0::float8, ARRAY[8]);
	z text;
	q text;
	agg text[] := '{}';
	res float8[];
	g float8[];
	h float8[];
	a float8[];
	delta float8[];
	piv int;
	t float8;
	it int := 0;
	n_train bigint;
	n_pos bigint;
	n_held bigint;
	the_auc float8;
BEGIN
	sid := edgestat.report_site_id(site);
	SELECT * INTO d FROM edgestat.goal_defs gd WHERE gd.site_id = sid AND gd.name = goal;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'goal "%" does not exist for site "%"', goal, site
			USING ERRCODE = 'undefined_object',
				  HINT = 'Define it with edgestat.add_goal().';
	END IF;

	IF to_regclass('pg_temp.es_score_train') IS NOT NULL THEN
		DROP TABLE pg_temp.es_score_train;	-- an earlier call that failed
	END IF;
	CREATE TEMP TABLE es_score_train ON COMMIT DROP AS
	SELECT edgestat.score_features(v, CASE WHEN d.event IS NOT NULL
											THEN coalesce(r.n, 0) ELSE 0 END) AS x,
		   (r.visitor_id IS NOT NULL)::int::float8 AS y,
		   get_byte(uuid_send(v.visitor_id), 15) % 5 = 0 AS heldout
	FROM (SELECT * FROM edgestat.visitors v0 WHERE v0.site_id = sid
		  ORDER BY hashtext(v0.visitor_id::text), v0.visitor_id LIMIT 200000) v
	LEFT JOIN (
		SELECT e.visitor_id, count(*) AS n FROM edgestat.events e
		WHERE e.site_id = sid
		  AND CASE WHEN d.event IS NOT NULL THEN e.name = d.event
				   ELSE e.name = 'pageview' AND e.path LIKE d.page_like END
		GROUP BY 1
	) r ON r.visitor_id = v.visitor_id;

	SELECT count(*) FILTER (WHERE NOT heldout), count(*) FILTER (WHERE NOT heldout AND y = 1),
		   count(*) FILTER (WHERE heldout)
	INTO n_train, n_pos, n_held FROM es_score_train;
	IF n_pos = 0 OR n_pos = n_train THEN
		RAISE EXCEPTION 'cannot train the score of site "%" on goal "%": % of its % training visitors reached it',
			site, goal, n_pos, n_train
			USING ERRCODE = 'data_exception',
				  DETAIL = 'Training needs visitors who reached the goal and visitors who did not.';
	END IF;

	-- One scan per Newton step: gradient and Hessian of the penalised
	-- log-loss at w ($1).  z is clamped so that exp() cannot overflow.
	z := 'least(greatest(' || (SELECT string_agg(format('$1[%s] * x[%s]', i, i), ' + ')
							  FROM generate_series(1, k) i) || ', -35), 35)';
	FOR i IN 1 .. k LOOP
		agg := agg || format('sum((p - y) * x[%s])', i);
	END LOOP;
	FOR i IN 1 .. k LOOP
		FOR j IN 1 .. k LOOP
			agg := agg || format('sum(p * (1 - p) * x[%s] * x[%s])', i, j);
		END LOOP;
	END LOOP;
	q := format('SELECT ARRAY[%s]::float8[] FROM (SELECT x, y, 1 / (1 + exp(-(%s))) AS p'
				' FROM pg_temp.es_score_train WHERE NOT heldout) t',
				array_to_string(agg, ', '), z);

	LOOP
		it := it + 1;
		EXECUTE q INTO res USING w;
		g := res[1:k];
		h := res[k + 1:k + k * k];
		FOR i IN 2 .. k LOOP
			g[i] := g[i] + lambda * w[i];
			h[(i - 1) * k + i] := h[(i - 1) * k + i] + lambda;
		END LOOP;
		h[1] := h[1] + 1e-9;
		-- solve h * delta = g: Gauss-Jordan with partial pivoting on the
		-- augmented k x (k+1) matrix a (row-major)
		a := '{}';
		FOR i IN 1 .. k LOOP
			a := a || h[(i - 1) * k + 1:(i - 1) * k + k] || g[i];
		END LOOP;
		FOR c IN 1 .. k LOOP
			piv := c;
			FOR r IN c + 1 .. k LOOP
				IF abs(a[(r - 1) * (k + 1) + c]) > abs(a[(piv - 1) * (k + 1) + c]) THEN
					piv := r;
				END IF;
			END LOOP;
			IF piv <> c THEN
				FOR j IN 1 .. k + 1 LOOP
					t := a[(c - 1) * (k + 1) + j];
					a[(c - 1) * (k + 1) + j] := a[(piv - 1) * (k + 1) + j];
					a[(piv - 1) * (k + 1) + j] := t;
				END LOOP;
			END IF;
			t := a[(c - 1) * (k + 1) + c];
			FOR j IN 1 .. k + 1 LOOP
				a[(c - 1) * (k + 1) + j] := a[(c - 1) * (k + 1) + j] / t;
			END LOOP;
			FOR r IN 1 .. k LOOP
				CONTINUE WHEN r = c;
				t := a[(r - 1) * (k + 1) + c];
				CONTINUE WHEN t = 0;
				FOR j IN 1 .. k + 1 LOOP
					a[(r - 1) * (k + 1) + j] := a[(r - 1) * (k + 1) + j]
						- t * a[(c - 1) * (k + 1) + j];
				END LOOP;
			END LOOP;
		END LOOP;
		delta := '{}';
		FOR i IN 1 .. k LOOP
			delta := delta || a[(i - 1) * (k + 1) + k + 1];
			w[i] := w[i] - a[(i - 1) * (k + 1) + k + 1];
		END LOOP;
		EXIT WHEN it >= 25 OR (SELECT max(abs(x)) FROM unnest(delta) x) < 1e-9;
	END LOOP;

	-- AUC of the held-out visitors (Mann-Whitney, ties at their mean rank)
	EXECUTE format($q$
		WITH s AS (
			SELECT y, %s AS z FROM pg_temp.es_score_train WHERE heldout
		), r AS (
			SELECT y, rank() OVER (ORDER BY z) + (count(*) OVER (PARTITION BY z) - 1) / 2.0 AS rk
			FROM s
		)
		SELECT (sum(rk) FILTER (WHERE y = 1) - count(*) FILTER (WHERE y = 1)
				* (count(*) FILTER (WHERE y = 1) + 1) / 2.0)
			   / nullif(count(*) FILTER (WHERE y = 1) * count(*) FILTER (WHERE y = 0), 0)
		FROM r$q$, z)
	INTO the_auc USING w;
	the_auc := round(the_auc::numeric, 4)::float8;

	DELETE FROM edgestat.site_score_weights sw WHERE sw.site_id = sid;
	INSERT INTO edgestat.site_score_weights (site_id, feature, weight)
	SELECT sid, names[i], round(w[i]::numeric, 6)::float8 FROM generate_series(1, k) i;
	INSERT INTO edgestat.site_score_models AS m
		(site_id, goal, auc, train_visitors, heldout_visitors, iterations)
	VALUES (sid, d.name, the_auc, n_train, n_held, it)
	ON CONFLICT (site_id) DO UPDATE SET goal = excluded.goal, auc = excluded.auc,
		train_visitors = excluded.train_visitors,
		heldout_visitors = excluded.heldout_visitors,
		iterations = excluded.iterations, trained_at = now();
	DROP TABLE pg_temp.es_score_train;

	RETURN QUERY
	SELECT names[i], round(w[i]::numeric, 6)::float8, the_auc
	FROM generate_series(1, k) i ORDER BY i;
END
$$;
COMMENT ON FUNCTION edgestat.train_score(text, text) IS
	'fits the site''s value score weights to predict reaching a goal (L2 logistic regression); returns them and the held-out AUC';

CREATE FUNCTION edgestat.reset_score(site text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	sid int := edgestat.report_site_id(site);
	had boolean;
BEGIN
	DELETE FROM edgestat.site_score_models m WHERE m.site_id = sid;
	had := FOUND;
	DELETE FROM edgestat.site_score_weights w WHERE w.site_id = sid;
	RETURN had OR FOUND;
END
$$;
COMMENT ON FUNCTION edgestat.reset_score(text) IS
	'drops the site''s fitted score weights: its visitors are scored with edgestat.score_weights again; returns whether there were any';

REVOKE ALL ON FUNCTION
	edgestat.value_score(int, bigint, bigint, bigint, bigint, bigint, bigint, bigint),
	edgestat.score_features(edgestat.visitors, bigint),
	edgestat.train_score(text, text),
	edgestat.reset_score(text)
FROM PUBLIC;
