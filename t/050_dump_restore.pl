# A backup gives back everything: pg_dump -Fc of a database with edgestat
# (raw events in daily partitions and in the DEFAULT one, sessions,
# visitors, sealed and open rollup hours, a dashboard token, changed
# weights), pg_restore into a new database (the restore creates the
# extension), then every table, every report and the token must be the
# same, and pg_restore must not report a single error.
use strict;
use warnings;

use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'edgestat'
edgestat.workers = 0
edgestat.rate_limit = 0
# No background worker of edgestat touches the databases of this test
# (none of them is edgestat.database), and nothing is old enough for
# retention: the figures compared are this test's alone.
edgestat.database = 'postgres'
edgestat.retention = '36500 days'
timezone = 'UTC'
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('src', 'SELECT edgestat.ensure_partitions(2)');

my $chrome =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
my $iphone =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';

# Now, through edgestat.ingest, over two sites: 13 visitors in 18 sessions
# (with those below: 19 visitors, 24 sessions).
$node->safe_psql(
	'src', qq{
SELECT edgestat.add_site('dump.test'), edgestat.add_site('other.test');
CREATE FUNCTION pg_temp.b(d text, v int, s int, n text, u text, q int, extra jsonb DEFAULT '{}')
RETURNS text LANGUAGE sql AS \$\$
	SELECT (jsonb_build_object('d', d, 'n', n, 'u', 'https://' || d || u,
		'v', 'c0ffee00-0000-4000-8000-' || lpad(v::text, 12, '0'),
		's', 'd0ffee00-0000-4000-8000-' || lpad(s::text, 12, '0'),
		'q', q) || extra)::text
\$\$;
SELECT edgestat.ingest(pg_temp.b(CASE WHEN i % 4 = 0 THEN 'other.test' ELSE 'dump.test' END,
		i % 12, i, 'pageview', '/p' || (i % 3) || '?utm_source=s' || (i % 2), 1,
		jsonb_build_object('r', 'https://ref' || (i % 5) || '.example/', 'w', 300 + 100 * i)),
	('192.0.2.' || i)::inet, CASE WHEN i % 2 = 0 THEN '$chrome' ELSE '$iphone' END)
FROM generate_series(1, 16) i;
SELECT edgestat.ingest(pg_temp.b('dump.test', i % 12, i, 'heartbeat', '/p' || (i % 3), 2,
		'{"et": 12000, "ic": 1}'),
	('192.0.2.' || i)::inet, '$chrome')
FROM generate_series(1, 16, 3) i;
SELECT edgestat.ingest(pg_temp.b('dump.test', 1, 1, 'signup', '/p1', 3, '{"p": {"plan": "pro"}}'),
	'192.0.2.1', '$iphone');
});

# Five hours ago (sealed below), written as the writer writes, and a day
# without a partition (its row stays in the DEFAULT partition).
$node->safe_psql(
	'src', q{
-- five hours ago may be yesterday (UTC), which has no partition yet
SELECT edgestat.create_day_partition(((now() - interval '5 hours') AT TIME ZONE 'UTC')::date);
WITH e AS (
	SELECT now() - interval '5 hours' AS ts, s.site_id,
		   ('c0ffee00-0000-4000-8000-' || lpad((100 + i)::text, 12, '0'))::uuid AS visitor_id,
		   ('d0ffee00-0000-4000-8000-' || lpad((100 + i)::text, 12, '0'))::uuid AS session_id,
		   '/old' || (i % 2) AS path, 'Firefox' AS browser, 'desktop' AS device
	FROM edgestat.sites s, generate_series(1, 6) i WHERE s.domain = 'dump.test'
), ev AS (
	INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path, browser, device)
	SELECT ts, site_id, visitor_id, session_id, 'pageview', path, browser, device FROM e
), se AS (
	INSERT INTO edgestat.sessions (site_id, session_id, visitor_id, started_at, last_seen,
		entry_page, exit_page, browser, device, events, pageviews)
	SELECT site_id, session_id, visitor_id, ts, ts, path, path, browser, device, 1, 1 FROM e
)
INSERT INTO edgestat.visitors (site_id, visitor_id, first_seen, last_seen, sessions, events, pageviews, score)
SELECT site_id, visitor_id, ts, ts, 1, 1, 1, 10 FROM e;
INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path)
SELECT '2021-06-01 12:00+00', site_id, gen_random_uuid(), gen_random_uuid(), 'pageview', '/2021'
FROM edgestat.sites WHERE domain = 'dump.test';
SELECT edgestat.seal_rollups(now() - interval '2 hours');
UPDATE edgestat.score_weights SET weight = 0.8 WHERE feature = 'pageviews';
});
my $token = $node->safe_psql('src', "SELECT edgestat.dashboard_token('dump.test')");

