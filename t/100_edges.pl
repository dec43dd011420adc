# Edges and a center (docs/scale.md): two edges take beacons over
# HTTP, a center merges them through logical replication, and a single node
# fed the same beacons is the reference.  The center's events, sessions,
# visitors and reports equal the single node's; the center catches up after
# a stop; an edge killed with -9 under load loses nothing it acknowledged;
# detach leaves no slot on the edge.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my %port;

sub make_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 'logical');
	$port{$name} = PostgreSQL::Test::Cluster::get_free_port();
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port{$name}
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.maintenance_interval = 1
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_logical_replication_workers = 8
wal_retrieve_retry_interval = 500ms
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
	return $node;
}

# a conninfo without quotes, to pass inside an SQL literal
sub conn
{
	my ($node) = @_;
	return 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres';
}

my $edge1 = make_node('edge1');
my $edge2 = make_node('edge2');
my $center = make_node('center');
my $single = make_node('single');
# how the edges reach the center for its sites (attach_edge's default)
$center->append_conf('postgresql.conf',
	"edgestat.center_conninfo = '" . conn($center) . "'");
$center->reload;

$center->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");
$single->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");
# a site the edge registered before it was attached is adopted by the center
$edge2->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");

# sites with clashing ids are refused
my ($rc, $out, $err) = $edge1->psql('postgres', "SELECT edgestat.add_site('other.org')");
($rc, $out, $err) = $center->psql('postgres',
	"SELECT edgestat.attach_edge('e1', '" . conn($edge1) . "')");
like($err, qr/sites whose ids differ/, 'an edge whose site ids clash is refused');
is($edge1->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'the refused attach left no slot');
$edge1->safe_psql('postgres', "DELETE FROM edgestat.sites WHERE domain = 'other.org'");

($rc, $out, $err) = $center->psql('postgres',
	"SET edgestat.center_conninfo = ''; SELECT edgestat.attach_edge('e1', '" . conn($edge1) . "')");
like($err, qr/needs a conninfo to reach this center/,
	'attach needs the center\'s conninfo, from the setting or its third argument');
($rc, $out, $err) = $center->psql('postgres',
	"BEGIN; SELECT edgestat.add_site('inside.org'); SELECT edgestat.attach_edge('e1', '"
	  . conn($edge1) . "'); COMMIT");
like($err, qr/must run in a transaction of its own/,
	'attach refuses a transaction that has written (the edge\'s slot here would wait for it)');
is($center->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'the refused attaches left no slot on the center');
# e1 by the setting, e2 by the third argument
$center->safe_psql('postgres',
	"SELECT edgestat.attach_edge('e1', '" . conn($edge1) . "')");
$center->safe_psql('postgres',
	"SET edgestat.center_conninfo = ''; SELECT edgestat.attach_edge('e2', '"
	  . conn($edge2) . "', '" . conn($center) . "')");
is($edge1->safe_psql('postgres', 'SELECT site_id, domain FROM edgestat.sites'),
	$center->safe_psql('postgres', 'SELECT site_id, domain FROM edgestat.sites'),
	'the center\'s sites reached the edge, same ids');
($rc, $out, $err) = $edge1->psql('postgres', "SELECT edgestat.add_site('new.org')");
like($err, qr/this node is an edge/, 'an attached edge refuses to register a site');
for my $e ([ 'e1', $edge1 ], [ 'e2', $edge2 ])
{
	is($e->[1]->safe_psql('postgres',
			"SELECT subname || ':' || subenabled FROM pg_subscription"),
		'edgestat_sites:true', "$e->[0] subscribes to the center's sites");
}
# (the edges' table synchronisation holds a temporary slot of its own
# until it has caught up with the subscription)
ok($center->poll_query_until('postgres',
		"SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots",
		'edgesites_e1,edgesites_e2'),
	'the center holds one sites slot per edge');
is($edge2->safe_psql('postgres', 'SELECT site_id, public_id FROM edgestat.sites'),
	$center->safe_psql('postgres', 'SELECT site_id, public_id FROM edgestat.sites'),
	'an edge\'s own site takes the center\'s public id');
is($center->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription'), '2',
	'one subscription per edge');
