# HTTPS: with edgestat.ssl on the worker's port speaks TLS 1.2+ only, takes
# its certificate from edgestat.ssl_cert_file or the server's ssl_cert_file,
# never falls back to plain HTTP, and swaps a renewed certificate on SIGHUP
# while open connections keep working.  Then the other way: nginx with the
# example configuration of docs/examples terminates TLS in front of a
# plain-HTTP worker, and the worker counts the client nginx saw.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::SSL;
use File::Copy;

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('https');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
my $dir = $node->basedir;
my $pgdata = $node->data_dir;

# a self-signed certificate and its key, with a subject to tell them apart
my $serial = 1000;

sub make_cert
{
	my ($name, $cn) = @_;
	my @cmd = (
		'openssl', 'req', '-x509', '-newkey', 'ec',
		'-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.crt",
		'-days', '2', '-subj', "/CN=$cn", '-set_serial', $serial++);
	run_log(\@cmd) or die "openssl req failed";
	chmod 0600, "$dir/$name.key";
}
make_cert('first', 'first.test');
make_cert('second', 'second.test');
make_cert('third', 'third.test');

my $ua_hdr = "User-Agent: $ua\r\n";

# A TLS connection to the worker; undef and $SSL_ERROR on failure.
sub tls_connect
{
	my (%o) = @_;
	return IO::Socket::SSL->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		SSL_verify_mode => SSL_VERIFY_NONE,
		Timeout => 5,
		%o);
}

# One request on an open connection; reads exactly one response.
sub tls_request
{
	my ($s, $req) = @_;
	print $s $req or return { status => 0 };
	my $buf = '';
	my $deadline = time + 10;
	while ($buf !~ /\r\n\r\n/ && time < $deadline)
	{
		my $n = sysread($s, my $chunk, 16384);
		last unless $n;
		$buf .= $chunk;
	}
	my ($head, $body) = split /\r\n\r\n/, $buf, 2;
	return { status => 0 } unless defined $head;
	my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
	$body //= '';
	while (defined $len && length($body) < $len && time < $deadline)
	{
		my $n = sysread($s, my $chunk, 16384);
		last unless $n;
		$body .= $chunk;
	}
	return parse("$head\r\n\r\n$body");
}

sub beacon_request
{
	my ($body, $close) = @_;
	return "POST /e HTTP/1.1\r\nHost: 127.0.0.1\r\n$ua_hdr"
	  . "Content-Type: text/plain\r\n"
	  . ($close ? "Connection: close\r\n" : '')
	  . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

sub subject_of
{
	my ($s) = @_;
	return $s ? $s->peer_certificate('subject') : "no connection: $SSL_ERROR";
}

# the subject a new connection is given
sub new_subject
{
	my $s = tls_connect();
	my $subj = subject_of($s);
	close $s if $s;
	return $subj;
}

sub stored
{
	my ($path) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM edgestat.events WHERE path = '$path'");
}

sub wait_for
{
	my ($what, $cond) = @_;
	my $deadline = time + 20;
	until ($cond->())
	{
		die "timed out waiting for $what" if time > $deadline;
		sleep 0.2;
	}
}

# ---- start without a certificate: no plain HTTP, retried on restart ----

# The server's own ssl_cert_file/ssl_key_file (default server.crt and
# server.key, relative to the data directory) are used when ours are empty.
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.dedup_window = 0
edgestat.ssl = on
log_min_messages = debug1
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");

wait_for('the certificate error',
	sub { $node->log_contains(qr/cannot serve HTTPS: could not open "\Q$pgdata\E\/server.crt"/) });
pass('missing certificate at start: the log says which file');
is(http('GET', '/healthz')->{status}, 0,
	'missing certificate: the port does not serve plain HTTP');

copy("$dir/first.crt", "$pgdata/server.crt") or die;
copy("$dir/first.key", "$pgdata/server.key") or die;
chmod 0600, "$pgdata/server.key";
# the postmaster starts the worker again after 5 s
wait_for('the worker with a certificate', sub { my $s = tls_connect(); $s ? (close($s), 1) : 0 });
like(new_subject(), qr{CN\s*=\s*first\.test}, 'server ssl_cert_file used when edgestat.ssl_cert_file is empty');
ok($node->log_contains(qr/TLS certificate loaded from "\Q$pgdata\E\/server.crt"/),
	'the log names the certificate loaded');

# ---- HTTPS only ----

{
	my $s = tls_connect();
	my $r = tls_request($s, beacon_request(beacon(u => 'https://example.com/tls1'), 1));
	close $s;
	is($r->{status}, 204, 'POST /e over TLS: 204');
	is(stored('/tls1'), 1, 'POST /e over TLS: the event is stored');
}

{
	my $raw = raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3);
	ok(!defined $raw || $raw !~ m{HTTP/1}, 'plain HTTP to the TLS port gets no HTTP answer');
	my $r = post(beacon(u => 'https://example.com/plain'));
	is($r->{status}, 0, 'plain HTTP beacon is not answered');
	is(stored('/plain'), 0, 'plain HTTP beacon is not stored');
}

