# The HTTP worker's endpoints: every status code of docs/http.md with its
# reason, CORS, the tracker, health and metrics, the dashboard's files,
# /api and /live, and what garbage, oversized headers and a slowloris do.
use strict;
use warnings;

use IO::Select;
use POSIX ();
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('http');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.connection_timeout = 3
edgestat.max_body = 1024
});
$node->start;

# The worker waits for the extension, polling once a second.
$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres',
	"SELECT edgestat.add_site('example.com', ARRAY['https://www.example.com'])");
$node->safe_psql('postgres', "SELECT edgestat.add_site('other.org')");
my $up = 0;
for (1 .. 100)
{
	if (http('GET', '/healthz')->{status} == 200) { $up = 1; last }
	sleep 0.1;
}
ok($up, 'worker serves once the extension exists');

is( $node->safe_psql('postgres',
		"SELECT string_agg(backend_type || '/' || application_name, ',') FROM pg_stat_activity WHERE backend_type = 'edgestat http'"),
	'edgestat http/edgestat http worker 0',
	'worker is named in pg_stat_activity');

# ---- POST /e ----
my $r = post(beacon(u => 'https://example.com/first'));
is($r->{status}, 204, 'beacon: 204');
is($r->{headers}{'access-control-allow-origin'}, '*', 'beacon: CORS * without Origin');
like($r->{headers}{vary} // '', qr/Origin/, 'beacon: Vary: Origin');
ok(!exists $r->{headers}{'set-cookie'}, 'beacon: no Set-Cookie');
is( $node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events WHERE path = '/first'"),
	'1', '204 means the row is committed');

$r = post(beacon(), Origin => 'https://www.example.com');
is($r->{status}, 204, 'allowed Origin: 204');
is( $r->{headers}{'access-control-allow-origin'},
	'https://www.example.com', 'allowed Origin is echoed');

$r = post(beacon(), Origin => 'https://evil.test');
is($r->{status}, 403, 'foreign Origin: 403');
like($r->{body}, qr/^403 .*origin/i, 'foreign Origin: reason in body');
is($r->{headers}{'access-control-allow-origin'}, 'https://evil.test',
	'a 403 still carries CORS headers');

$r = post(beacon(d => 'unknown.example'));
is($r->{status}, 403, 'unknown site: 403');
like($r->{body}, qr/^403 .*site/i, 'unknown site: reason in body');

$r = post('{"d":"example.com",');
is($r->{status}, 400, 'malformed JSON: 400');
like($r->{body}, qr/^400 \S/, 'malformed JSON: reason in body');

$r = post('{"d":"example.com","n":"pageview","u":"https://example.com/","v":"' . uuid() . '"}');
is($r->{status}, 400, 'missing field: 400');
like($r->{body}, qr/^400 \S/, 'missing field: reason in body');

my $before = rows($node);
my $dup = beacon(u => 'https://example.com/dup');
is(post($dup)->{status}, 204, 'first of a duplicate pair: 204');
is(post($dup)->{status}, 204, 'duplicate: still 204');
is(rows($node), $before + 1, 'duplicate stored once');

$r = post('{"x":"' . ('a' x 2000) . '"}');
is($r->{status}, 413, 'Content-Length over max_body: 413');
like($r->{body}, qr/^413 .*max_body/, '413: reason in body');

# chunked, no length up front: discovered while uploading
{
	my $big = 'a' x 3000;
	my $req = "POST /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
	  . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $big, $big);
	$r = parse(raw($req));
	is($r->{status}, 413, 'chunked body over max_body: 413');
}

# a chunked body within the limit is fine
{
	my $b = beacon(u => 'https://example.com/chunked');
	my $req = "POST /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: $ua\r\nTransfer-Encoding: chunked\r\n\r\n"
	  . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $b, $b);
	is(parse(raw($req))->{status}, 204, 'chunked beacon: 204');
}

$r = http('GET', '/nope');
is($r->{status}, 404, 'unknown path: 404');
like($r->{body}, qr/^404 not found/, '404: reason in body');

