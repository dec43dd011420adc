# Dashboard reports run off the ingest loop (issue 10, item 4): /api/*
# is answered by the "edgestat api" worker, so a slow report in flight
# does not delay beacons, /healthz or other requests of the HTTP worker.
use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('apiworker');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");
my $up = 0;
for (1 .. 100)
{
	if (http('GET', '/healthz')->{status} == 200) { $up = 1; last }
	sleep 0.1;
}
ok($up, 'worker up');
my $api_up = 0;
for (1 .. 100)
{
	if ($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'edgestat api'") eq '1')
	{
		$api_up = 1;
		last;
	}
	sleep 0.1;
}
ok($api_up, 'the edgestat api worker runs');

my $token = $node->safe_psql('postgres', "SELECT edgestat.dashboard_token('example.com')");
my %auth = (Authorization => "Bearer $token");
is(post(beacon())->{status}, 204, 'a beacon');
my $r = http('GET', '/api/summary', headers => \%auth);
is($r->{status}, 200, '/api/summary answered by the api worker');
like($r->{body}, qr/"pageviews"\s*:\s*1\b/, 'with the report');
is(http('GET', '/api/site', headers => { Authorization => 'Bearer ' . ('0' x 64) })->{status},
	401, 'a bad token: 401, as before');
$r = http('GET', '/api/summary?since=garbage', headers => \%auth);
is($r->{status}, 400, 'a bad parameter: 400, as before');
like($r->{body}, qr/"error"/, 'with the reason');

# a slow report: dashboard_api sleeps 3 s for the endpoint "slow"
$node->safe_psql('postgres', q{
	ALTER FUNCTION edgestat.dashboard_api(text, text, jsonb) RENAME TO dashboard_api_saved;
	CREATE FUNCTION edgestat.dashboard_api(token text, endpoint text, params jsonb)
	RETURNS json LANGUAGE plpgsql AS $$
	BEGIN
		IF endpoint = 'slow' THEN PERFORM pg_sleep(3); END IF;
		RETURN edgestat.dashboard_api_saved(token, endpoint, params);
	END $$;
});
my @slow;
for (1 .. 2)
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
	# ?token= (still accepted in 1.1), so that this runs against 1.0 too
	$s->syswrite("GET /api/slow?token=$token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	push @slow, $s;
}
my $t_slow = time;
sleep 0.3;
my @lat;
for (1 .. 5)
{
	my $t0 = time;
	my $st = post(beacon())->{status};
	push @lat, time - $t0;
	is($st, 204, "beacon $_ during two slow reports: 204");
}
my $worst = (sort { $b <=> $a } @lat)[0];
ok($worst < 1, sprintf('every beacon answered within 1 s (worst %.3f s)', $worst));
my $t0 = time;
is(http('GET', '/healthz')->{status}, 200, '/healthz during the slow reports');
ok(time - $t0 < 1, '/healthz within 1 s');
ok(time - $t_slow < 3, 'all of that before the first slow report could have finished');

# the slow reports still get their answers
for my $s (@slow)
{
	my $buf = '';
	my $sel = IO::Select->new($s);
	my $deadline = time + 15;
	while (time < $deadline && $sel->can_read($deadline - time))
	{
		my $n = $s->sysread(my $c, 65536);
		last unless $n;
		$buf .= $c;
	}
	like($buf, qr{^HTTP/1\.1 400}, 'a slow report is answered in the end (unknown endpoint: 400)');
}
is(rows($node), 6, 'every beacon stored');

# many requests at once, two sites: every answer is its own request's
# (or 503 while all 16 slots are taken), never another's
$node->safe_psql('postgres', "SELECT edgestat.add_site('other.org')");
my %tok = map { $_ => $node->safe_psql('postgres', "SELECT edgestat.dashboard_token('$_')") }
  qw(example.com other.org);
my @reqs;
for my $i (1 .. 40)
{
	my $site = $i % 2 ? 'example.com' : 'other.org';
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
	$s->syswrite("GET /api/site HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok{$site}\r\nConnection: close\r\n\r\n");
	push @reqs, [ $site, $s ];
}
my ($right, $busy, $wrong) = (0, 0, 0);
for my $req (@reqs)
{
	my ($site, $s) = @$req;
	my $buf = '';
	my $sel = IO::Select->new($s);
	my $deadline = time + 15;
	while (time < $deadline && $sel->can_read($deadline - time))
	{
		my $n = $s->sysread(my $c, 65536);
		last unless $n;
		$buf .= $c;
	}
	if ($buf =~ m{^HTTP/1\.1 200} && $buf =~ /"domain"\s*:\s*"\Q$site\E"/) { $right++ }
	elsif ($buf =~ m{^HTTP/1\.1 503}) { $busy++ }
	else { $wrong++; diag($buf) }
}
is($wrong, 0, "40 concurrent /api requests: $right answered right, $busy busy, none wrong");
ok($right >= 16, 'at least a slot\'s worth answered');

$node->stop;
done_testing();
