# Imports of Plausible's CSV export (docs/compat.md): the staging tables
# filled with COPY ... HEADER MATCH from files shaped like its export zip's,
# edgestat.import_plausible() folding them into the rollups, the reports
# counting the imported days, days with data skipped, and the Stats API
# flagging them.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('import');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres', "SELECT edgestat.add_site('moved.test')");

sub sq { return $node->safe_psql('postgres', $_[0]) }

my $dir = PostgreSQL::Test::Utils::tempdir;
my %csv = (
	visitors => "date,visitors,pageviews,bounces,visits,visit_duration\n"
	  . "2024-03-01,5,12,2,6,600\n2024-03-02,7,20,3,9,900\n",
	pages => "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors\n"
	  . "2024-03-01,moved.test,/,4,4,8,,0\n2024-03-01,moved.test,/pricing,2,2,4,,0\n"
	  . "2024-03-02,moved.test,/,6,6,20,,0\n",
	sources => "date,source,referrer,utm_source,utm_medium,utm_campaign,utm_content,utm_term,pageviews,visitors,visits,visit_duration,bounces\n"
	  . "2024-03-01,Google,,,,,,,8,3,4,400,1\n"
	  . "2024-03-01,Direct / None,,,,,,,4,2,2,200,1\n"
	  . "2024-03-02,Hacker News,https://news.ycombinator.com/item?id=1,hn,social,launch,,,20,7,9,900,3\n",
	custom_events => "date,name,link_url,path,visitors,events\n"
	  . "2024-03-01,Signup,,,2,3\n2024-03-02,Signup,,,1,1\n",
	locations => "date,country,region,city,visitors,visits,visit_duration,bounces,pageviews\n"
	  . "2024-03-01,DE,DE-BE,2950159,5,6,600,2,12\n2024-03-02,FR,FR-IDF,0,7,9,900,3,20\n",
	devices => "date,device,visitors,visits,visit_duration,bounces,pageviews\n"
	  . "2024-03-01,Desktop,5,6,600,2,12\n2024-03-02,Mobile,7,9,900,3,20\n",
	browsers => "date,browser,browser_version,visitors,visits,visit_duration,bounces,pageviews\n"
	  . "2024-03-01,Firefox,124,5,6,600,2,12\n2024-03-02,Chrome,122,7,9,900,3,20\n",
	operating_systems => "date,operating_system,operating_system_version,visitors,visits,visit_duration,bounces,pageviews\n"
	  . "2024-03-01,Mac,14,5,6,600,2,12\n2024-03-02,GNU/Linux,,7,9,900,3,20\n",
	entry_pages => "date,entry_page,visitors,entrances,visit_duration,bounces,pageviews\n"
	  . "2024-03-01,/,5,6,600,2,12\n2024-03-02,/,7,9,900,3,20\n",
	exit_pages => "date,exit_page,visitors,visit_duration,exits,bounces,pageviews\n"
	  . "2024-03-01,/pricing,5,600,6,2,12\n2024-03-02,/,7,900,9,3,20\n");

sub load
{
	for my $t (sort keys %csv)
	{
		my $file = "$dir/imported_${t}_20240301_20240302.csv";
		open my $fh, '>', $file or die $!;
		print $fh $csv{$t};
		close $fh;
		chmod 0644, $file;
		sq("COPY edgestat.plausible_imported_$t FROM '$file' WITH (FORMAT csv, HEADER MATCH)");
	}
}

load();
is(sq("SELECT count(*) FROM edgestat.plausible_imported_pages"), '3', 'COPY with HEADER MATCH takes the export\'s files');
my $res = sq("SELECT edgestat.import_plausible('moved.test')");
like($res, qr/"days": 2/, "import: two days ($res)");
like($res, qr/"skipped_days": 0/, 'none skipped');
is(sq("SELECT count(*) FROM edgestat.plausible_imported_visitors"), '0', 'staging emptied');

my $range = "'2024-03-01 00:00+00', '2024-03-03 00:00+00'";
is( sq("SELECT concat_ws(',', visitors, visits, pageviews, views_per_visit, bounce_rate, visit_duration) FROM edgestat.summary('moved.test', $range)"),
	'12,15,32,2.13,33.33,100.00',
	'summary over the imported days: visitors summed per day, visits, pageviews, bounce rate, duration');
is( sq("SELECT string_agg(concat_ws(':', bucket::date, visitors, visits, pageviews), ' ' ORDER BY bucket) FROM edgestat.timeseries('moved.test', $range, '1 day')"),
	'2024-03-01:5:6:12 2024-03-02:7:9:20', 'timeseries per imported day');
is( sq("SELECT string_agg(concat_ws(':', value, visitors, pageviews), ' ') FROM edgestat.breakdown('moved.test', 'page', $range)"),
	'/:10:28 /pricing:2:4', 'page breakdown');