is($edge1->safe_psql('postgres',
		"SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'logical'"),
	'edgestat_e1', 'the edge holds the center\'s slot');

sub wait_http
{
	my ($name) = @_;
	local $EdgestatHTTP::port = $port{$name};
	for (1 .. 100)
	{
		return 1 if http('GET', '/healthz')->{status} == 200;
		sleep 0.1;
	}
	return 0;
}
ok(wait_http($_), "$_ serves HTTP") for qw(edge1 edge2 single);

sub post_to
{
	my ($name, $body) = @_;
	local $EdgestatHTTP::port = $port{$name};
	return post($body)->{status};
}

# ---- a site registered on the center after the attach reaches the edges ----

$center->safe_psql('postgres', "SELECT edgestat.add_site('later.net')");
$single->safe_psql('postgres', "SELECT edgestat.add_site('later.net')");
my $later_id = $center->safe_psql('postgres',
	"SELECT site_id FROM edgestat.sites WHERE domain = 'later.net'");
is($single->safe_psql('postgres',
		"SELECT site_id FROM edgestat.sites WHERE domain = 'later.net'"),
	$later_id, 'the reference node gives the later site the same id');
for my $e ([ 'edge1', $edge1 ], [ 'edge2', $edge2 ])
{
	my $t0 = time;
	ok($e->[1]->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM edgestat.sites WHERE domain = 'later.net'"
			  . " AND site_id = $later_id"),
		"$e->[0] has the site registered on the center, same id");
	note sprintf('%s had it after %.2f s', $e->[0], time - $t0);
	my $body = qq({"d":"later.net","n":"pageview","u":"https://later.net/$e->[0]",)
	  . qq("v":") . uuid() . qq(","s":") . uuid() . qq(","q":1});
	my $st = 0;
	for (1 .. 50)
	{
		$st = post_to($e->[0], $body);
		last if $st == 204;
		sleep 0.1;
	}
	is($st, 204, "$e->[0] accepts beacons for it");
	post_to('single', $body);
}
ok($center->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM edgestat.events WHERE site_id = $later_id"),
	'the later site\'s beacons reach the center');

# ---- the same beacons to the edges and to the single node ----

my @visitors = map { uuid() } 1 .. 6;
my @sessions = map { uuid() } 1 .. 6;
my $seq = 0;

sub ev
{
	my (%k) = @_;
	my $v = $visitors[ $k{who} ];
	my $s = $sessions[ $k{who} ];
	my $name = $k{n} // 'pageview';
	my $q = $k{q} // ++$seq;
	my $extra = '';
	$extra .= qq(,"et":$k{et}) if defined $k{et};
	$extra .= qq(,"ic":$k{ic}) if defined $k{ic};
	$extra .= qq(,"sd":$k{sd}) if defined $k{sd};
	$extra .= qq(,"r":"$k{r}") if defined $k{r};
	$extra .= qq(,"w":$k{w}) if defined $k{w};
	return qq({"d":"example.com","n":"$name","u":"https://example.com$k{path}","v":"$v","s":"$s","q":$q$extra});
}

# [edge, body]: visitor 0 at both edges; visitor 1 out of order (seq 3
# before 2), a repeat at the same edge, and a retry at the other edge.
my @plan;
my $q1 = ++$seq;
my $q2 = ++$seq;
my $q3 = ++$seq;
push @plan,
  [ 'edge1', ev(who => 0, path => '/', r => 'https://news.example.net/x', w => 1280) ],
  [ 'edge2', ev(who => 0, path => '/pricing') ],
  [ 'edge1', ev(who => 0, n => 'heartbeat', path => '/pricing', et => 15000, ic => 3, sd => 60) ],
  [ 'edge2', ev(who => 0, n => 'heartbeat', path => '/pricing', et => 30000, ic => 5, sd => 90) ],
  [ 'edge1', ev(who => 1, path => '/c', q => $q3) ],
  [ 'edge1', ev(who => 1, path => '/a', q => $q1, r => 'https://search.example.org/') ],
  [ 'edge2', ev(who => 1, path => '/b', q => $q2) ],
  [ 'edge2', ev(who => 1, path => '/b', q => $q2) ],    # repeated
  [ 'edge1', ev(who => 2, n => 'signup', path => '/join') ],
  [ 'edge2', ev(who => 3, path => '/?utm_source=mail&utm_medium=email&utm_campaign=fall') ];