for my $v ([ 'TLSv1_2', 'TLSv1.2' ], [ 'TLSv1_3', 'TLSv1.3' ])
{
	my $s = tls_connect(SSL_version => $v->[0]);
	is($s ? $s->get_sslversion : "failed: $SSL_ERROR", $v->[0], "$v->[1] accepted");
	close $s if $s;
}
{
	# SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all, so the refusal seen
	# is the server's: it reads the ClientHello and hangs up (libmicrohttpd
	# sends no alert), where a client-side refusal would send nothing
	my $s = tls_connect(SSL_version => 'TLSv1_1', SSL_cipher_list => 'DEFAULT:@SECLEVEL=0');
	ok(!$s, 'TLS 1.1 refused');
	like($SSL_ERROR, qr/unexpected eof|alert protocol version/i,
		'TLS 1.1: refused by the server after the ClientHello');
	note("TLS 1.1 error: $SSL_ERROR");
}

# ---- SIGHUP: a renewed certificate, open connections kept ----

my $ka = tls_connect();
my $r = tls_request($ka, beacon_request(beacon(u => 'https://example.com/ka1')));
is($r->{status}, 204, 'keep-alive connection: first beacon 204');
like(subject_of($ka), qr/first\.test/, 'keep-alive connection has the first certificate');

# renew in place, as certbot's deploy hook copying into the data directory would
copy("$dir/second.crt", "$pgdata/server.crt") or die;
copy("$dir/second.key", "$pgdata/server.key") or die;
$node->reload;
wait_for('the renewed certificate', sub { new_subject() =~ /second\.test/ });
pass('after pg_ctl reload a new connection gets the renewed certificate');
ok($node->log_contains(qr/TLS certificate reloaded from "\Q$pgdata\E\/server.crt"/),
	'the reload is logged');

$r = tls_request($ka, beacon_request(beacon(u => 'https://example.com/ka2')));
is($r->{status}, 204, 'the connection opened before the reload still works');
is(stored('/ka2'), 1, 'its beacon is stored');
ok(!$node->log_contains(qr/TLS certificate set 1 freed/),
	'the replaced certificate is kept while a connection may hold it');
close $ka;
wait_for('the first set freed', sub { $node->log_contains(qr/TLS certificate set 1 freed/) });
pass('and freed once that connection has closed');

# a second keep-alive connection across two swaps, the old sets retired meanwhile
my $ka2 = tls_connect();
is(tls_request($ka2, beacon_request(beacon(u => 'https://example.com/kb1')))->{status},
	204, 'second keep-alive connection: 204');

# ---- a bad file on SIGHUP keeps the old certificate ----

my $logpos = -s $node->logfile;
open(my $fh, '>', "$pgdata/server.crt") or die;
print $fh "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n";
close $fh;
$node->reload;
wait_for('the warning',
	sub { slurp_file($node->logfile, $logpos) =~ /WARNING:.*TLS certificate not reloaded, keeping the one from/ });
pass('bad certificate at reload: WARNING');
like(new_subject(), qr/second\.test/, 'bad certificate at reload: the old one is still served');

# a key that does not belong to the certificate
$logpos = -s $node->logfile;
copy("$dir/third.crt", "$pgdata/server.crt") or die;
$node->reload;
wait_for('the key warning',
	sub { slurp_file($node->logfile, $logpos) =~ /WARNING:.*does not match certificate/ });
pass('mismatched key at reload: WARNING');
like(new_subject(), qr/second\.test/, 'mismatched key: the old certificate is still served');

# our own settings win over the server's
$node->append_conf('postgresql.conf',
	"edgestat.ssl_cert_file = '$dir/third.crt'\nedgestat.ssl_key_file = '$dir/third.key'\n");
$node->reload;
wait_for('the third certificate', sub { new_subject() =~ /third\.test/ });
pass('edgestat.ssl_cert_file / ssl_key_file are used, reloaded on SIGHUP');

ok(!$node->log_contains(qr/TLS certificate set 2 freed/),
	'the certificate set of a connection opened two certificates ago is kept');
# Connection: close: the worker closes it after the answer
is(tls_request($ka2, beacon_request(beacon(u => 'https://example.com/kb2'), 1))->{status},
	204, 'and the connection still works');
