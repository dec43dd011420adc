--
-- The value score: computed for a new visitor, recomputed on every fifth
-- heartbeat and when scroll or interaction state grows, and not on other
-- events; weights come from edgestat.score_weights.
--
CREATE FUNCTION recomputes() RETURNS bigint LANGUAGE sql AS
$$ SELECT value FROM edgestat.stats() WHERE name = 'score_recomputes' $$;
CREATE FUNCTION step(extra jsonb) RETURNS TABLE(accepted int, recomputed bigint, score smallint)
LANGUAGE plpgsql AS $$
DECLARE
	before bigint := recomputes();
BEGIN
	accepted := edgestat.ingest(beacon(jsonb_build_object(
		'v', 'eeeeeeee-0000-4000-8000-00000000000e',
		's', 'eeeeeeee-0000-4000-8000-0000000000e1') || extra));
	recomputed := recomputes() - before;
	SELECT v.score INTO score FROM edgestat.visitors v
	WHERE v.visitor_id = 'eeeeeeee-0000-4000-8000-00000000000e';
	RETURN NEXT;
END
$$;

SELECT feature, weight FROM edgestat.score_weights ORDER BY feature;

-- a first pageview has a score at once
SELECT * FROM step('{"q": 1}');
-- heartbeats 1-4: no recompute; the fifth: one
SELECT * FROM step('{"n": "heartbeat", "q": 2, "et": 15000}');
SELECT * FROM step('{"n": "heartbeat", "q": 3, "et": 30000}');
SELECT * FROM step('{"n": "heartbeat", "q": 4, "et": 45000}');
SELECT * FROM step('{"n": "heartbeat", "q": 5, "et": 60000}');
SELECT * FROM step('{"n": "heartbeat", "q": 6, "et": 75000}');
-- scroll grows: recompute; the same depth again: none
SELECT * FROM step('{"n": "scroll", "q": 7, "sd": 50}');
SELECT * FROM step('{"n": "scroll", "q": 8, "sd": 50}');
-- interactions grow: recompute
SELECT * FROM step('{"n": "interaction", "q": 9, "ic": 2}');
-- a pageview alone: none
SELECT * FROM step('{"q": 10, "u": "https://example.com/next"}');

-- the stored score is the model's value for the state at the last recompute
SELECT pageviews, heartbeats, max_scroll, interactions, engaged_ms, sessions, goals, score,
	   edgestat.value_score(pageviews - 1, heartbeats, max_scroll, interactions,
							engaged_ms, sessions, goals) AS model_at_last_recompute
FROM edgestat.visitors WHERE visitor_id = 'eeeeeeee-0000-4000-8000-00000000000e';

-- reference points of the default model (README): a bounce, a reader, a fan
SELECT edgestat.value_score(1, 0, 0, 0, 0, 1, 0) AS bounce,
	   edgestat.value_score(2, 12, 100, 3, 180000, 1, 0) AS reader,
	   edgestat.value_score(8, 40, 100, 20, 900000, 4, 2) AS fan;

-- new weights apply from the next recompute on
UPDATE edgestat.score_weights SET weight = 5 WHERE feature = 'bias';
SELECT * FROM step('{"n": "scroll", "q": 11, "sd": 90}');
UPDATE edgestat.score_weights SET weight = -3 WHERE feature = 'bias';

SELECT edgestat.value_score(NULL, 0, 0, 0, 0, 1, 0);