my $retry = ev(who => 4, path => '/retry');
push @plan, [ 'edge1', $retry ], [ 'edge2', $retry ];    # retried elsewhere
push @plan, map { [ $_ % 2 ? 'edge1' : 'edge2', ev(who => 5, path => "/p$_") ] } 1 .. 20;

for my $p (@plan)
{
	is(post_to($p->[0], $p->[1]), 204, "$p->[0] acknowledges") or diag $p->[1];
	post_to('single', $p->[1]);
	sleep 0.01;
}

sub wait_center
{
	my ($what) = @_;
	my $want = $single->safe_psql('postgres', 'SELECT count(*) FROM edgestat.events');
	ok($center->poll_query_until('postgres',
			"SELECT count(*) = $want FROM edgestat.events"),
		"center caught up ($what): $want events");
}
wait_center('first beacons');

my $since = "now() - interval '1 day'";
my $until = "now() + interval '1 day'";
my @checks = (
	[ 'events',
		'SELECT visitor_id, session_id, name, path, seq, referrer_host, utm_source, utm_medium,'
		  . ' utm_campaign, scroll, engaged_ms, interactions, viewport, browser, os, device'
		  . ' FROM edgestat.events ORDER BY 1, 2, 5, 3, 4' ],
	[ 'sessions',
		'SELECT session_id, visitor_id, entry_page, exit_page, referrer_host, utm_source,'
		  . ' utm_medium, utm_campaign, country, browser, os, device, events, pageviews,'
		  . ' heartbeats, goals, max_scroll, engaged_ms, interactions'
		  . ' FROM edgestat.sessions ORDER BY 1' ],
	[ 'visitors',
		'SELECT visitor_id, sessions, events, pageviews, heartbeats, goals, max_scroll,'
		  . ' engaged_ms, interactions, score, country FROM edgestat.visitors ORDER BY 1' ],
	[ 'summary',
		"SELECT visitors, visits, pageviews, views_per_visit, bounce_rate"
		  . " FROM edgestat.summary('example.com', $since, $until)" ],
	[ 'timeseries',
		"SELECT * FROM edgestat.timeseries('example.com', $since, $until)" ],
	[ 'rollup_hourly',
		'SELECT site_id, hour, public.hll_cardinality(visitors), pageviews, events'
		  . ' FROM edgestat.rollup_hourly ORDER BY 1, 2' ]);
for my $dim (qw(page entry_page exit_page referrer utm_source utm_medium utm_campaign
	country region city browser os device event))
{
	push @checks,
	  [ "breakdown $dim",
		"SELECT * FROM edgestat.breakdown('example.com', '$dim', $since, $until, 100)"
		  . " ORDER BY 1" ];
}

sub compare_all
{
	my ($when) = @_;
	for my $c (@checks)
	{
		my $want = $single->safe_psql('postgres', $c->[1]);
		is($center->safe_psql('postgres', $c->[1]), $want, "$when: $c->[0] equal");
	}
}
compare_all('merged');

# visit_duration comes from the edges' clocks: close, not equal
my $dur = "SELECT visit_duration FROM edgestat.summary('example.com', $since, $until)";
cmp_ok(abs($center->safe_psql('postgres', $dur) - $single->safe_psql('postgres', $dur)),
	'<', 1, 'visit duration within a second of the single node');

is($center->safe_psql('postgres',
		"SELECT count(*) FROM edgestat.events WHERE path = '/retry'"),
	'1', 'an event two edges acknowledged is stored once');
like($center->safe_psql('postgres',
		"SELECT string_agg(name || ':' || state || ':' || (lag_bytes IS NOT NULL)"
		  . " || ':' || (last_event IS NOT NULL), ',') FROM edgestat.edges()"),
	qr/^e1:streaming:true:true,e2:streaming:true:true$/, 'edges() shows both streaming');

# ---- the edges in the center's /metrics ----

