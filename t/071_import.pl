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
is( sq("SELECT edgestat.stats_api('$key', '{\"site_id\": \"moved.test\", \"metrics\": [\"visitors\"], \"date_range\": [\"2024-03-01\", \"2024-03-02\"]}')->>'meta'"),
	'{"imports_included": true}', 'Stats API: meta says imports are included');
is( sq("SELECT edgestat.stats_api('$key', '{\"site_id\": \"moved.test\", \"metrics\": [\"visitors\"], \"date_range\": [\"2024-03-01\", \"2024-03-02\"]}')->'results'->0->'metrics'->>0"),
	'12', 'Stats API: the imported visitors');
is( sq("SELECT edgestat.stats_api('$key', '{\"site_id\": \"moved.test\", \"metrics\": [\"visitors\"], \"date_range\": [\"2024-04-01\", \"2024-04-02\"]}')->>'meta'"),
	'{}', 'Stats API: no flag outside the imported days');

$node->stop;
done_testing();
