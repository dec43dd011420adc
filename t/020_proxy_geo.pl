# Which address a beacon is counted against: the TCP peer, or through
# edgestat.trusted_proxies the right-most untrusted X-Forwarded-For entry;
# seen through geolocation and rate limiting.  SIGHUP swaps the GeoIP
# database, the proxy list and the rate limit without a restart.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('proxy');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
my $dir = $node->basedir;
my $tool = "$ENV{TESTDIR}/test/geoip/make-mmdb.pl";
system('perl', $tool, "$dir/a.mmdb", 'a') == 0 or die "make-mmdb a failed";
system('perl', $tool, "$dir/b.mmdb", 'b') == 0 or die "make-mmdb b failed";
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.dedup_window = 0
edgestat.geoip_database = '$dir/a.mmdb'
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");
for (1 .. 100)
{
	last if http('GET', '/healthz')->{status} == 200;
	sleep 0.1;
}

# where did the event with this path come from?
my $seq = 0;

sub geo_of
{
	my (%h) = @_;
	my $path = '/g' . $seq++;
	my $r = post(beacon(u => "https://example.com$path"), %h);
	return "status $r->{status}" unless $r->{status} == 204;
	return $node->safe_psql('postgres',
		"SELECT coalesce(country, '-') || '/' || coalesce(city, '-') FROM edgestat.events WHERE path = '$path'");
}

sub set_conf
{
	$node->append_conf('postgresql.conf', join('', map { "$_\n" } @_));
	$node->reload;
	# the worker applies SIGHUP between two requests; give it a moment
	sleep 1;
}

is(geo_of(), '-/-', 'peer 127.0.0.1 is not in the GeoIP database');
is(geo_of('X-Forwarded-For' => '192.0.2.5'), '-/-',
	'X-Forwarded-For from an untrusted peer is ignored');

set_conf("edgestat.trusted_proxies = '127.0.0.0/8, 10.0.0.0/8, fd00::/8'");
is(geo_of('X-Forwarded-For' => '192.0.2.5'), 'DE/Berlin',
	'trusted peer: X-Forwarded-For is the client');
is(geo_of('X-Forwarded-For' => '203.0.113.9, 10.1.2.3'), 'JP/Tokyo',
	'trusted hops on the right are skipped');
is(geo_of('X-Forwarded-For' => '203.0.113.9, 198.51.100.7'), 'US/San Francisco',
	'the right-most untrusted entry wins, not the left-most (spoofable) one');
is(geo_of('X-Forwarded-For' => 'garbage, 198.51.100.7:4711'), 'US/San Francisco',
	'garbage left of the chosen entry is ignored; ports are stripped');
is(geo_of('X-Forwarded-For' => '2001:db8::1, fd00::1'), 'FR/Paris',
	'IPv6 entries and IPv6 trusted networks');
is(geo_of('X-Forwarded-For' => '[2001:db8::2]:443'), 'FR/Paris',
	'bracketed IPv6 with port');
is(geo_of('X-Forwarded-For' => '10.0.0.1, 10.0.0.2'), '-/-',
	'all entries trusted: the left-most one (not in the database)');
{
	# two X-Forwarded-For headers are one list, in order
	my $path = '/g' . $seq++;
	my $b = beacon(u => "https://example.com$path");
	my $r = parse(raw("POST /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: $ua\r\n"
		  . "X-Forwarded-For: 192.0.2.77\r\nX-Forwarded-For: 10.9.9.9\r\n"
		  . "Content-Length: " . length($b) . "\r\n\r\n$b"));
	is($r->{status}, 204, 'two X-Forwarded-For headers: 204');
	is( $node->safe_psql('postgres', "SELECT country FROM edgestat.events WHERE path = '$path'"),
		'DE', 'two X-Forwarded-For headers are joined in order');
}

# SIGHUP swaps the database: the same address is now in Munich
set_conf("edgestat.geoip_database = '$dir/b.mmdb'");
is(geo_of('X-Forwarded-For' => '192.0.2.5'), 'DE/Munich',
	'SIGHUP: new GeoIP database in use without restart');

# rate limiting follows the chosen address
set_conf("edgestat.rate_limit = 2");
my @a = map { post(beacon(), 'X-Forwarded-For' => '192.0.2.10')->{status} } 1 .. 3;
is("@a", '204 204 429', 'rate limit 2 per client address (from X-Forwarded-For)');
my @b = map { post(beacon(), 'X-Forwarded-For' => '192.0.2.11')->{status} } 1 .. 2;
is("@b", '204 204', 'another forwarded client has its own bucket');

# untrusted again: every request counts against the peer, whatever it claims
set_conf("edgestat.trusted_proxies = ''");
my @c = map { post(beacon(), 'X-Forwarded-For' => "192.0.2.1$_")->{status} } 1 .. 3;
is("@c", '204 204 429', 'untrusted peer: one bucket, X-Forwarded-For cannot dodge it');

# a bad list on SIGHUP keeps the old one and warns
set_conf("edgestat.trusted_proxies = '127.0.0.1/99'");
ok($node->log_contains(qr/edgestat.trusted_proxies ignored/), 'bad proxy list: warning');
is(http('GET', '/healthz')->{status}, 200, 'bad proxy list: worker keeps serving');

$node->stop;
done_testing();
