/*-------------------------------------------------------------------------
 *
 * statement.c
 *	  The text of the batch statement (see statement.h and writer.c): the
 *	  raw events inserted, the sessions and visitors merged (maxima and
 *	  last-seen times only grow, counters add), through data-modifying
 *	  CTEs over arrays unnested in the select list.  Every name is
 *	  schema-qualified: the statement runs as a superuser.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "statement.h"

const Oid	es_batch_param_types[ES_BATCH_PARAMS] = {
	TIMESTAMPTZARRAYOID, INT4ARRAYOID, UUIDARRAYOID, UUIDARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, INT4ARRAYOID, INT2ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID,
	FLOAT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,

	INT4ARRAYOID, UUIDARRAYOID, UUIDARRAYOID, TIMESTAMPTZARRAYOID,
	TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
	INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT2ARRAYOID, INT8ARRAYOID,
	INT8ARRAYOID,

	INT4ARRAYOID, UUIDARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID,
	INT8ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT2ARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
	INT2ARRAYOID,
};

const char *const es_batch_sql_head =
"WITH ev AS ("
" INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path,"
"  referrer_host, utm_source, utm_medium, utm_campaign, seq, scroll, engaged_ms,"
"  interactions, viewport, country, region, city, latitude, longitude, browser,"
"  os, device, props)"
" SELECT pg_catalog.unnest($1), pg_catalog.unnest($2),"
"  pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
"  pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8),"
"  pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11),"
"  pg_catalog.unnest($12), pg_catalog.unnest($13), pg_catalog.unnest($14),"
"  pg_catalog.unnest($15), pg_catalog.unnest($16), pg_catalog.unnest($17),"
"  pg_catalog.unnest($18), pg_catalog.unnest($19), pg_catalog.unnest($20),"
"  pg_catalog.unnest($21), pg_catalog.unnest($22), pg_catalog.unnest($23),"
"  pg_catalog.unnest($24)::jsonb"
"), se AS ("
" INSERT INTO edgestat.sessions AS s (site_id, session_id, visitor_id,"
"  started_at, last_seen, entry_page, exit_page, referrer_host, utm_source,"
"  utm_medium, utm_campaign, country, region, city, browser, os, device, events,"
"  pageviews, heartbeats, goals, max_scroll, engaged_ms, interactions,"
"  grown_engaged_ms, grown_interactions)"
" SELECT i.*, i.engaged_ms, i.interactions"
" FROM (SELECT pg_catalog.unnest($25) AS site_id, pg_catalog.unnest($26) AS session_id,"
"  pg_catalog.unnest($27) AS visitor_id, pg_catalog.unnest($28) AS started_at,"
"  pg_catalog.unnest($29) AS last_seen, pg_catalog.unnest($30) AS entry_page,"
"  pg_catalog.unnest($31) AS exit_page, pg_catalog.unnest($32) AS referrer_host,"
"  pg_catalog.unnest($33) AS utm_source, pg_catalog.unnest($34) AS utm_medium,"
"  pg_catalog.unnest($35) AS utm_campaign, pg_catalog.unnest($36) AS country,"
"  pg_catalog.unnest($37) AS region, pg_catalog.unnest($38) AS city, pg_catalog.unnest($39) AS browser,"
"  pg_catalog.unnest($40) AS os, pg_catalog.unnest($41) AS device, pg_catalog.unnest($42) AS events,"
"  pg_catalog.unnest($43) AS pageviews, pg_catalog.unnest($44) AS heartbeats,"
"  pg_catalog.unnest($45) AS goals, pg_catalog.unnest($46) AS max_scroll,"
"  pg_catalog.unnest($47) AS engaged_ms, pg_catalog.unnest($48) AS interactions) i"
" ON CONFLICT (site_id, session_id) DO UPDATE SET"
"  started_at = LEAST(s.started_at, excluded.started_at),"
"  last_seen = GREATEST(s.last_seen, excluded.last_seen),"
"  entry_page = CASE WHEN excluded.started_at < s.started_at"
"   THEN excluded.entry_page ELSE s.entry_page END,"
"  exit_page = CASE WHEN excluded.last_seen >= s.last_seen"
"   THEN excluded.exit_page ELSE s.exit_page END,"
"  referrer_host = COALESCE(s.referrer_host, excluded.referrer_host),"
"  utm_source = COALESCE(s.utm_source, excluded.utm_source),"
"  utm_medium = COALESCE(s.utm_medium, excluded.utm_medium),"
"  utm_campaign = COALESCE(s.utm_campaign, excluded.utm_campaign),"
"  country = COALESCE(s.country, excluded.country),"
"  region = COALESCE(s.region, excluded.region),"
"  city = COALESCE(s.city, excluded.city),"
"  browser = COALESCE(s.browser, excluded.browser),"
"  os = COALESCE(s.os, excluded.os),"
"  device = COALESCE(s.device, excluded.device),"
"  events = s.events + excluded.events,"
"  pageviews = s.pageviews + excluded.pageviews,"
"  heartbeats = s.heartbeats + excluded.heartbeats,"
"  goals = s.goals + excluded.goals,"
"  max_scroll = GREATEST(s.max_scroll, excluded.max_scroll),"
"  engaged_ms = GREATEST(s.engaged_ms, excluded.engaged_ms),"
"  interactions = GREATEST(s.interactions, excluded.interactions),"
"  grown_engaged_ms = GREATEST(s.engaged_ms, excluded.engaged_ms) - s.engaged_ms,"
"  grown_interactions = GREATEST(s.interactions, excluded.interactions) - s.interactions"
" RETURNING s.site_id, s.visitor_id, (s.xmax = 0) AS fresh, s.grown_engaged_ms,"
"  s.grown_interactions"
"), sg AS ("
" SELECT site_id, visitor_id, (count(*) FILTER (WHERE fresh))::int AS sessions,"
"  sum(grown_engaged_ms)::bigint AS engaged_ms,"
"  sum(grown_interactions)::bigint AS interactions"
" FROM se GROUP BY site_id, visitor_id"
")";

/* After the rollup CTEs, if any. */
const char *const es_batch_sql_tail =
", vi AS ("
" INSERT INTO edgestat.visitors AS v (site_id, visitor_id, first_seen, last_seen,"
"  sessions, events, pageviews, heartbeats, goals, max_scroll, engaged_ms,"
"  interactions, score, country, region, city, latitude, longitude)"
" SELECT i.site_id, i.visitor_id, i.first_seen, i.last_seen,"
"  COALESCE(sg.sessions, 0), i.events, i.pageviews, i.heartbeats, i.goals,"
"  i.max_scroll, COALESCE(sg.engaged_ms, 0), COALESCE(sg.interactions, 0),"
"  i.score, i.country, i.region, i.city, i.latitude, i.longitude"
" FROM (SELECT pg_catalog.unnest($49) AS site_id, pg_catalog.unnest($50) AS visitor_id,"
"  pg_catalog.unnest($51) AS first_seen, pg_catalog.unnest($52) AS last_seen,"
"  pg_catalog.unnest($53) AS events, pg_catalog.unnest($54) AS pageviews,"
"  pg_catalog.unnest($55) AS heartbeats, pg_catalog.unnest($56) AS goals,"
"  pg_catalog.unnest($57) AS max_scroll, pg_catalog.unnest($58) AS country,"
"  pg_catalog.unnest($59) AS region, pg_catalog.unnest($60) AS city, pg_catalog.unnest($61) AS latitude,"
"  pg_catalog.unnest($62) AS longitude, pg_catalog.unnest($63) AS score) i"
"  LEFT JOIN sg USING (site_id, visitor_id)"
" ORDER BY i.site_id, i.visitor_id"
" ON CONFLICT (site_id, visitor_id) DO UPDATE SET"
"  first_seen = LEAST(v.first_seen, excluded.first_seen),"
"  last_seen = GREATEST(v.last_seen, excluded.last_seen),"
"  sessions = v.sessions + excluded.sessions,"
"  events = v.events + excluded.events,"
"  pageviews = v.pageviews + excluded.pageviews,"
"  heartbeats = v.heartbeats + excluded.heartbeats,"
"  goals = v.goals + excluded.goals,"
"  max_scroll = GREATEST(v.max_scroll, excluded.max_scroll),"
"  engaged_ms = v.engaged_ms + excluded.engaged_ms,"
"  interactions = v.interactions + excluded.interactions,"
"  score = CASE WHEN (v.heartbeats + excluded.heartbeats) / 5 > v.heartbeats / 5"
"   OR excluded.max_scroll > v.max_scroll OR excluded.interactions > 0"
"   THEN edgestat.value_score(v.pageviews + excluded.pageviews,"
"    v.heartbeats + excluded.heartbeats,"
"    GREATEST(v.max_scroll, excluded.max_scroll),"
"    v.interactions + excluded.interactions,"
"    v.engaged_ms + excluded.engaged_ms,"
"    v.sessions + excluded.sessions, v.goals + excluded.goals)"
"   ELSE v.score END,"
"  country = CASE WHEN excluded.country IS NULL THEN v.country ELSE excluded.country END,"
"  region = CASE WHEN excluded.country IS NULL THEN v.region ELSE excluded.region END,"
"  city = CASE WHEN excluded.country IS NULL THEN v.city ELSE excluded.city END,"
"  latitude = CASE WHEN excluded.country IS NULL THEN v.latitude ELSE excluded.latitude END,"
"  longitude = CASE WHEN excluded.country IS NULL THEN v.longitude ELSE excluded.longitude END"
" RETURNING v.site_id, v.visitor_id, v.score, v.country, v.city, v.latitude,"
"  v.longitude, (v.xmax = 0) AS fresh"
")"
" SELECT vi.*, (SELECT pg_catalog.count(*) FROM se WHERE se.fresh)::int"
" FROM vi";
