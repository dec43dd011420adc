# Sites registered while the HTTP worker holds a batch transaction open
# (issue 10, item 1): the site cache must never be reloaded with the open
# transaction's old snapshot and then trusted until edgestat.sites changes
# again.  A bot beacon is answered 204 without a commit, so it leaves the
# batch transaction open: the reproduction of the issue.
use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('sites');
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
my $up = 0;
for (1 .. 100)
{
	if (http('GET', '/healthz')->{status} == 200) { $up = 1; last }
	sleep 0.1;
}
ok($up, 'worker up');

my $bot = 'Googlebot/2.1 (+http://www.google.com/bot.html)';
sub bot { return post(beacon(@_), 'User-Agent' => $bot)->{status} }
sub add_site { $node->safe_psql('postgres', "SELECT edgestat.add_site('$_[0]')") }

# ---- the reproduction of the issue, as filed ----
add_site('a.test');
is(bot(d => 'a.test'), 204, 'bot beacon for A: 204, batch left open');
add_site('b.test');
is(bot(d => 'b.test'), 204, 'bot beacon for B: 204');
is(post(beacon(d => 'a.test'))->{status}, 204, "A pageview $_: 204") for 1 .. 3;
my $r = post(beacon(d => 'b.test'));
is($r->{status}, 204, 'B pageview: 204, not "unknown site"') or diag $r->{body};
sleep 1;
is(post(beacon(d => 'b.test'))->{status}, 204, 'B pageview a second later: 204');

# ---- a batch held open for seconds, a site registered meanwhile ----
# A long flush interval and an idle connection (so "everyone is waiting"
# does not flush early): the pageviews below wait in one open batch.
$node->append_conf('postgresql.conf', "edgestat.flush_interval = 1500\n");
$node->reload;
sleep 1;
{
	my $idle = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
	  or die "connect: $!";
	is(bot(d => 'a.test'), 204, 'bot beacon opens a batch');
	add_site('c.test');
	my $t0 = time;
	$r = post(beacon(d => 'c.test'));
	is($r->{status}, 204, 'site registered while the batch is open: 204 in that batch')
	  or diag $r->{body};
	add_site('d.test');
	is(bot(d => 'a.test'), 204, 'another bot beacon opens the next batch');
	is(post(beacon(d => 'a.test'))->{status}, 204, 'a known site in the open batch');
	is(post(beacon(d => 'd.test'))->{status}, 204,
		'site registered after that batch started: 204');

	# the cache dropped when the batch starts (E's registration), F
	# registered after it started, the cache reloaded inside that batch
	add_site('e.test');
	is(bot(d => 'a.test'), 204, 'a bot beacon opens a batch after E is registered');
	add_site('f.test');
	is(post(beacon(d => 'a.test'))->{status}, 204,
		'a pageview reloads the site cache inside the open batch');
	sleep 0.5;
	$r = post(beacon(d => 'f.test'));
	is($r->{status}, 204, 'F, registered before that reload: 204 after the batch')
	  or diag $r->{body};
	sleep 1;
	is(post(beacon(d => 'f.test'))->{status}, 204, 'F a second later: 204');
	close $idle;
}
is( $node->safe_psql('postgres',
		q{SELECT string_agg(s.domain || '=' || (SELECT count(*) FROM edgestat.events e
			WHERE e.site_id = s.site_id), ',' ORDER BY s.domain) FROM edgestat.sites s}),
	'a.test=5,b.test=2,c.test=1,d.test=1,e.test=0,f.test=2',
	'every accepted pageview stored under its site');

$node->stop;
done_testing();
