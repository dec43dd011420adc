# Limits keyed by what a client cannot multiply (issue 10, item 9): the
# rate limit takes an IPv6 client by its /64, since one subscriber has
# 2^64 addresses.  Addresses come through X-Forwarded-For from a trusted
# proxy, so that a loopback test can be many IPv6 clients.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('keyed');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 3
edgestat.trusted_proxies = '127.0.0.1/32'
edgestat.max_connections_per_ip = 3
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

sub from { return post(beacon(), 'X-Forwarded-For' => $_[0])->{status} }

# five addresses of one /64, one beacon each: the limit of 3 is the /64's
my @st = map { from("2001:db8:1:2::$_") } 1 .. 5;
is("@st", '204 204 204 429 429', 'IPv6 addresses of one /64 share one bucket');
@st = map { from("2001:db8:1:2:ffff:$_\::1") } 1 .. 2;
is("@st", '429 429', 'whatever the interface identifier');
is(from('2001:db8:1:3::1'), 204, 'the next /64 is another client');
is(from('2001:db8:1:4::1'), 204, 'and so is any other /64');

# IPv4 clients stay one address each
@st = map { from("198.51.100.$_") } 1 .. 4;
is("@st", '204 204 204 204', 'IPv4: per address');
@st = map { from('198.51.100.9') } 1 .. 4;
is("@st", '204 204 204 429', 'IPv4: one address, the limit');

# connections per client: IPv4 per address (an IPv6 client is its /64,
# which a loopback test cannot show: only ::1 is local)
{
	use IO::Select;
	use IO::Socket::INET;
	my @held = map {
		IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die
	} 1 .. 3;
	sleep 0.3;
	my $fourth = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
	my $refused = IO::Select->new($fourth)->can_read(3) && !$fourth->sysread(my $x, 1);
	ok($refused, 'a fourth connection from one address is closed at once');
	close $_ for @held;
	sleep 0.5;
	is(http('GET', '/healthz')->{status}, 200, 'once they close, the address is served again');
}

$node->stop;
done_testing();