is( sq("SELECT string_agg(concat_ws(':', coalesce(value, 'none'), visitors), ' ') FROM edgestat.breakdown('moved.test', 'referrer', $range)"),
	'news.ycombinator.com:7 Google:3 none:2', 'referrer: the host, else the source, direct as none');
is( sq("SELECT string_agg(concat_ws(':', value, visitors, events), ' ') FROM edgestat.breakdown('moved.test', 'event', $range)"),
	'pageview:12:32 Signup:3:4', 'event breakdown: pageviews and goals');
is( sq("SELECT string_agg(value, ' ' ORDER BY value) FROM edgestat.breakdown('moved.test', 'os', $range)"),
	'Linux macOS', 'operating systems in edgestat\'s names');
is( sq("SELECT string_agg(value, ' ' ORDER BY value) FROM edgestat.breakdown('moved.test', 'device', $range)"),
	'desktop mobile', 'devices in edgestat\'s names');
is(sq("SELECT string_agg(day::text, ',' ORDER BY day) FROM edgestat.imported_days"),
	'2024-03-01,2024-03-02', 'the imported days are flagged');

# again, plus a day the site already has data for: nothing counted twice
load();
sq("INSERT INTO edgestat.plausible_imported_visitors VALUES ('2024-03-03', 4, 4, 4, 4, 0)");
$res = sq("SELECT edgestat.import_plausible('moved.test')");
like($res, qr/"days": 1/, "re-import: only the new day ($res)");
like($res, qr/"skipped_days": 2/, 're-import: the imported days skipped');
is(sq("SELECT visitors FROM edgestat.summary('moved.test', $range)"), '12', 'no day counted twice');

my $key = sq("SELECT edgestat.api_key('moved.test')");

# The Stats API: imports only with "include": {"imports": true}, as
# Plausible's default is false.
sub api
{
	my ($q) = @_;
	$q =~ s/'/''/g;
	return sq("SELECT edgestat.stats_api('$key', '{\"site_id\": \"moved.test\", $q}', '2024-03-31')");
}
sub api_at
{
	my ($q, $path) = @_;
	$q =~ s/'/''/g;
	return sq("SELECT edgestat.stats_api('$key', '{\"site_id\": \"moved.test\", $q}', '2024-03-31') #>> '$path'");
}
my $mar12 = '"date_range": ["2024-03-01", "2024-03-02"]';
is(api_at(qq{"metrics": ["visitors"], $mar12, "include": {"imports": true}}, '{meta}'),
	'{"imports_included": true}', 'Stats API: include.imports true: meta says imports are included');
is(api_at(qq{"metrics": ["visitors", "visits", "pageviews"], $mar12, "include": {"imports": true}}, '{results,0,metrics}'),
	'[12, 15, 32]', 'Stats API: the imported visitors, visits, pageviews');
is(api_at(qq{"metrics": ["visitors", "visits", "pageviews"], $mar12, "include": {"imports": false}}, '{results,0,metrics}'),
	'[0, 0, 0]', 'include.imports false: nothing (the days hold only imported data)');
is(api_at(qq{"metrics": ["visitors"], $mar12, "include": {"imports": false}}, '{meta}'),
	'{"imports_included": false}', 'include.imports false: meta says so');
is(api_at(qq{"metrics": ["visitors"], $mar12}, '{results,0,metrics,0}'),
	'0', 'no include: imports left out, as by Plausible');
is(api_at(qq{"metrics": ["visitors"], $mar12}, '{meta}'), '{}', 'no include: no meta about imports');
is( api_at('"metrics": ["visitors"], "date_range": ["2024-04-01", "2024-04-02"], "include": {"imports": true}', '{meta}'),
	'{"imports_included": false, "imports_skip_reason": "out_of_range"}',
	'Stats API: outside the imported days: skipped, out of range');
is( api_at(qq{"metrics": ["visitors"], $mar12, "include": {"imports": true}, "filters": [["is", "visit:country", ["DE"]]]}, '{meta,imports_skip_reason}'),
	'unsupported_query', 'with filters imports cannot be included: skip reason');
is( api_at(qq{"metrics": ["visitors"], $mar12, "include": {"imports": true}, "filters": [["is", "visit:country", ["DE"]]]}, '{results,0,metrics,0}'),
	'0', 'and the results are the measured ones');

