
-- ---------------------------------------------------------------------
-- 20_hardening: privileges and name resolution of 1.0's functions
-- (issue 10, items 2 and 12).  See docs/security.md.
-- ---------------------------------------------------------------------

-- Nothing is executable by PUBLIC (the README says so; 1.0 left
-- dashboard_api, live_visitors, stats, hour_ceil and invalidate_caches
-- open).  Trigger functions need no EXECUTE privilege to fire.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA edgestat FROM PUBLIC;

-- 1.0 put hll's schema (usually public, where a non-superuser database
-- owner may create objects on PostgreSQL 15) on the search_path of its
-- SECURITY DEFINER functions that use hll, so public.hll_empty(int, int,
-- int, int) or public.hll_hash_any(uuid) would win resolution over hll's
-- own and run as the extension's owner.  Qualifying the names is not
-- enough when hll lives in public: a better-matching overload can sit in
-- the same schema.  So those functions are re-created with every hll call
-- schema-qualified AND an exact match for hll's own signature (literal
-- -1 cast to bigint; hll_hash_any(anyelement), which any uuid overload
-- beats, replaced by hll_hash_bytea(uuid_send(v), 0), which hashes the
-- same 16 bytes with the same seed, so existing sketches stay valid) and
-- with a search_path of trusted schemas only.  PostgreSQL 15 has no
-- @extschema:hll@, so the schema is spliced in here; 1.0's bodies are
-- frozen, so the rewrite is deterministic (and the regression tests run
-- every rewritten function).  This block runs with the script's
-- search_path (edgestat, then hll's schema): every name in it is
-- qualified.
DO $do$
DECLARE
	hll_schema name;
	f regprocedure;
	def text;
	saved text := pg_catalog.current_setting('search_path');
BEGIN
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	SELECT n.nspname INTO STRICT hll_schema
	FROM pg_catalog.pg_extension e
	JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
	WHERE e.extname OPERATOR(pg_catalog.=) 'hll'::pg_catalog.name;

	FOR f IN
		SELECT p.oid::pg_catalog.regprocedure
		FROM pg_catalog.pg_proc p
		WHERE p.pronamespace OPERATOR(pg_catalog.=) 'edgestat'::pg_catalog.regnamespace
		  AND p.prolang OPERATOR(pg_catalog.=)
			  (SELECT l.oid FROM pg_catalog.pg_language l
			   WHERE l.lanname OPERATOR(pg_catalog.=) 'plpgsql'::pg_catalog.name)
		  AND p.prosrc OPERATOR(pg_catalog.~) '\mhll_'
		ORDER BY 1
	LOOP
		def := pg_catalog.pg_get_functiondef(f);
		def := pg_catalog.regexp_replace(def, '\mhll_hash_any\(([a-z_.]+)\)',
				pg_catalog.quote_ident(hll_schema) OPERATOR(pg_catalog.||)
				'.hll_hash_bytea(pg_catalog.uuid_send(\1), 0)', 'g');
		def := pg_catalog.replace(def, ', -1, 1)', ', (-1)::pg_catalog.int8, 1)');
		def := pg_catalog.regexp_replace(def, '(?<![.\w])(hll_[a-z_]+)\(',
				pg_catalog.quote_ident(hll_schema) OPERATOR(pg_catalog.||) '.\1(', 'g');
		-- the only operator 1.0 applies to sketches: hll <> hll
		def := pg_catalog.regexp_replace(def, '\mvisitors <> ',
				'visitors OPERATOR(' OPERATOR(pg_catalog.||)
				pg_catalog.quote_ident(hll_schema) OPERATOR(pg_catalog.||) '.<>) ', 'g');
		EXECUTE def;
	END LOOP;

	-- Every function of the extension but C ones that run no SQL resolves
	-- names in trusted schemas only: pg_catalog first, edgestat (owned by
	-- the extension's superuser) where the body needs it, pg_temp last.
	-- Those already so are left alone (error contexts name them as before).
	FOR f IN
		SELECT p.oid::pg_catalog.regprocedure
		FROM pg_catalog.pg_proc p
		WHERE p.pronamespace OPERATOR(pg_catalog.=) 'edgestat'::pg_catalog.regnamespace
		  AND p.prolang OPERATOR(pg_catalog.<>)
			  (SELECT l.oid FROM pg_catalog.pg_language l
			   WHERE l.lanname OPERATOR(pg_catalog.=) 'c'::pg_catalog.name)
		  AND NOT COALESCE(
			  (SELECT c OPERATOR(pg_catalog.~) '^search_path=pg_catalog(, edgestat)?, pg_temp$'
			   FROM pg_catalog.unnest(p.proconfig) c
			   WHERE c OPERATOR(pg_catalog.~~) 'search_path=%'), false)
		ORDER BY 1
	LOOP
		EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, edgestat, pg_temp', f);
	END LOOP;
	-- C functions that read tables (the site cache) or are SECURITY DEFINER
	FOR f IN
		SELECT p.oid::pg_catalog.regprocedure
		FROM pg_catalog.pg_proc p
		WHERE p.pronamespace OPERATOR(pg_catalog.=) 'edgestat'::pg_catalog.regnamespace
		  AND p.proname OPERATOR(pg_catalog.=) ANY ('{live_visitors,live_visitor_ids,ingest}'::pg_catalog.name[])
	LOOP
		EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
	END LOOP;

	PERFORM pg_catalog.set_config('search_path', saved, true);
END
$do$;
