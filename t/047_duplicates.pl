# A duplicate is answered as its original is: when the original is in the
# batch still open, the duplicate waits for that batch, and if the batch
# fails both are answered 503 (a 204 would have said "stored" for an event
# that is not).  A duplicate of a committed event is 204.
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

my $node = PostgreSQL::Test::Cluster->new('dups');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.flush_interval = 1000
edgestat.lock_timeout = 500
edgestat.maintenance = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");
my $r;
for (1 .. 100)
{
	$r = post(beacon(u => 'https://example.com/first'));
	last if $r->{status} == 204;
	sleep 0.1;
}
is($r->{status}, 204, 'worker serves');

sub send_beacon
{
	my ($body) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
	binmode $s;
	$s->syswrite("POST /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		  . "User-Agent: $EdgestatHTTP::ua\r\nContent-Length: "
		  . length($body) . "\r\n\r\n$body");
	return $s;
}

sub answer
{
	my ($s) = @_;
	my $buf = '';
	my $sel = IO::Select->new($s);
	while ($sel->can_read(10))
	{
		my $n = $s->sysread(my $chunk, 65536);
		last unless $n;
		$buf .= $chunk;
	}
	close $s;
	return $buf =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0;
}

# The batch of the original will fail: this hour's rollup row is locked.
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe(
	"SELECT 1 FROM edgestat.rollup_hourly WHERE hour = date_trunc('hour', now(), 'UTC') FOR UPDATE");

# An idle connection keeps the batch open for flush_interval.
my $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
my $body = beacon(u => 'https://example.com/original');
my $original = send_beacon($body);
sleep 0.2;
my $t0 = time;
my $duplicate = send_beacon($body);
my $dup_status = answer($duplicate);
my $orig_status = answer($original);
is($orig_status, 503, 'the original: its batch failed, 503');
is($dup_status, 503, 'the duplicate waited for that batch and is answered 503 too');
cmp_ok(time - $t0, '>', 0.5, 'it was not answered before the batch ended');
is($node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events WHERE path = '/original'"),
	'0', 'nothing stored');

$holder->query_safe('COMMIT');
$holder->quit;
close $idle;
$r = post($body);
is($r->{status}, 204, 'the retry is stored: 204');
$r = post($body);
is($r->{status}, 204, 'a duplicate of a committed event: 204');
is($node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events WHERE path = '/original'"),
	'1', 'stored once');
is( $node->safe_psql('postgres', "SELECT value >= 2 FROM edgestat.stats() WHERE name = 'duplicates'"),
	't', 'duplicates counted');

$node->stop;
done_testing();