# Measured data around the imported days 03-01..03-03: 02-28 (V1) and
# 03-05 (V2 twice on /a, V3 on /b).  Straight into events and sessions, as
# sql/analytics.sql does.
sq(q{
INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path, seq, country)
SELECT v.ts, s.site_id, v.vid, v.sid, 'pageview', v.path, v.seq, 'DE'
FROM edgestat.sites s, (VALUES
	('2024-02-28 10:00+00'::timestamptz, 'a0000000-0000-4000-8000-000000000001'::uuid, 'b0000000-0000-4000-8000-000000000001'::uuid, '/a', 1),
	('2024-03-05 09:00+00', 'a0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000002', '/a', 1),
	('2024-03-05 09:10+00', 'a0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000002', '/a', 2),
	('2024-03-05 11:00+00', 'a0000000-0000-4000-8000-000000000003', 'b0000000-0000-4000-8000-000000000003', '/b', 1)
) AS v(ts, vid, sid, path, seq)
WHERE s.domain = 'moved.test';
INSERT INTO edgestat.sessions (site_id, session_id, visitor_id, started_at, last_seen,
	entry_page, exit_page, country, events, pageviews, heartbeats, goals)
SELECT e.site_id, e.session_id, min(e.visitor_id::text)::uuid, min(e.ts), max(e.ts),
	min(e.path), max(e.path), 'DE', count(*), count(*), 0, 0
FROM edgestat.events e JOIN edgestat.sites s USING (site_id)
WHERE s.domain = 'moved.test' GROUP BY 1, 2;
SELECT edgestat.seal_rollups('2024-04-01');
});
my $mar15 = '"date_range": ["2024-03-01", "2024-03-05"]';
is(api_at(qq{"metrics": ["visitors", "visits", "pageviews"], $mar15, "include": {"imports": false}}, '{results,0,metrics}'),
	'[2, 2, 3]', 'imported days at the start of the range: cut off, the measured rest exactly');
is( api_at(qq{"metrics": ["visitors", "visits", "pageviews"], $mar15, "include": {"imports": true}}, '{results,0,metrics}'),
	sq("SELECT format('[%s, %s, %s]', visitors, visits, pageviews) FROM edgestat.summary('moved.test', '2024-03-01', '2024-03-06')"),
	'include.imports true: summary() over the range, imports and all');
is( api_at(qq{"metrics": ["visitors", "pageviews"], $mar15, "dimensions": ["event:page"], "include": {"imports": false}}, '{results}'),
	'[{"metrics": [1, 2], "dimensions": ["/a"]}, {"metrics": [1, 1], "dimensions": ["/b"]}]',
	'a breakdown without imports');
my $feb = '"date_range": ["2024-02-28", "2024-03-05"]';
is(api_at(qq{"metrics": ["visitors", "visits", "pageviews"], $feb, "include": {"imports": false}}, '{results,0,metrics}'),
	sq("SELECT format('[%s, %s, %s]', count(DISTINCT visitor_id), count(DISTINCT session_id), count(*)) FROM edgestat.events e JOIN edgestat.sites s USING (site_id) WHERE s.domain = 'moved.test'"),
	'imported days between measured ones: exact from the raw events (3 visitors)');
is( api_at(qq{"metrics": ["visitors", "pageviews"], $feb, "dimensions": ["event:page"], "include": {"imports": false}}, '{results}'),
	'[{"metrics": [2, 3], "dimensions": ["/a"]}, {"metrics": [1, 1], "dimensions": ["/b"]}]',
	'and a breakdown of them');
is( api_at(qq{"metrics": ["visitors", "pageviews"], $feb, "dimensions": ["time:day"], "include": {"imports": false}}, '{results}'),
	'[{"metrics": [1, 1], "dimensions": ["2024-02-28"]}, {"metrics": [0, 0], "dimensions": ["2024-02-29"]}, '
	  . '{"metrics": [0, 0], "dimensions": ["2024-03-01"]}, {"metrics": [0, 0], "dimensions": ["2024-03-02"]}, '
	  . '{"metrics": [0, 0], "dimensions": ["2024-03-03"]}, {"metrics": [0, 0], "dimensions": ["2024-03-04"]}, '
	  . '{"metrics": [2, 3], "dimensions": ["2024-03-05"]}]',
	'time:day without imports: the imported days are empty');
is( api_at(qq{"metrics": ["visitors", "pageviews"], $feb, "dimensions": ["time:day"], "include": {"imports": true}}, '{results,2,metrics}'),
	'[5, 12]', 'time:day with imports: 03-01 as imported');
is(api_at(qq{"metrics": ["visitors"], $feb, "include": {"imports": false}}, '{meta}'),
	'{"imports_included": false}', 'no warning while the raw events are all there');

# the raw events of 02-28 dropped (retention), its rollups kept: the
# measured day is missing from the raw path, and meta warns
sq("DELETE FROM edgestat.events WHERE ts < '2024-02-29'");
like(api_at(qq{"metrics": ["visitors"], $feb, "include": {"imports": false}}, '{meta,imports_warning}'),
	qr/older than the raw events kept/, 'measured hours without raw events: a warning');

# today is never imported: it could still get measured data
sq("INSERT INTO edgestat.plausible_imported_visitors VALUES ((now() AT TIME ZONE 'UTC')::date, 1, 1, 1, 1, 0)");
$res = sq("SELECT edgestat.import_plausible('moved.test')");
like($res, qr/"days": 0.*"skipped_days": 1|"skipped_days": 1.*"days": 0/, "today is skipped ($res)");

$node->stop;
done_testing();