is($node->safe_psql('src', 'SELECT count(*) FROM edgestat.events_default'),
	'1', 'a row in the DEFAULT partition');
ok($node->safe_psql('src', "SELECT count(*) FROM pg_inherits WHERE inhparent = 'edgestat.events'::regclass") >= 2,
	'daily partitions exist');
is($node->safe_psql('src', 'SELECT count(*) FROM edgestat.rollup_hourly WHERE sealed'),
	'2', 'two sealed hours (five hours ago, and 2021)');

# Every table of the extension (partitions through their parent): rows and
# a fingerprint of the contents; the partitions and their bounds; where
# the identity sequence stands.
my $tables_sql = q{
CREATE FUNCTION pg_temp.snapshot() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	r regclass;
	n bigint;
	m text;
BEGIN
	FOR r IN
		SELECT c.oid FROM pg_class c
		WHERE c.relnamespace = 'edgestat'::regnamespace AND c.relkind IN ('r', 'p')
		  AND NOT c.relispartition
		ORDER BY c.relname
	LOOP
		EXECUTE format('SELECT count(*), md5(coalesce(string_agg(t::text, ''|'' ORDER BY t::text), '''')) FROM %s t', r)
			INTO n, m;
		RETURN NEXT r || ' ' || n || ' ' || m;
	END LOOP;
END
$$;
SELECT pg_temp.snapshot();
SELECT 'partition ' || c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
	   || ' indexes ' || (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'edgestat.events'::regclass ORDER BY c.relname;
SELECT 'sequence ' || last_value FROM edgestat.sites_site_id_seq;
};

# Every report, with visitor counts: summary, timeseries and every
# breakdown over the last day, the dashboard API with the token; over one
# fixed range, so that both databases are asked the same.
my ($since, $until) = split /\|/, $node->safe_psql('src',
	"SELECT date_trunc('hour', now()) - interval '1 day', date_trunc('hour', now()) + interval '2 hours'");
my $reports_sql = qq{
SELECT 'summary ' || s || ' ' || (SELECT row_to_json(x)
	FROM edgestat.summary(s, '$since', '$until') x)
FROM unnest(ARRAY['dump.test', 'other.test']) s;
SELECT 'summary 2021 ' || (SELECT row_to_json(x)
	FROM edgestat.summary('dump.test', '2021-06-01', '2021-06-02') x);
SELECT 'timeseries ' || (SELECT json_agg(x ORDER BY x.bucket)
	FROM edgestat.timeseries('dump.test', '$since', '$until') x);
SELECT 'breakdown ' || d || ' ' || (SELECT json_agg(x ORDER BY x.value)
	FROM edgestat.breakdown('dump.test', d, '$since', '$until', 100) x)
FROM unnest(ARRAY['page', 'entry_page', 'exit_page', 'referrer', 'utm_source',
	'utm_medium', 'utm_campaign', 'country', 'region', 'city', 'browser', 'os',
	'device', 'event']) d;
SELECT 'dashboard ' || e || ' ' || edgestat.dashboard_api('$token', e,
	jsonb_build_object('since', '$since', 'until', '$until', 'dimension', 'referrer'))
FROM unnest(ARRAY['site', 'summary', 'timeseries', 'breakdown']) e;
};

my $tables_src  = $node->safe_psql('src', $tables_sql);
my $reports_src = $node->safe_psql('src', $reports_sql);
like($tables_src, qr/^edgestat\.sessions 24 /m, 'sessions in the source');
like($tables_src, qr/^edgestat\.visitors 19 /m, 'visitors in the source');
like($reports_src, qr/^breakdown referrer .*"visitors":[1-9]/m,
	'breakdown visitor counts in the source');

# The backup and its restore into a new database.
my $dump = $node->basedir . '/src.dump';
my ($out, $err);
my $rc = IPC::Run::run [ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
  '>', \$out, '2>', \$err;
ok($rc, 'pg_dump exits 0');
is($err, '', 'pg_dump says nothing on stderr');

$node->safe_psql('postgres', 'CREATE DATABASE dst');
$rc = IPC::Run::run [ 'pg_restore', '-d', $node->connstr('dst'), $dump ],
  '>', \$out, '2>', \$err;
ok($rc, 'pg_restore exits 0');
is($err, '', 'pg_restore reports no error');
is($node->safe_psql('dst', "SELECT extversion FROM pg_extension WHERE extname = 'edgestat'"),
	$node->safe_psql('src', "SELECT extversion FROM pg_extension WHERE extname = 'edgestat'"),
	'the restore created the extension at the same version');

my $tables_dst = $node->safe_psql('dst', $tables_sql);
is($tables_dst, $tables_src, 'every table has the same rows, every partition its index');
my $reports_dst = $node->safe_psql('dst', $reports_sql);
is($reports_dst, $reports_src, 'every report answers the same, visitor counts included');
is($node->safe_psql('dst',
		"SELECT (edgestat.dashboard_api('$token', 'summary')->>'pageviews')::int > 0"),
	't', 'the dashboard token works after the restore');

# Life goes on in the restored database: a new site gets a new id, a beacon
# is counted once in the rollups (the triggers fire for the writer's
# statements, not only for the COPY of a restore), new partitions get their
# index.
is($node->safe_psql('dst', "SELECT edgestat.add_site('new.test')"),
	'3', 'add_site continues the restored sequence');
my $before = $node->safe_psql('dst',
	"SELECT sum(pageviews) || ' ' || sum(visits) FROM edgestat.rollup_hourly r JOIN edgestat.sites USING (site_id) WHERE domain = 'dump.test'");
$node->safe_psql('dst', qq{
SELECT edgestat.ingest('{"d": "dump.test", "n": "pageview", "u": "https://dump.test/after",
	"v": "c0ffee00-0000-4000-8000-000000000999", "s": "d0ffee00-0000-4000-8000-000000000999"}',
	'192.0.2.99', '$chrome')});
my ($pv, $visits) = split / /, $before;
is($node->safe_psql('dst',
		"SELECT sum(pageviews) || ' ' || sum(visits) FROM edgestat.rollup_hourly r JOIN edgestat.sites USING (site_id) WHERE domain = 'dump.test'"),
	($pv + 1) . ' ' . ($visits + 1), 'a new beacon counts once');
is($node->safe_psql('dst', q{
SELECT edgestat.create_day_partition('2030-01-01');
SELECT string_agg(indexrelid::regclass::text, ' ' ORDER BY indexrelid) FROM pg_index
WHERE indrelid = 'edgestat.events_20300101'::regclass}),
	"t\nedgestat.events_20300101_site_id_ts_idx edgestat.events_20300101_revenue_idx edgestat.events_20300101_custom_idx",
	'a new daily partition gets its indexes');

# A restore of the restore is as clean: nothing was left for a second dump
# to trip on.
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$rc = IPC::Run::run [ 'pg_dump', '-Fc', '-f', "$dump.2", '-d', $node->connstr('dst') ],
  '>', \$out, '2>', \$err;
ok($rc, 'second pg_dump exits 0');
$rc = IPC::Run::run [ 'pg_restore', '-d', $node->connstr('dst2'), "$dump.2" ],
  '>', \$out, '2>', \$err;
ok($rc && $err eq '', 'second pg_restore is clean') or diag($err);
is($node->safe_psql('dst2', $tables_sql), $node->safe_psql('dst', $tables_sql),
	'second restore: every table the same');

# The same backup as a plain-text dump fed to psql (rows loaded by COPY
# too).  (A parallel pg_restore -j is not supported: it may load
# dashboard_tokens before the sites their foreign key points to.)
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
$rc = IPC::Run::run [ 'pg_dump', '-d', $node->connstr('src') ], '|',
  [ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dst_plain') ],
  '>', \$out, '2>', \$err;
ok($rc && $err eq '', 'plain dump through psql is clean') or diag($err);
is($node->safe_psql('dst_plain', $tables_sql), $tables_src,
	'plain restore: every table the same');
is($node->safe_psql('dst_plain', $reports_sql), $reports_src,
	'plain restore: every report the same');

$node->stop;
done_testing();
