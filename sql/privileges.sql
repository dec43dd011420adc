--
-- Who may do what: a reporting role reads nothing it is not given and
-- cannot write events; a writer role ingests without table privileges.
--
CREATE ROLE edgestat_reader;
CREATE ROLE edgestat_writer;
GRANT USAGE ON SCHEMA edgestat TO edgestat_reader, edgestat_writer;
GRANT EXECUTE ON FUNCTION edgestat.ingest(text, inet, text) TO edgestat_writer;

SET ROLE edgestat_reader;
SELECT edgestat.ingest(beacon('{"q": 900}'));
INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path)
VALUES (now(), 1, gen_random_uuid(), gen_random_uuid(), 'pageview', '/');
SELECT count(*) FROM edgestat.visitors;
SELECT edgestat.add_site('evil.test');
RESET ROLE;

SET ROLE edgestat_writer;
SELECT edgestat.ingest(beacon('{"q": 901, "n": "writer-goal"}'));
SELECT count(*) FROM edgestat.events;
RESET ROLE;
SELECT count(*) AS writer_rows FROM edgestat.events WHERE name = 'writer-goal';

DROP OWNED BY edgestat_reader, edgestat_writer;
DROP ROLE edgestat_reader, edgestat_writer;
