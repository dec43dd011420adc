# /live and dashboard tokens under hostile conditions (issue 10, items 7, 8
# and 10): frames longer than 1 KB arrive whole and valid (JSON, UTF-8);
# work rolled back to a savepoint never reaches the feed; streams are
# capped, a reader that stops reading is closed without ever getting part
# of a frame; tokens travel in an Authorization header, expire, and a
# revoked or expired token's open streams are closed.
use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('streams');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.live_max_streams = 4
edgestat.live_buffer = 64
edgestat.live_stream_timeout = 3
edgestat.live_token_recheck = 1
edgestat.max_body = 1048576
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

my $token = $node->safe_psql('postgres', "SELECT edgestat.dashboard_token('example.com')");
my %bearer = ('Authorization' => "Bearer $token");

# ---- the token in a header ----
my $r = http('GET', '/api/site', headers => \%bearer);
is($r->{status}, 200, '/api: Authorization: Bearer accepted');
is(http('GET', '/api/site', headers => { Authorization => 'Bearer ' . ('0' x 64) })->{status},
	401, '/api: a wrong bearer token is 401');
is(http('GET', '/api/site')->{status}, 401, '/api: no token is 401');
is(http('GET', "/api/site?token=$token")->{status}, 200, '/api: ?token= still works in 1.1');
is( $node->safe_psql('postgres',
		q{SELECT expires_at BETWEEN now() + interval '29 days' AND now() + interval '31 days'
		  FROM edgestat.dashboard_tokens}),
	't', 'a token from dashboard_token(site) expires in 30 days');

# ---- a stream reader: chunked, frames split on blank lines ----
sub open_live
{
	my (%o) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
	  or die "connect: $!";
	my $auth = $o{token} ? "Authorization: Bearer $o{token}\r\n" : '';
	$s->syswrite("GET /live HTTP/1.1\r\nHost: x\r\n$auth\r\n");
	return { sock => $s, raw => '', eof => 0 };
}

sub pump
{
	my ($l, $secs, $until) = @_;
	my $sel = IO::Select->new($l->{sock});
	my $deadline = time + $secs;
	while (!$l->{eof} && time < $deadline)
	{
		last if $until && $until->($l);
		next unless $sel->can_read(0.1);
		my $n = $l->{sock}->sysread(my $c, 65536);
		if (!$n) { $l->{eof} = 1; last }
		$l->{raw} .= $c;
	}
	return $l;
}

