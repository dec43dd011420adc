# EdgestatHTTP: the small HTTP client the TAP tests in t/ share.  It owns
# the raw-socket request/response helpers (raw, parse, http), the beacon
# builders (uuid, beacon, post) and the events row count (rows).  A test
# sets $EdgestatHTTP::port to the worker's edgestat.port before the first
# request; $ua is the User-Agent post() sends, and may be overridden.
package EdgestatHTTP;

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

our @EXPORT = qw(raw parse http uuid beacon post rows $ua);

# the port the edgestat HTTP worker listens on; the test sets it
our $port;

# the User-Agent of post(): a browser, so beacons are not dropped as bots
our $ua =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

# ---- a small HTTP client: raw sockets, so garbage can be sent too ----

sub raw
{
	my ($data, $timeout) = @_;
	$timeout //= 10;
	die "EdgestatHTTP: \$EdgestatHTTP::port is not set\n" unless defined $port;
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

# ---- beacons ----

# numbers the default paths of beacon(), so each is a new page
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

# the number of rows in edgestat.events of the given node
sub rows
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT count(*) FROM edgestat.events');
}

1;
