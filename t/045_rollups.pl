# The rollups an HTTP worker folds in C (rollup.c) against those the 1.0
# triggers keep for SQL ingest, and both against a recomputation from the
# raw rows: the same beacons, sent to one site over HTTP and to another
# through edgestat.ingest(), sessions growing across batches (bounce to
# non-bounce, exit page moving, a referrer filled in late, several events
# of one session in one body, a duplicate), give rollups equal to what
# the raw events and sessions say, to the row.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('rollups');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.maintenance = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres',
	"SELECT edgestat.add_site('http.test'), edgestat.add_site('sql.test')");
my $up = 0;
for (1 .. 100)
{
	if (http('GET', '/healthz')->{status} == 200) { $up = 1; last }
	sleep 0.1;
}
ok($up, 'worker serves');

my %id = map { $_ => uuid() } qw(v1 v2 v3 s1 s2 s3 s4 s5);

sub ev
{
	my ($v, $s, $n, $path, %extra) = @_;
	my $json = qq("v":"$id{$v}","s":"$id{$s}","n":"$n","u":"https://DOMAIN$path");
	$json .= qq(,"r":"$extra{r}") if $extra{r};
	$json .= qq(,"sd":$extra{sd}) if defined $extra{sd};
	return "{\"d\":\"DOMAIN\",$json}";
}

# One body per line; each is its own batch on both paths.
my @bodies = (
	ev(qw(v1 s1 pageview /), r => 'https://www.google.com/?q=x'),
	'[' . ev(qw(v1 s1 heartbeat /)) . ',' . ev(qw(v2 s2 pageview /blog)) . ']',
	ev(qw(v1 s1 pageview /pricing)),
	'[' . ev(qw(v2 s2 scroll /blog), sd => 50) . ',' . ev(qw(v3 s3 pageview /)) . ','
	  . ev(qw(v2 s2 pageview /docs), r => 'https://twitter.com/x') . ']',
	'[' . ev(qw(v3 s4 pageview /)) . ',' . ev(qw(v3 s4 pageview /a)) . ','
	  . ev(qw(v3 s4 signup /a)) . ']',
	ev(qw(v3 s3 leave /)),
	ev(qw(v1 s1 pageview /pricing)),    # a duplicate of an earlier event: dropped
	ev(qw(v2 s5 pageview /blog), r => 'https://news.ycombinator.com/'),
	ev(qw(v2 s5 heartbeat /blog)),
	ev(qw(v1 s1 pageview /)),    # within 5 s of the first: a duplicate too
);

my $ua = $EdgestatHTTP::ua;
for my $body (@bodies)
{
	(my $h = $body) =~ s/DOMAIN/http.test/g;
	(my $q = $body) =~ s/DOMAIN/sql.test/g;
	my $r = post($h);
	is($r->{status}, 204, 'http beacon accepted');
	$node->safe_psql('postgres', "SELECT edgestat.ingest('$q', '127.0.0.1', '$ua')");
	sleep 0.05;
}

