# The lean hot path: what a batch no longer does, and what can no longer
# make it fail or stall.  A path of 2,020 four-byte characters is stored
# cut and fails no innocent beacon; a mistyped edgestat.retention is
# refused and ingestion goes on; the partition upkeep's advisory lock
# cannot stall POST /e, and a lock on a rollup row stalls it no longer
# than edgestat.lock_timeout (503 with a reason, then 204 again); the
# maintenance worker seals hours, creates partitions and reports itself.
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

my $node = PostgreSQL::Test::Cluster->new('hotpath');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.lock_timeout = 500
edgestat.maintenance_interval = 1
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");

sub wait_for_http
{
	for (1 .. 100)
	{
		return 1 if http('GET', '/healthz')->{status} == 200;
		sleep 0.1;
	}
	return 0;
}
ok(wait_for_http(), 'worker serves');

# Sends every body on its own connection at once, then reads every answer.
sub post_together
{
	my @bodies = @_;
	my @socks;
	for my $body (@bodies)
	{
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
		  or die "connect: $!";
		binmode $s;
		$s->syswrite("POST /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			  . "User-Agent: $EdgestatHTTP::ua\r\nContent-Length: "
			  . length($body) . "\r\n\r\n$body");
		push @socks, $s;
	}
	my @status;
	for my $s (@socks)
	{
		my $buf = '';
		my $sel = IO::Select->new($s);
		while ($sel->can_read(10))
		{
			my $n = $s->sysread(my $chunk, 65536);
			last unless $n;
			$buf .= $chunk;
		}
		push @status, ($buf =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0);
		close $s;
	}
	return @status;
}

# ---- a path of 2,020 four-byte characters ----
my $emoji = "\xF0\x9F\x98\x80";    # U+1F600 as UTF-8 bytes
my $long_path = '/' . ($emoji x 2020);
my @status = post_together(
	beacon(u => "https://example.com$long_path"),
	map { beacon(u => "https://example.com/innocent$_") } 1 .. 4);
is("@status", '204 204 204 204 204', 'a huge path and four innocent beacons: all 204');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM edgestat.events WHERE path LIKE '/innocent%'"),
	'4', 'the innocent beacons are stored');
is( $node->safe_psql('postgres',
		"SELECT octet_length(path) <= 1024 AND octet_length(path) > 1000"
		  . " AND path = '/' || repeat(U&'\\+01F600', (octet_length(path) - 1) / 4)"
		  . " FROM edgestat.events WHERE path LIKE '/' || U&'\\+01F600' || '%'"),
	't', 'the huge path is stored cut at a character boundary, under 1 kB');
is( $node->safe_psql('postgres',
		"SELECT edgestat.ingest('" . beacon(u => "https://example.com$long_path") . "')"),
	'1', 'the same through edgestat.ingest: stored');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM edgestat.breakdown('example.com', 'page', now() - interval '1 hour', now() + interval '1 hour', 100)"
		  . " WHERE octet_length(value) > 1000"),
	'1', 'the cut path is a page of the breakdown');

# ---- a mistyped edgestat.retention ----
my ($ret, $out, $err) = $node->psql('postgres', "ALTER SYSTEM SET edgestat.retention = 'bogus'");
isnt($ret, 0, 'ALTER SYSTEM refuses a mistyped retention');
like($err, qr/invalid value for parameter "edgestat.retention".*\n.*interval/,
	'with a reason');
($ret, $out, $err) = $node->psql('postgres', "ALTER SYSTEM SET edgestat.retention = '1 hour'");
like($err, qr/at least 1 day/, 'a retention under a day is refused too');
# Written into the file behind its back: the reload keeps the old value,
# and a restarted worker ingests as before.
$node->append_conf('postgresql.conf', "edgestat.retention = 'bogus'\n");
$node->reload;
sleep 0.5;
is($node->safe_psql('postgres', 'SHOW edgestat.retention'), '90 days',
	'a bad value in the file is ignored, the old one stays');
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'edgestat http'");
sleep 1;
ok(wait_for_http(), 'the worker comes back');
my $r;
for (1 .. 100)
{
	$r = post(beacon(u => 'https://example.com/after-restart'));
	last if $r->{status} == 204;
	sleep 0.1;
}
is($r->{status}, 204, 'ingestion goes on after a worker restart with a bad retention in the file');

# ---- locks held by other sessions ----
my $holder = $node->background_psql('postgres');
$holder->query_safe("SELECT pg_advisory_lock(x'65647374'::int, 1), pg_advisory_lock(1)");
my $t0 = time;
$r = post(beacon(u => 'https://example.com/advisory'));
my $took = time - $t0;
is($r->{status}, 204, 'advisory locks held elsewhere: 204');
cmp_ok($took, '<', 1, 'and no wait for them');
$holder->query_safe("SELECT pg_advisory_unlock_all()");