# the body of a chunked response, as far as it got (a cut chunk is kept
# as it is: the frame splitting below drops an unfinished frame, as
# EventSource does)
sub body_of
{
	my ($raw) = @_;
	my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
	return ('', $head // '') unless defined $rest;
	my $out = '';
	while ($rest =~ s/^([0-9a-fA-F]+)\r\n//)
	{
		my $n = hex $1;
		last if $n == 0;
		$out .= substr($rest, 0, $n, '');
		$rest =~ s/^\r\n//;
	}
	return ($out, $head);
}

sub frames
{
	my ($l) = @_;
	my ($body) = body_of($l->{raw});
	my @f;
	while ($body =~ s/^(.*?)\n\n//s) { push @f, $1 }
	return map { /^data: (.*)$/s ? $1 : () } @f;
}

# ---- whole frames over 1 KB, valid UTF-8 ----
{
	my $l = pump(open_live(token => $token), 5, sub { $_[0]{raw} =~ /connected/ });
	my (undef, $head) = body_of($l->{raw});
	like($head, qr{^HTTP/1\.1 200}, '/live: 200 with a bearer token');
	my $path = '/' . ("\x{e9}" x 450) . '-end';
	my $json = JSON::PP->new->utf8;
	my $v = uuid();
	my $body = $json->encode({ d => 'example.com', n => 'pageview',
		u => "https://example.com$path", v => $v, s => uuid() });
	is(post($body)->{status}, 204, 'a beacon with a 900-byte UTF-8 path');
	pump($l, 5, sub { scalar grep { /\Q$v\E/ } frames($_[0]) });
	my ($frame) = grep { /\Q$v\E/ } frames($l);
	ok(defined $frame && length($frame) > 1024, 'its frame is longer than 1,024 bytes')
	  or diag('length ' . length($frame // ''));
	my $ev = eval { $json->decode($frame // '') };
	ok($ev, 'the frame is valid JSON in valid UTF-8') or diag($@);
	is($ev->{path}, $path, 'the path arrives whole') if $ev;

	# ---- rolled back to a savepoint: never on the feed ----
	my ($v1, $v2) = (uuid(), uuid());
	my $ua = $EdgestatHTTP::ua;
	$node->safe_psql('postgres', qq{
		BEGIN;
		SAVEPOINT s;
		SELECT edgestat.ingest('{"d":"example.com","n":"pageview","u":"https://example.com/undone","v":"$v1","s":"${\ uuid()}"}', '192.0.2.7', '$ua');
		ROLLBACK TO SAVEPOINT s;
		SELECT edgestat.ingest('{"d":"example.com","n":"pageview","u":"https://example.com/kept","v":"$v2","s":"${\ uuid()}"}', '192.0.2.7', '$ua');
		COMMIT;
	});
	pump($l, 5, sub { scalar grep { /\Q$v2\E/ } frames($_[0]) });
	ok((grep { /\Q$v2\E/ } frames($l)), 'the committed event is on the feed');
	ok(!(grep { /\Q$v1\E/ } frames($l)), 'the event rolled back to a savepoint is not');

	# ---- revoke closes the open stream ----
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT edgestat.dashboard_revoke('$token')");
	pump($l, 8);
	ok($l->{eof}, 'revoking the token closes its open stream');
	ok(time - $t0 < 5, 'within seconds');
	is(http('GET', '/api/site', headers => \%bearer)->{status}, 401, 'and /api refuses it');
}

# ---- expiry ----
{
	my $short = $node->safe_psql('postgres',
		"SELECT edgestat.dashboard_token('example.com', interval '3 seconds')");
	is(http('GET', '/api/site', headers => { Authorization => "Bearer $short" })->{status},
		200, 'a token valid for 3 s works at first');
	my $l = pump(open_live(token => $short), 3, sub { $_[0]{raw} =~ /connected/ });
	like($l->{raw}, qr/connected/, 'and opens a stream');
	pump($l, 8);
	ok($l->{eof}, 'its stream is closed once it expired');
	is(http('GET', '/api/site', headers => { Authorization => "Bearer $short" })->{status},
		401, 'an expired token is 401');
}

# ---- at most edgestat.live_max_streams (4) ----
{
	my $t = $node->safe_psql('postgres', "SELECT edgestat.dashboard_token('example.com')");
	my @open = map { pump(open_live(token => $t), 3, sub { $_[0]{raw} =~ /connected/ }) } 1 .. 4;
	is(scalar(grep { $_->{raw} =~ /connected/ } @open), 4, 'four streams open');
	$r = http('GET', '/live', headers => { Authorization => "Bearer $t" }, timeout => 3);
	is($r->{status}, 503, 'the fifth is refused with 503');
	like($r->{body}, qr/live_max_streams/, 'naming the setting');
	close $_->{sock} for @open;
	sleep 0.5;

	# ---- a reader that stops reading: closed, frames whole or absent ----
	# (the four closed streams are noticed by the server shortly)
	my $slow;
	for (1 .. 20)
	{
		my $s;
		socket($s, Socket::PF_INET, Socket::SOCK_STREAM, 0) or die;
		setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096) or die;
		connect($s, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1'))) or die;
		binmode $s;
		syswrite($s, "GET /live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $t\r\n\r\n");
		$slow = { sock => $s, raw => '', eof => 0 };
		pump($slow, 3, sub { $_[0]{raw} =~ /connected|\r\n\r\n.*503/s });
		last if $slow->{raw} =~ /connected/;
		close $s;
		sleep 0.5;
	}
	like($slow->{raw}, qr/connected/, 'a slow reader\'s stream opens');
	# then never read while the feed runs: big frames, fast
	my $closed = 0;
	my $sent = 0;
	# 50 visitors (50 frames of about 1 KB) per body: the kernel's socket
	# buffers on loopback take megabytes before the server's fills
	for my $round (1 .. 200)
	{
		my @ev = map { beacon(u => 'https://example.com/' . ('x' x 900) . $sent++) } 1 .. 50;
		post('[' . join(',', @ev) . ']');
		if ($node->log_contains('/live stream closed: its client (fell|took nothing)'))
		{
			$closed = 1;
			last;
		}
	}
	for (1 .. 50)
	{
		last if $closed;
		sleep 0.2;
		$closed = $node->log_contains('/live stream closed: its client (fell|took nothing)');
	}
	ok($closed, "a stream whose reader stopped is closed (after $sent beacons)");
	pump($slow, 10);
	ok($slow->{eof}, 'the connection is closed');
	my @f = frames($slow);
	ok(@f > 0, scalar(@f) . ' frames were delivered before');
	my $json = JSON::PP->new->utf8;
	is(scalar(grep { !eval { $json->decode($_); 1 } } @f), 0, 'every delivered frame is whole');
	is(http('GET', '/healthz')->{status}, 200, 'the worker serves on');
}

$node->stop;
done_testing();