close $ka2;
wait_for('the second set freed', sub { $node->log_contains(qr/TLS certificate set 2 freed/) });
pass('the set is freed after that connection closed');
is(tls_request(tls_connect(), beacon_request(beacon(u => 'https://example.com/kc'), 1))->{status},
	204, 'new connections work after the retired certificates are freed');

$node->stop;
ok(!$node->log_contains(qr/TRAP|terminated by signal|server process .* exited with exit code [^1]/),
	'no crash in the log');

# ---- behind nginx: docs/examples/nginx-edgestat.conf ----

SKIP:
{
	my $nginx = `command -v nginx` || (-x '/usr/sbin/nginx' ? '/usr/sbin/nginx' : '');
	chomp $nginx;
	skip 'nginx is not installed', 10 unless $nginx;

	my $tool = "$ENV{TESTDIR}/test/geoip/make-mmdb.pl";
	system('perl', $tool, "$dir/a.mmdb", 'a') == 0 or die "make-mmdb failed";
	$node->append_conf(
		'postgresql.conf', qq{
edgestat.ssl = off
edgestat.trusted_proxies = '127.0.0.1/32'
edgestat.rate_limit = 2
edgestat.geoip_database = '$dir/a.mmdb'
});
	$node->start;
	wait_for('the plain worker', sub { http('GET', '/healthz')->{status} == 200 });

	# the example, with test paths and ports; each rewrite must match once
	my $nport = PostgreSQL::Test::Cluster::get_free_port();
	my $conf = slurp_file("$ENV{TESTDIR}/docs/examples/nginx-edgestat.conf");
	my %rewrite = (
		qr/listen 443 ssl http2;/ => "listen 127.0.0.1:$nport ssl http2;",
		qr{/etc/letsencrypt/live/stats\.example\.com/fullchain\.pem} => "$dir/first.crt",
		qr{/etc/letsencrypt/live/stats\.example\.com/privkey\.pem} => "$dir/first.key",
		qr/server 127\.0\.0\.1:8080;/ => "server 127.0.0.1:$port;");
	while (my ($re, $to) = each %rewrite)
	{
		my $n = () = $conf =~ /$re/g;
		is($n, 1, "example nginx configuration has $re once") or next;
		$conf =~ s/$re/$to/;
	}
	mkdir "$dir/nginx";
	open(my $out, '>', "$dir/nginx/nginx.conf") or die;
	print $out <<"NGX";
worker_processes 1;
pid $dir/nginx/nginx.pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/nginx/body;
	proxy_temp_path $dir/nginx/proxy;
	fastcgi_temp_path $dir/nginx/fastcgi;
	uwsgi_temp_path $dir/nginx/uwsgi;
	scgi_temp_path $dir/nginx/scgi;
$conf
}
NGX
	close $out;
	my @nginx = ($nginx, '-p', "$dir/nginx", '-c', "$dir/nginx/nginx.conf",
		'-e', "$dir/nginx/error.log");
	system(@nginx) == 0 or die "nginx did not start: " . slurp_file("$dir/nginx/error.log");

	my $nseq = 0;
	# a beacon through nginx from a given loopback source address
	my $via_nginx = sub {
		my ($from, @hdr) = @_;
		my $path = '/n' . $nseq++;
		my $body = beacon(u => "https://example.com$path");
		my @cmd = ('curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}',
			'--interface', $from, '-H', "User-Agent: $ua",
			'-H', 'Content-Type: text/plain', (map { ('-H', $_) } @hdr),
			'--data-binary', $body, "https://127.0.0.1:$nport/e");
		my $code = `@{[ join ' ', map { "'$_'" } @cmd ]}`;
		return ($code, $path);
	};

	my ($code, $path) = $via_nginx->('127.0.0.7');
	is($code, '204', 'beacon over TLS through nginx: 204');
	is(stored($path), 1, 'beacon through nginx: stored');

	# rate limiting counts the client nginx saw, not nginx (the worker's peer)
	my @a = map { ($via_nginx->('127.0.0.7'))[0] } 1 .. 2;
	is("@a", '204 429', 'rate limit 2: the third beacon from 127.0.0.7 is 429');
	my @b = map { ($via_nginx->('127.0.0.8'))[0] } 1 .. 2;
	is("@b", '204 204', 'another client behind nginx has its own bucket');

	# a client cannot forge its address through the example configuration
	($code, $path) = $via_nginx->('127.0.0.9', 'X-Forwarded-For: 192.0.2.5');
	is($code, '204', 'beacon with a forged X-Forwarded-For: 204');
	is( $node->safe_psql('postgres',
			"SELECT coalesce(country, '-') FROM edgestat.events WHERE path = '$path'"),
		'-', 'forged X-Forwarded-For is replaced by nginx (not geolocated as 192.0.2.5)');

	system(@nginx, '-s', 'stop');
	$node->stop;
}

done_testing();
