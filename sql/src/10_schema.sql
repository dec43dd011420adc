-- edgestat 1.0: tables.  Written to from C (src/writer.c) in one statement
-- per batch; no foreign keys on the hot tables, since each would cost a
-- query per inserted row.

\echo Use "CREATE EXTENSION edgestat" to load this file. \quit

CREATE TABLE edgestat.sites (
	site_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	domain text NOT NULL UNIQUE
		CHECK (domain = lower(domain) AND domain ~ '^[a-z0-9]([a-z0-9.:-]{0,251}[a-z0-9])?$'),
	allowed_origins text[] NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE edgestat.sites IS 'registered sites; beacons for other domains are refused (403)';

-- Raw events, one partition per UTC day so that retention drops whole
-- partitions.  The client address is never stored.
CREATE TABLE edgestat.events (
	ts timestamptz NOT NULL,
	site_id int NOT NULL,
	visitor_id uuid NOT NULL,
	session_id uuid NOT NULL,
	name text NOT NULL,
	path text NOT NULL,
	referrer_host text,
	utm_source text,
	utm_medium text,
	utm_campaign text,
	seq int,
	scroll smallint,
	engaged_ms bigint,
	interactions bigint,
	viewport int,
	country text,
	region text,
	city text,
	latitude double precision,
	longitude double precision,
	browser text,
	os text,
	device text,
	props jsonb
) PARTITION BY RANGE (ts);
CREATE INDEX events_site_ts ON edgestat.events (site_id, ts);
CREATE TABLE edgestat.events_default PARTITION OF edgestat.events DEFAULT;
COMMENT ON TABLE edgestat.events IS 'raw events, partitioned by UTC day';

-- Sessions and visitors are updated in place by every batch: room on each
-- page (fillfactor) and no index on a column that changes keep those
-- updates HOT, with no index entry to write.  Who was seen lately comes
-- from shared memory (edgestat.live_visitor_ids), not from an index on
-- last_seen.
--
-- One row per session, merged on every batch: maxima only grow, counters
-- add each accepted event once.  grown_* carry how much the last merge
-- raised the session-cumulative et and ic, so that the same statement can
-- add exactly that growth to the visitor, whatever order beacons come in.
CREATE TABLE edgestat.sessions (
	site_id int NOT NULL,
	session_id uuid NOT NULL,
	visitor_id uuid NOT NULL,
	started_at timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	entry_page text NOT NULL,
	exit_page text NOT NULL,
	referrer_host text,
	utm_source text,
	utm_medium text,
	utm_campaign text,
	country text,
	region text,
	city text,
	browser text,
	os text,
	device text,
	events int NOT NULL DEFAULT 0,
	pageviews int NOT NULL DEFAULT 0,
	heartbeats int NOT NULL DEFAULT 0,
	goals int NOT NULL DEFAULT 0,
	max_scroll smallint NOT NULL DEFAULT 0,
	engaged_ms bigint NOT NULL DEFAULT 0,
	interactions bigint NOT NULL DEFAULT 0,
	grown_engaged_ms bigint NOT NULL DEFAULT 0,
	grown_interactions bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (site_id, session_id)
) WITH (fillfactor = 70);
CREATE INDEX sessions_site_started ON edgestat.sessions (site_id, started_at);

CREATE TABLE edgestat.visitors (
	site_id int NOT NULL,
	visitor_id uuid NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen timestamptz NOT NULL,
	sessions int NOT NULL DEFAULT 0,
	events bigint NOT NULL DEFAULT 0,
	pageviews int NOT NULL DEFAULT 0,
	heartbeats int NOT NULL DEFAULT 0,
	goals int NOT NULL DEFAULT 0,
	max_scroll smallint NOT NULL DEFAULT 0,
	engaged_ms bigint NOT NULL DEFAULT 0,
	interactions bigint NOT NULL DEFAULT 0,
	score smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
	country text,
	region text,
	city text,
	latitude double precision,
	longitude double precision,
	PRIMARY KEY (site_id, visitor_id)
) WITH (fillfactor = 70);

-- The value score's logistic model: score = 100 / (1 + exp(-(bias + sum
-- weight * feature))).  Defaults and their reasons are in the README.
CREATE TABLE edgestat.score_weights (
	feature text PRIMARY KEY
		CHECK (feature IN ('bias', 'pageviews', 'heartbeats', 'scroll',
						   'interactions', 'engaged', 'sessions', 'goals')),
	weight double precision NOT NULL CHECK (weight = weight AND abs(weight) < 1e6)
);
INSERT INTO edgestat.score_weights VALUES
	('bias', -3.0), ('pageviews', 0.6), ('heartbeats', 0.35),
	('scroll', 1.2), ('interactions', 0.5), ('engaged', 0.45),
	('sessions', 0.7), ('goals', 1.5);

SELECT pg_catalog.pg_extension_config_dump('edgestat.sites', '');
SELECT pg_catalog.pg_extension_config_dump('edgestat.score_weights', '');
