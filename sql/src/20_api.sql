-- edgestat 1.0: the SQL interface of SPEC section 4 that is not reports:
-- sites, ingest, live counts, counters, the score function.
--
-- Privileges: nothing here is granted to PUBLIC.  A role that only reads
-- reports gets USAGE on the schema and EXECUTE on the report functions;
-- it cannot write events.  A role that ingests from SQL gets EXECUTE on
-- edgestat.ingest, which runs as the extension's owner.

CREATE FUNCTION edgestat.add_site(domain text, allowed_origins text[] DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d text := lower(btrim(domain));
	o text;
	origins text[] := '{}';
	id int;
BEGIN
	IF d IS NULL OR d !~ '^[a-z0-9]([a-z0-9.:-]{0,251}[a-z0-9])?$' THEN
		RAISE EXCEPTION 'invalid site domain "%"', domain
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A domain is a host name such as example.com: letters, digits, dots and hyphens, at most 253 characters.';
	END IF;
	FOREACH o IN ARRAY coalesce(allowed_origins, '{}') LOOP
		o := lower(rtrim(btrim(o), '/'));
		IF o IS NULL OR o !~ '^https?://[a-z0-9.:\[\]-]+$' THEN
			RAISE EXCEPTION 'invalid allowed origin "%"', o
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'An origin is scheme://host[:port], such as https://www.example.org, without a path.';
		END IF;
		origins := origins || o;
	END LOOP;

	INSERT INTO edgestat.sites AS s (domain, allowed_origins)
	VALUES (d, origins)
	ON CONFLICT ON CONSTRAINT sites_domain_key DO UPDATE
		SET allowed_origins = CASE WHEN add_site.allowed_origins IS NULL
								   THEN s.allowed_origins
								   ELSE excluded.allowed_origins END
	RETURNING s.site_id INTO id;
	RETURN id;
END
$$;
COMMENT ON FUNCTION edgestat.add_site(text, text[]) IS
'registers a site (or updates its allowed origins) and returns its id';

CREATE FUNCTION edgestat.ingest(body text, client_ip inet DEFAULT NULL,
								user_agent text DEFAULT NULL)
RETURNS int
AS 'MODULE_PATHNAME', 'edgestat_ingest'
LANGUAGE C CALLED ON NULL INPUT VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION edgestat.ingest(text, inet, text) IS
'runs one beacon body through the pipeline in this transaction; returns the events accepted';

CREATE FUNCTION edgestat.live_visitors(site text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'edgestat_live_visitors'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION edgestat.live_visitors(text) IS
'visitors of the site seen within edgestat.live_ttl, from shared memory';

CREATE FUNCTION edgestat.live_visitor_ids(site text, lim int DEFAULT 500,
										  OUT visitor_id uuid, OUT last_seen timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'edgestat_live_visitor_ids'
LANGUAGE C STRICT VOLATILE ROWS 100;
COMMENT ON FUNCTION edgestat.live_visitor_ids(text, int) IS
'the live visitors of the site (seen within edgestat.live_ttl), newest first, from shared memory';

CREATE FUNCTION edgestat.stats(OUT name text, OUT value bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'edgestat_stats'
LANGUAGE C STRICT VOLATILE ROWS 20;
COMMENT ON FUNCTION edgestat.stats() IS 'the pipeline''s counters since server start';

CREATE FUNCTION edgestat.value_score(pageviews bigint, heartbeats bigint,
									 max_scroll bigint, interactions bigint,
									 engaged_ms bigint, sessions bigint,
									 goals bigint)
RETURNS smallint
AS 'MODULE_PATHNAME', 'edgestat_value_score'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION edgestat.value_score(bigint, bigint, bigint, bigint, bigint, bigint, bigint) IS
'the engagement value score (0-100) of the given activity under edgestat.score_weights';

-- Changes to sites and weights reach the caches of every process
-- (the HTTP workers included) when they commit.
CREATE FUNCTION edgestat.invalidate_caches() RETURNS trigger
AS 'MODULE_PATHNAME', 'edgestat_invalidate_caches'
LANGUAGE C;
CREATE TRIGGER sites_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON edgestat.sites
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.invalidate_caches();
CREATE TRIGGER score_weights_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON edgestat.score_weights
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.invalidate_caches();

REVOKE ALL ON ALL TABLES IN SCHEMA edgestat FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edgestat.add_site(text, text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edgestat.ingest(text, inet, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edgestat.live_visitor_ids(text, int) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION edgestat.value_score(bigint, bigint, bigint, bigint, bigint, bigint, bigint) FROM PUBLIC;