sub metrics
{
	local $EdgestatHTTP::port = $port{center};
	return http('GET', '/metrics')->{body};
}
# an edge's lag is measured at its merges: one more beacon each
post_to('edge1', ev(who => 5, path => '/m1'));
post_to('edge2', ev(who => 5, path => '/m2'));
post_to('single', ev(who => 5, path => '/m1', q => $seq - 1));
post_to('single', ev(who => 5, path => '/m2', q => $seq));
wait_center('metrics beacons');
my $m = metrics();
note join("\n", grep { /^edgestat_edge_/ } split /\n/, $m);
for my $e (qw(e1 e2))
{
	like($m, qr/^edgestat_edge_up\{edge="$e"\} 1$/m, "/metrics: $e is up");
	like($m, qr/^edgestat_edge_state\{edge="$e",state="streaming"\} 1$/m,
		"/metrics: $e streams");
	my ($lag) = $m =~ /^edgestat_edge_lag_bytes\{edge="$e"\} (\d+)$/m;
	ok(defined $lag && $lag < 16 * 1024 * 1024, "/metrics: $e lag is sane (" . ($lag // 'none') . ' bytes)');
	my ($age) = $m =~ /^edgestat_edge_last_event_seconds\{edge="$e"\} ([-\d.]+)$/m;
	ok(defined $age && $age > -5 && $age < 120, "/metrics: $e last event " . ($age // 'none') . ' s ago');
	my ($merged) = $m =~ /^edgestat_edge_merged_events_total\{edge="$e"\} (\d+)$/m;
	cmp_ok($merged // 0, '>', 0, "/metrics: events merged from $e");
}
# once the center has caught up and the edges' keepalives arrived, no lag
ok(poll_until(sub {
			my $x = metrics();
			my @l = $x =~ /^edgestat_edge_lag_bytes\{edge="e\d"\} (\d+)$/mg;
			return @l == 2 && !grep { $_ > 0 } @l;
		}),
	'/metrics: no lag left once caught up');

# a scrape reads no catalog: it answers while the edges' catalogs are locked
my $holder = $center->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK edgestat.edge_nodes, pg_catalog.pg_subscription IN ACCESS EXCLUSIVE MODE');
my $t0 = time;
my $locked_scrape = do
{
	local $EdgestatHTTP::port = $port{center};
	http('GET', '/metrics', timeout => 5);
};
cmp_ok(time - $t0, '<', 2, '/metrics answers at once with edge_nodes and pg_subscription locked');
like($locked_scrape->{body}, qr/^edgestat_edge_up\{edge="e1"\} 1$/m, 'and still shows the edges');
$holder->query_safe('ROLLBACK');
$holder->quit;

sub poll_until
{
	my ($f) = @_;
	for (1 .. 100)
	{
		return 1 if $f->();
		sleep 0.2;
	}
	return 0;
}

# ---- the center stopped for a while ----

$center->stop;
for my $i (1 .. 30)
{
	my $b = ev(who => 5, path => "/down$i");
	is(post_to($i % 2 ? 'edge1' : 'edge2', $b), 204, 'an edge acknowledges with the center down')
	  if $i == 1 || $i == 30;
	post_to($i % 2 ? 'edge1' : 'edge2', $b) unless $i == 1 || $i == 30;
	post_to('single', $b);
}
sleep 1;
$center->start;
wait_center('after its restart');
compare_all('after the center restarted');

# ---- an edge killed with -9 under load ----

my @acked;
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0)
{
	# the load: acknowledged bodies are written out, one path a line
	open my $fh, '>', "$PostgreSQL::Test::Utils::tmp_check/acked" or die;
	$fh->autoflush(1);
	for my $i (1 .. 400)
	{
		my $path = "/load$i";
		my $st = post_to('edge1', ev(who => 5, path => $path, q => 100000 + $i));
		print $fh "$path\n" if $st == 204;
	}
	close $fh;
	# not exit: the END blocks of the parent's clusters must not run here
	POSIX::_exit(0);
}
sleep 1.5;
my $edge1_pid = $edge1->{_pid};
$edge1->kill9;
waitpid($pid, 0);
open my $fh, '<', "$PostgreSQL::Test::Utils::tmp_check/acked" or die;
chomp(@acked = <$fh>);
close $fh;
cmp_ok(scalar(@acked), '>', 0, scalar(@acked) . ' events acknowledged before the kill');
# the killed postmaster's children may still hold its shared memory a moment
for (1 .. 300)
{
	last unless kill(0, $edge1_pid);
	sleep 0.1;
}
sleep 2;
my $restarted = $edge1->start(fail_ok => 1);
ok($restarted, 'the killed edge restarts');
my $list = join(',', map { "'$_'" } @acked);
ok($center->poll_query_until('postgres',
		"SELECT count(DISTINCT path) = " . scalar(@acked)
		  . " FROM edgestat.events WHERE path IN ($list)"),
	'every event the killed edge acknowledged reached the center');
is($center->safe_psql('postgres',
		"SELECT count(*) FROM edgestat.events WHERE path LIKE '/load%'"),
	$edge1->safe_psql('postgres',
		"SELECT count(*) FROM edgestat.events WHERE path LIKE '/load%'"),
	'the center has exactly the edge\'s rows, no more');

# ---- retention on an edge keeps what the center has not received ----

$center->stop;
my $old_parts = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'edgestat.events'::regclass"
  . " AND inhrelid::regclass::text LIKE '%' || to_char(current_date - 10, 'YYYYMMDD') || '%'";
$edge2->safe_psql('postgres', qq{
	SELECT edgestat.create_day_partition(current_date - 10);
	INSERT INTO edgestat.events (ts, site_id, visitor_id, session_id, name, path, seq)
	SELECT now() - interval '10 days', 1, '$visitors[5]', gen_random_uuid(), 'pageview', '/old', 1;
});
is($edge2->safe_psql('postgres', $old_parts), '1', 'an old day on the edge');
is($edge2->safe_psql('postgres', "SELECT edgestat.apply_retention('1 day')"), '0',
	'retention drops nothing the center has not received');
is($edge2->safe_psql('postgres', $old_parts), '1', 'the old day is kept');
$center->start;
ok($center->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM edgestat.events WHERE path = '/old'"),
	'the center receives the old day');
ok($edge2->poll_query_until('postgres',
		"SELECT edgestat.apply_retention('1 day') >= 0 AND ($old_parts) = 0"),
	'then retention drops it on the edge');

# ---- detach ----

$center->safe_psql('postgres', "SELECT edgestat.detach_edge('e2')");
is($edge2->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'detach dropped the slot on the edge');
is($center->safe_psql('postgres', "SELECT count(*) FROM pg_subscription"), '1',
	'and the subscription on the center');
is($edge2->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription'), '0',
	'and the edge\'s subscription to the center\'s sites');
is($center->safe_psql('postgres',
		"SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'edgesites_e2'"),
	'0', 'and that subscription\'s slot on the center');
$m = metrics();
unlike($m, qr/edge="e2"/, '/metrics no longer shows the detached edge');
ok(poll_until(sub { metrics() =~ /^edgestat_edge_up\{edge="e1"\} 1$/m }),
	'/metrics still shows the other, streaming');

# an edge that is down when detached: its slot is reported, then dropped
$edge1->stop;
($rc, $out, $err) = $center->psql('postgres', "SELECT edgestat.detach_edge('e1')");
like($err, qr/could not be reached.*DROP SUBSCRIPTION edgestat_sites/s,
	'detaching an unreachable edge warns, with the SQL to run there');
is($center->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'no slot for the unreachable edge is left on the center');
like(metrics(), qr/^edgestat_edge_state\{edge="e1",state="detached, slot left on edge"\} 1$/m,
	'/metrics shows the slot left behind');
is($center->safe_psql('postgres', "SELECT state FROM edgestat.edges()"),
	'detached, slot left on edge', 'edges() shows the slot left behind');
$edge1->start;
$center->safe_psql('postgres', "SELECT edgestat.detach_edge('e1')");
is($edge1->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'detaching again when it is back drops the slot');
is($edge1->safe_psql('postgres', 'SELECT count(*) FROM pg_subscription'), '0',
	'and its subscription to the center\'s sites');
unlike(metrics(), qr/edgestat_edge_/, '/metrics shows no edge any more');
is($center->safe_psql('postgres', 'SELECT count(*) FROM edgestat.edges()'), '0',
	'no edge left');

done_testing();
