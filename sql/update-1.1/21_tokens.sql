
-- ---------------------------------------------------------------------
-- 21_tokens: dashboard tokens expire, and dropping one closes its /live
-- streams (issue 10, item 10).  See docs/security.md.
-- ---------------------------------------------------------------------

-- Tokens made by 1.0 never expired; from the upgrade on they have 30 days.
ALTER TABLE edgestat.dashboard_tokens ADD COLUMN expires_at timestamptz;
UPDATE edgestat.dashboard_tokens SET expires_at = now() + interval '30 days';
ALTER TABLE edgestat.dashboard_tokens ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX dashboard_tokens_expires ON edgestat.dashboard_tokens (expires_at);

-- A new secret token for a site, valid for the given time, shown once.
CREATE FUNCTION edgestat.dashboard_token(site text, valid interval) RETURNS text
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$
DECLARE
	sid int;
	tok text;
BEGIN
	IF valid <= interval '0' THEN
		RAISE EXCEPTION 'edgestat: a token must be valid for a positive time'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	sid := edgestat.report_site_id(site);	-- 42704 if unknown
	tok := encode(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
						 || uuid_send(gen_random_uuid())), 'hex');
	INSERT INTO edgestat.dashboard_tokens (token_sha256, site_id, expires_at)
		VALUES (sha256(convert_to(tok, 'UTF8')), sid, now() + valid);
	RETURN tok;
END
$$;
COMMENT ON FUNCTION edgestat.dashboard_token(text, interval) IS
	'creates and returns a new dashboard token for a site, valid for the given time (only its hash is stored)';
REVOKE ALL ON FUNCTION edgestat.dashboard_token(text, interval) FROM PUBLIC;

-- 1.0's one-argument form: 30 days.
CREATE OR REPLACE FUNCTION edgestat.dashboard_token(site text) RETURNS text
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, edgestat, pg_temp
AS $$ SELECT edgestat.dashboard_token(site, interval '30 days') $$;
COMMENT ON FUNCTION edgestat.dashboard_token(text) IS
	'creates and returns a new dashboard token for a site, valid for 30 days (only its hash is stored)';

-- Expired tokens are refused like unknown ones (28000, HTTP 401).  1.0's
-- body is frozen: the expiry goes into its token lookup.  A later part
-- that replaces dashboard_api must keep "AND t.expires_at > now()".
DO $do$
DECLARE
	def text;
	saved text := pg_catalog.current_setting('search_path');
BEGIN
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	def := pg_catalog.pg_get_functiondef(
		'edgestat.dashboard_api(text, text, jsonb)'::pg_catalog.regprocedure);
	IF pg_catalog.strpos(def, 'WHERE t.token_sha256 = sha256(convert_to(token, ''UTF8''));')
		OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'edgestat: dashboard_api is not 1.0''s: cannot add the token expiry';
	END IF;
	def := pg_catalog.replace(def,
		'WHERE t.token_sha256 = sha256(convert_to(token, ''UTF8''));',
		'WHERE t.token_sha256 = sha256(convert_to(token, ''UTF8'')) AND t.expires_at > now();');
	EXECUTE def;
	PERFORM pg_catalog.set_config('search_path', saved, true);
END
$do$;

-- Dropping tokens (edgestat.dashboard_revoke, DELETE, TRUNCATE) or
-- changing them makes the HTTP workers check the tokens of their open
-- /live streams again when the transaction commits.
CREATE FUNCTION edgestat.tokens_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'edgestat_tokens_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION edgestat.tokens_changed() FROM PUBLIC;
CREATE TRIGGER dashboard_tokens_changed
	AFTER UPDATE OR DELETE OR TRUNCATE ON edgestat.dashboard_tokens
	FOR EACH STATEMENT EXECUTE FUNCTION edgestat.tokens_changed();
