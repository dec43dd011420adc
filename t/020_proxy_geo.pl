# Which address a beacon is counted against: the TCP peer, or through
# edgestat.trusted_proxies the right-most untrusted X-Forwarded-For entry;
# seen through geolocation and rate limiting.  SIGHUP swaps the GeoIP
# database, the proxy list and the rate limit without a restart.
use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('proxy');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
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

# ---- a small HTTP client: raw sockets, so garbage can be sent too ----

sub raw
{
	my ($data, $timeout) = @_;
	$timeout //= 10;
	my $s = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		Proto => 'tcp',
		Timeout => 5) or return undef;
	binmode $s;
	$s->syswrite($data) if length $data;
	my $sel = IO::Select->new($s);
	my $buf = '';
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		last unless $sel->can_read($deadline - time);
		my $n = $s->sysread(my $chunk, 65536);
		last unless $n;
		$buf .= $chunk;
	}
	close $s;
	return $buf;
}

sub parse
{
	my ($raw) = @_;
	return { status => 0, headers => {}, body => '' }
	  unless defined $raw && $raw =~ /\r\n\r\n/;
	my ($head, $body) = split /\r\n\r\n/, $raw, 2;
	my @lines = split /\r\n/, $head;
	my ($status) = $lines[0] =~ m{^HTTP/1\.\d (\d{3})};
	my %h;
	for (@lines[ 1 .. $#lines ])
	{
		my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
		$h{ lc $k } = exists $h{ lc $k } ? "$h{lc $k}, $v" : $v;
	}
	if (($h{'transfer-encoding'} // '') =~ /chunked/i)
	{
		my $out = '';
		while ($body =~ s/^([0-9a-fA-F]+)\r\n//)
		{
			my $n = hex $1;
			last if $n == 0;
			$out .= substr($body, 0, $n, '');
			$body =~ s/^\r\n//;
		}
		$body = $out;
	}
	return { status => $status // 0, headers => \%h, body => $body };
}

sub http
{
	my ($method, $path, %o) = @_;
	my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nConnection: close\r\n";
	my $h = $o{headers} // {};
	$req .= "$_: $h->{$_}\r\n" for sort keys %$h;
	$req .= "Content-Length: " . length($o{body}) . "\r\n"
	  if defined $o{body} && !$o{no_length};
	$req .= "\r\n";
	$req .= $o{body} if defined $o{body};
	return parse(raw($req, $o{timeout}));
}

my $ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
my $n = 0;

sub uuid
{
	return sprintf('%08x-%04x-4%03x-8%03x-%012x',
		int(rand(2**32)), int(rand(2**16)), int(rand(2**12)),
		int(rand(2**12)), int(rand(2**47)));
}

sub beacon
{
	my (%k) = @_;
	my $d = $k{d} // 'example.com';
	my $u = $k{u} // "https://$d/p" . $n++;
	my $v = $k{v} // uuid();
	my $s = $k{s} // uuid();
	my $name = $k{n} // 'pageview';
	return qq({"d":"$d","n":"$name","u":"$u","v":"$v","s":"$s"});
}

sub post
{
	my ($body, %h) = @_;
	return http('POST', '/e', body => $body,
		headers => { 'User-Agent' => $ua, 'Content-Type' => 'text/plain', %h });
}

sub rows
{
	return $node->safe_psql('postgres', 'SELECT count(*) FROM edgestat.events');
}

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