# A lock on this hour's rollup row: the batch gives up after lock_timeout.
$holder->query_safe('BEGIN');
$holder->query_safe(
	"SELECT 1 FROM edgestat.rollup_hourly WHERE hour = date_trunc('hour', now(), 'UTC') FOR UPDATE");
$t0 = time;
$r = post(beacon(u => 'https://example.com/locked'));
$took = time - $t0;
is($r->{status}, 503, 'a locked rollup row: 503');
like($r->{body}, qr/^503 .*retry/, 'with a reason');
cmp_ok($took, '<', 2.5, 'answered within lock_timeout, not when the lock goes');
is(http('GET', '/healthz')->{status}, 200, '/healthz answers meanwhile');
$holder->query_safe('COMMIT');
$r = post(beacon(u => 'https://example.com/unlocked'));
is($r->{status}, 204, 'the lock gone: 204');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM edgestat.events WHERE path IN ('/locked', '/unlocked')"),
	'1', 'the refused beacon was not stored, the later one was');

# ---- failed batches leave no memory behind ----
# 1,000 batches fail on a locked rollup row (lock_timeout 1 ms); the
# worker's memory contexts are then the same as after the first 100.
$node->safe_psql('postgres', 'ALTER SYSTEM SET edgestat.lock_timeout = 1');
$node->reload;
sleep 0.5;
$holder->query_safe('BEGIN');
$holder->query_safe(
	"SELECT 1 FROM edgestat.rollup_hourly WHERE hour = date_trunc('hour', now(), 'UTC') FOR UPDATE");
my $worker_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'edgestat http'");

# the worker's memory, as pg_log_backend_memory_contexts writes it
sub worker_memory
{
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($worker_pid)");
	post(beacon(u => 'https://example.com/wake'));    # it logs when it runs
	my $log = '';
	for (1 .. 50)
	{
		$log = substr(slurp_file($node->logfile), $offset);
		last if $log =~ /Grand total: \d+ bytes/;
		sleep 0.1;
	}
	my ($total) = $log =~ /Grand total: (\d+) bytes/;
	my $writes = () = $log =~ /edgestat write/g;
	return ($total // -1, $writes);
}

my $failed = 0;
for my $i (1 .. 1000)
{
	$failed++ if post(beacon(u => "https://example.com/fail$i"))->{status} == 503;
	if ($i == 100)
	{
		my ($total, $writes) = worker_memory();
		$node->{edgestat_memory_100} = $total;
	}
}
my ($total, $writes) = worker_memory();
cmp_ok($failed, '>=', 990, "1,000 beacons on a locked row: $failed answered 503");
is($writes, 0, 'no "edgestat write" context is left behind');
cmp_ok($total - $node->{edgestat_memory_100}, '<', 64 * 1024,
	"worker memory flat: $node->{edgestat_memory_100} bytes after 100 failed batches, $total after 1,000");
$holder->query_safe('COMMIT');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET edgestat.lock_timeout');
$node->reload;
$holder->quit;

# ---- a request without a User-Agent is a script's, not a browser's ----
$r = http('POST', '/e', body => beacon(u => 'https://example.com/no-agent'));
is($r->{status}, 204, 'no User-Agent: 204');
is( $node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events WHERE path = '/no-agent'"),
	'0', 'no User-Agent: dropped as a bot');

# ---- the maintenance worker ----
is( $node->safe_psql('postgres',
		"SELECT application_name FROM pg_stat_activity WHERE backend_type = 'edgestat maintenance'"),
	'edgestat maintenance', 'the maintenance worker runs, named');
$node->safe_psql('postgres',
	"INSERT INTO edgestat.rollup_open SELECT site_id, '2020-01-01 10:00+00' FROM edgestat.sites");
my $sealed = 0;
for (1 .. 100)
{
	$sealed = $node->safe_psql('postgres',
		"SELECT count(*) = 0 FROM edgestat.rollup_open WHERE hour = '2020-01-01 10:00+00'");
	last if $sealed eq 't';
	sleep 0.1;
}
is($sealed, 't', 'it seals hours that ended more than two hours ago');
is( $node->safe_psql('postgres',
		"SELECT count(*) >= 3 FROM pg_inherits WHERE inhparent = 'edgestat.events'::regclass"
		  . " AND inhrelid::regclass::text LIKE 'edgestat.events_2%'"),
	't', 'it creates the daily partitions ahead');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM edgestat.stats() WHERE name IN ('maintenance_rounds', 'hours_sealed', 'partitions_created') AND value > 0"),
	'3', 'its counters are in edgestat.stats()');
like(http('GET', '/metrics')->{body}, qr/^edgestat_hours_sealed_total [1-9]/m,
	'and in /metrics');

$node->stop;
done_testing();