$r = http('GET', '/e');
is($r->{status}, 405, 'GET /e: 405');
like($r->{headers}{allow} // '', qr/POST/, '405 carries Allow');
like($r->{body}, qr/^405 method not allowed/, '405: reason in body');
is(http('DELETE', '/healthz')->{status}, 405, 'DELETE /healthz: 405');

# ---- CORS preflight ----
$r = http('OPTIONS', '/e',
	headers => {
		Origin => 'https://www.example.com',
		'Access-Control-Request-Method' => 'POST',
		'Access-Control-Request-Headers' => 'content-type'
	});
is($r->{status}, 204, 'preflight: 204');
is($r->{headers}{'access-control-allow-origin'}, 'https://www.example.com', 'preflight: origin');
like($r->{headers}{'access-control-allow-methods'} // '', qr/POST/, 'preflight: methods');
like($r->{headers}{'access-control-allow-headers'} // '', qr/content-type/i, 'preflight: headers');
ok(($r->{headers}{'access-control-max-age'} // 0) > 0, 'preflight: max-age');

# ---- tracker, health, metrics ----
$r = http('GET', '/e.js');
if (-f $node->config_data('--sharedir') . '/extension/edgestat/e.js')
{
	is($r->{status}, 200, 'e.js: 200');
	like($r->{headers}{'content-type'}, qr{^application/javascript}, 'e.js: content type');
	like($r->{headers}{'cache-control'}, qr/public, max-age=3600/, 'e.js: cacheable');
	ok(length($r->{body}) > 100, 'e.js: has a body');
	my $etag = $r->{headers}{etag};
	ok($etag, 'e.js: ETag');
	is(http('GET', '/e.js', headers => { 'If-None-Match' => $etag })->{status},
		304, 'e.js: 304 for a matching If-None-Match');
}
else
{
	is($r->{status}, 404, 'e.js not installed: 404');
}

$r = http('GET', '/healthz');
is($r->{status}, 200, 'healthz: 200');
like($r->{headers}{'content-type'}, qr{application/json}, 'healthz: JSON');
like($r->{body}, qr/^\{"status":"ok","uptime_s":\d+/, 'healthz: status and uptime');
my ($acc) = $r->{body} =~ /"accepted":(\d+)/;
is( $acc,
	$node->safe_psql('postgres', "SELECT value FROM edgestat.stats() WHERE name = 'accepted'"),
	'healthz: counters are those of edgestat.stats()');

$r = http('GET', '/metrics');
is($r->{status}, 200, 'metrics: 200');
like($r->{body}, qr/^edgestat_accepted_total $acc$/m, 'metrics: accepted counter');
like($r->{body}, qr/^edgestat_http_requests_total \d+$/m, 'metrics: http_requests');
like($r->{body}, qr/^edgestat_batch_size_bucket\{le="\+Inf"\} [1-9]\d*$/m,
	'metrics: batch size histogram');
like($r->{body}, qr/^edgestat_commit_seconds_count [1-9]\d*$/m,
	'metrics: commit time histogram');

# ---- dashboard files ----
if (-f $node->config_data('--sharedir') . '/extension/edgestat/dashboard/index.html')
{
	$r = http('GET', '/dashboard');
	is($r->{status}, 200, '/dashboard: 200');
	like($r->{headers}{'content-type'}, qr{^text/html}, '/dashboard: html');
	is(http('GET', '/dashboard/')->{status}, 200, '/dashboard/: index');
	is(http('GET', '/dashboard/index.html')->{status}, 200, '/dashboard/index.html');
}
is(http('GET', '/dashboard/../../../../etc/passwd')->{status}, 404, 'dashboard: .. refused');
is(http('GET', '/dashboard/%2e%2e/%2e%2e/edgestat.control')->{status}, 404,
	'dashboard: encoded .. refused');
is(http('GET', '/dashboard/nope.js')->{status}, 404, 'dashboard: missing file 404');

# ---- /api ----
my $token = $node->safe_psql('postgres', "SELECT edgestat.dashboard_token('example.com')");
my $site = $node->safe_psql('postgres',
	"SELECT site_id FROM edgestat.sites WHERE domain = 'example.com'");
$r = http('GET', "/api/site?token=$token");
is($r->{status}, 200, '/api/site: 200');
like($r->{headers}{'content-type'}, qr{application/json}, '/api: JSON');
like($r->{body}, qr/"site_id"\s*:\s*$site\b/, '/api/site: the token\'s site');
$r = http('GET', '/api/site?token=' . ('x' x 32));
is($r->{status}, 401, '/api bad token: 401');
like($r->{body}, qr/token/, '/api 401: reason');
is(http('GET', '/api/site')->{status}, 401, '/api without token: 401');
$r = http('GET', "/api/summary?token=$token&since=garbage");
is($r->{status}, 400, '/api bad parameter: 400');
like($r->{body}, qr/"error"/, '/api 400: reason');
is(http('GET', "/api/nosuch?token=$token")->{status}, 400, '/api unknown endpoint: 400');
$r = http('GET', "/api/summary?token=$token");
is($r->{status}, 200, '/api/summary: 200');
like($r->{body}, qr/"pageviews"/, '/api/summary: report');

$node->safe_psql('postgres', q{
	ALTER FUNCTION edgestat.dashboard_api(text, text, jsonb) RENAME TO dashboard_api_saved;
	CREATE FUNCTION edgestat.dashboard_api(token text, endpoint text, params jsonb)
	RETURNS json LANGUAGE plpgsql AS $$
	BEGIN
		IF endpoint = 'boom' THEN RAISE EXCEPTION 'kaboom'; END IF;
		RETURN json_build_object('endpoint', endpoint, 'params', params);
	END $$;
});
$r = http('GET', "/api/echo?token=t&b=2&a=x%20y");
is($r->{status}, 200, 'own dashboard_api: 200');
like($r->{body}, qr/"params"\s*:\s*\{"a"\s*:\s*"x y",\s*"b"\s*:\s*"2"\}/,
	'query parameters arrive as a flat JSON object of strings, token excluded');
$r = http('GET', "/api/boom?token=t");
is($r->{status}, 500, 'dashboard_api raising P0001: 500');
like($r->{body}, qr/kaboom/, '500: reason');
$node->safe_psql('postgres', 'DROP FUNCTION edgestat.dashboard_api(text, text, jsonb)');
$r = http('GET', "/api/site?token=$token");
is($r->{status}, 404, 'dashboard_api missing: 404');
$node->safe_psql('postgres',
	'ALTER FUNCTION edgestat.dashboard_api_saved(text, text, jsonb) RENAME TO dashboard_api');
is(http('GET', "/api/site?token=$token")->{status}, 200, 'dashboard_api back: 200');

# ---- /live ----
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
	  or die "connect: $!";
	$s->syswrite("GET /live?token=$token HTTP/1.1\r\nHost: x\r\n\r\n");
	my $sel = IO::Select->new($s);
	my $buf = '';
	my $read_until = sub {
		my ($re, $secs) = @_;
		my $deadline = time + $secs;
		while ($buf !~ $re && time < $deadline)
		{
			last unless $sel->can_read($deadline - time);
			my $n = $s->sysread(my $c, 65536);
			last unless $n;
			$buf .= $c;
		}
		return $buf =~ $re;
	};
	ok($read_until->(qr/\r\n\r\n.*connected/s, 5), '/live: stream opens');
	like($buf, qr{^HTTP/1\.1 200}, '/live: 200');
	like($buf, qr{Content-Type: text/event-stream}i, '/live: event stream');
	like($buf, qr{Cache-Control: no-cache}i, '/live: no-cache');
	my $v_other = uuid();
	my $v_mine = uuid();
	is(post(beacon(d => 'other.org', v => $v_other))->{status}, 204, 'beacon for another site');
	is(post(beacon(v => $v_mine))->{status}, 204, 'beacon for the token\'s site');
	ok($read_until->(qr/data: [^\n]*\Q$v_mine\E[^\n]*\n\n/, 5), '/live: event of the site arrives');
	unlike($buf, qr/\Q$v_other\E/, '/live: no event of another site');
	ok($read_until->(qr/: ping/, 17), '/live: ping comment within 15 s');
	close $s;
}
is(http('GET', '/live?token=' . ('y' x 32))->{status}, 401, '/live bad token: 401');

# ---- 429 and 503 ----
$node->append_conf('postgresql.conf', "edgestat.rate_limit = 3\n");
$node->reload;
sleep 1;
my @st = map { post(beacon())->{status} } 1 .. 4;
is("@st", '204 204 204 429', 'rate limit 3 (after SIGHUP): the 4th is 429');
$r = post(beacon());
like($r->{body}, qr/^429 \S/, '429: reason in body');
ok(($r->{headers}{'retry-after'} // 0) >= 1, '429: Retry-After');
$node->append_conf('postgresql.conf', "edgestat.rate_limit = 0\n");

# overload: a batch held open (long flush interval, another connection
# idle so the "everyone waits" rule does not fire) and max_pending 1
$node->append_conf('postgresql.conf',
	"edgestat.max_pending = 1\nedgestat.flush_interval = 1500\n");
$node->reload;
sleep 1;
{
	my $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
	my $b1 = beacon();
	my $a = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
	$a->syswrite("POST /e HTTP/1.1\r\nHost: x\r\nUser-Agent: $ua\r\nContent-Length: "
		  . length($b1) . "\r\n\r\n$b1");
	sleep 0.3;
	my $t0 = time;
	$r = post(beacon());
	is($r->{status}, 503, 'more than max_pending bodies waiting: 503 at once');
	ok(time - $t0 < 1, '503 is not queued');
	like($r->{body}, qr/^503 overloaded/, '503: reason in body');
	ok(IO::Select->new($a)->can_read(5), 'the held body is answered');
	$a->sysread(my $ans, 4096);
	like($ans, qr{^HTTP/1\.1 204}, 'the held body gets its 204 after the flush interval');
	close $a;
	close $idle;
}
$node->append_conf('postgresql.conf',
	"edgestat.max_pending = 5000\nedgestat.flush_interval = 2\n");
$node->reload;
sleep 1;

# a failing batch: 503 with a reason, nothing stored, retry not a duplicate
$node->safe_psql('postgres',
	"ALTER TABLE edgestat.events ADD CONSTRAINT no_fail CHECK (name <> 'failme')");
my $fb = beacon(n => 'failme', u => 'https://example.com/failing');
$r = post($fb);
is($r->{status}, 503, 'batch that cannot commit: 503');
like($r->{body}, qr/^503 batch could not be committed/, 'failed batch: reason');
is( $node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events WHERE path = '/failing'"),
	'0', 'failed batch: nothing stored');
is( $node->safe_psql('postgres',
		"SELECT value > 0 FROM edgestat.stats() WHERE name = 'batch_failures'"),
	't', 'failed batch counted');
$node->safe_psql('postgres', 'ALTER TABLE edgestat.events DROP CONSTRAINT no_fail');
is(post($fb)->{status}, 204, 'retry after a failed batch: 204');
is( $node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events WHERE path = '/failing'"),
	'1', 'retry stored (its dedup entry was forgotten)');

# ---- hostile bytes ----
$r = raw("\x00\xff\xfe garbage \x01\x02\r\n\r\n", 5);
ok(!defined $r || $r eq '' || $r =~ m{^HTTP/1\.[01] 4\d\d}, 'garbage: 4xx or closed');
$r = raw("GET / HTTP/1.1\r\nX-Long: " . ('a' x 200_000) . "\r\n\r\n", 5);
ok(!defined $r || $r eq '' || $r =~ m{^HTTP/1\.[01] (400|413|431)}, 'endless header: 4xx or closed');
$r = raw("POST /e HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 5);
ok(!defined $r || $r eq '' || $r =~ m{^HTTP/1\.[01] 4\d\d}, 'negative length: 4xx or closed');
is(http('GET', '/healthz')->{status}, 200, 'worker still serves after garbage');

# slowloris: one header byte a second while a normal client is served
{
	my $slow = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
	my $pid = fork;
	if ($pid == 0)
	{
		for my $c (split //, "GET /healthz HTTP/1.1\r\nX-Slow: abcdefgh")
		{
			$slow->syswrite($c) or last;
			sleep 1;
		}
		POSIX::_exit(0);
	}
	sleep 2;
	my $t0 = time;
	my $st = post(beacon())->{status};
	my $el = time - $t0;
	is($st, 204, 'served during a slowloris');
	ok($el < 1, "served in under a second during a slowloris ($el s)");
	# an idle connection is closed after edgestat.connection_timeout (3 s)
	my $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
	$t0 = time;
	my $closed = IO::Select->new($idle)->can_read(8) && !$idle->sysread(my $x, 10);
	ok($closed, 'idle connection closed by the server');
	ok(time - $t0 < 6, 'within the connection timeout');
	kill 'TERM', $pid;
	waitpid $pid, 0;
}

# ---- the worker restarts when killed, and on SIGTERM ----
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'edgestat http'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
my $back = 0;
for (1 .. 150)
{
	my $p = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'edgestat http'");
	if ($p && $p ne $pid && http('GET', '/healthz')->{status} == 200) { $back = 1; last }
	sleep 0.1;
}
ok($back, 'worker restarted after pg_terminate_backend');
is(post(beacon())->{status}, 204, 'and ingests again');

$node->stop;
done_testing();