for my $site ('http.test', 'sql.test')
{
	my $sid = $node->safe_psql('postgres',
		"SELECT site_id FROM edgestat.sites WHERE domain = '$site'");

	# every non-empty rollup row, and the same recomputed from raw rows
	my $dims_hourly = qq{
		SELECT dim, hour, value, visits, pageviews, events
		FROM edgestat.rollup_dims_hourly
		WHERE site_id = $sid AND (visits <> 0 OR pageviews <> 0 OR events <> 0)};
	my $dims_expected = qq{
		SELECT x.dim, date_trunc('hour', s.started_at, 'UTC') AS hour,
			   coalesce(x.value, '') AS value, count(*) AS visits,
			   sum(s.pageviews) AS pageviews, sum(s.events) AS events
		FROM edgestat.sessions s, LATERAL (VALUES
			('entry_page', s.entry_page), ('exit_page', s.exit_page),
			('referrer', s.referrer_host), ('utm_source', s.utm_source),
			('utm_medium', s.utm_medium), ('utm_campaign', s.utm_campaign),
			('country', s.country), ('region', s.region), ('city', s.city),
			('browser', s.browser), ('os', s.os), ('device', s.device)) x(dim, value)
		WHERE s.site_id = $sid GROUP BY 1, 2, 3
		UNION ALL
		SELECT x.dim, date_trunc('hour', e.ts, 'UTC'), x.value, 0,
			   count(*) FILTER (WHERE e.name = 'pageview'), count(*)
		FROM edgestat.events e, LATERAL (VALUES ('page', e.path), ('event', e.name)) x(dim, value)
		WHERE e.site_id = $sid GROUP BY 1, 2, 3};
	my $diff = sub {
		my ($a, $b) = @_;
		return $node->safe_psql('postgres',
			"SELECT count(*) FROM ((SELECT * FROM ($a) a EXCEPT ALL SELECT * FROM ($b) b)"
			  . " UNION ALL (SELECT * FROM ($b) b EXCEPT ALL SELECT * FROM ($a) a)) d");
	};
	is($diff->($dims_hourly, $dims_expected), '0',
		"$site: rollup_dims_hourly equals the raw rows");

	is( $diff->(
			qq{SELECT dim, day, value, visits, pageviews, events FROM edgestat.rollup_dims_daily
			   WHERE site_id = $sid AND (visits <> 0 OR pageviews <> 0 OR events <> 0)},
			qq{SELECT dim, date_trunc('day', hour, 'UTC'), value, sum(visits)::bigint,
			   sum(pageviews)::bigint, sum(events)::bigint FROM ($dims_expected) h
			   GROUP BY 1, 2, 3}),
		'0', "$site: rollup_dims_daily equals the raw rows");

	is( $diff->(
			qq{SELECT hour, pageviews, events, visits, bounces, visit_pageviews,
			   visit_duration_ms, public.hll_cardinality(visitors)::bigint
			   FROM edgestat.rollup_hourly WHERE site_id = $sid},
			qq{SELECT coalesce(e.hour, s.hour), coalesce(e.pageviews, 0), coalesce(e.events, 0),
			   coalesce(s.visits, 0), coalesce(s.bounces, 0), coalesce(s.pv, 0),
			   coalesce(s.duration, 0), coalesce(e.visitors, 0)
			   FROM (SELECT date_trunc('hour', ts, 'UTC') AS hour,
					 count(*) FILTER (WHERE name = 'pageview') AS pageviews, count(*) AS events,
					 count(DISTINCT visitor_id) AS visitors
					 FROM edgestat.events WHERE site_id = $sid GROUP BY 1) e
			   FULL JOIN (SELECT date_trunc('hour', started_at, 'UTC') AS hour,
					 count(*) AS visits, count(*) FILTER (WHERE pageviews = 1) AS bounces,
					 sum(pageviews)::bigint AS pv,
					 sum((extract(epoch FROM last_seen - started_at) * 1000)::bigint)::bigint AS duration
					 FROM edgestat.sessions WHERE site_id = $sid GROUP BY 1) s
			   ON e.hour = s.hour}),
		'0', "$site: rollup_hourly (counters and visitor sketch) equals the raw rows");

	is( $node->safe_psql('postgres',
			qq{SELECT count(*) FROM (SELECT DISTINCT date_trunc('hour', ts, 'UTC') AS hour
			   FROM edgestat.events WHERE site_id = $sid
			   EXCEPT SELECT hour FROM edgestat.rollup_open WHERE site_id = $sid) m}),
		'0', "$site: every hour with events is open for the seal");
}

# Both paths count the same.
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	  (SELECT dim, value, sum(visits), sum(pageviews), sum(events)
	   FROM edgestat.rollup_dims_daily JOIN edgestat.sites USING (site_id)
	   WHERE domain = 'http.test' GROUP BY 1, 2
	   EXCEPT ALL
	   SELECT dim, value, sum(visits), sum(pageviews), sum(events)
	   FROM edgestat.rollup_dims_daily JOIN edgestat.sites USING (site_id)
	   WHERE domain = 'sql.test' GROUP BY 1, 2)) d}),
	'0', 'the worker folds what the triggers count');
is( $node->safe_psql('postgres', q{
	SELECT string_agg(domain || ':' || visits || '/' || pageviews || '/' || bounce_rate, ' ' ORDER BY domain)
	FROM edgestat.sites, LATERAL edgestat.summary(domain, now() - interval '1 day', now() + interval '1 hour')
	WHERE domain IN ('http.test', 'sql.test')}),
	'http.test:5/8/40.00 sql.test:5/8/40.00',
	'and the summaries agree with the hand count: 5 visits, 8 pageviews (two duplicates dropped), 2 bounces');

$node->stop;
done_testing();
