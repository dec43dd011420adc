# Two workers sharing the port: exact rate limiting across them, kill -9
# of a worker under load, and an immediate shutdown right after many
# 204s: every acknowledged event must be in edgestat.events afterwards.
use strict;
use warnings;

use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('workers');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.workers = 2
edgestat.rate_limit = 10
synchronous_commit = on
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION edgestat CASCADE');
$node->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");

sub wait_up
{
	for (1 .. 300)
	{
		my $r = http('GET', '/healthz', timeout => 2);
		return 1 if $r->{status} == 200;
		sleep 0.1;
	}
	return 0;
}
ok(wait_up(), 'workers serve');
is( $node->safe_psql('postgres',
		"SELECT string_agg(application_name, ',' ORDER BY application_name) FROM pg_stat_activity WHERE backend_type = 'edgestat http'"),
	'edgestat http worker 0,edgestat http worker 1',
	'two workers, named');

# SO_REUSEPORT spreads connections over both workers
my %seen;
for (1 .. 40)
{
	my ($w) = http('GET', '/healthz')->{body} =~ /"worker":(\d+)/;
	$seen{$w}++ if defined $w;
}
is(join(',', sort keys %seen), '0,1', 'both workers answer on the shared port');

# 2N events over fresh connections (so both workers): exactly N accepted
my %st;
for (1 .. 20)
{
	$st{ post(beacon(u => "https://example.com/rl$_"))->{status} }++;
}
is($st{204} // 0, 10, 'rate limit 10 across two workers: 10 answered 204');
is($st{429} // 0, 10, 'and 10 answered 429');
is($node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events WHERE path LIKE '/rl%'"),
	'10', 'exactly 10 rows stored');

$node->append_conf('postgresql.conf', "edgestat.rate_limit = 0\n");
$node->reload;
sleep 1;

# ---- load generators: each writes the paths it got a 204 for ----
my $dir = $node->basedir;

sub start_load
{
	my ($tag, $nkids, $max) = @_;
	my @pids;
	for my $k (1 .. $nkids)
	{
		my $pid = fork;
		if ($pid == 0)
		{
			open my $out, '>', "$dir/acked-$tag-$k" or die;
			$out->autoflush(1);
			for my $i (1 .. $max)
			{
				last if -e "$dir/stop-$tag";
				my $path = "/$tag-$k-$i";
				my $r = post(beacon(u => "https://example.com$path"));
				print $out "$path\n" if $r->{status} == 204;
			}
			POSIX::_exit(0);
		}
		push @pids, $pid;
	}
	return @pids;
}

sub acked
{
	my ($tag) = @_;
	my @paths;
	for my $f (glob "$dir/acked-$tag-*")
	{
		open my $in, '<', $f or die;
		chomp(my @l = <$in>);
		push @paths, @l;
	}
	return @paths;
}

sub stored
{
	my @paths = @_;
	return 0 unless @paths;
	my $list = join(',', map { "'$_'" } @paths);
	return $node->safe_psql('postgres',
		"SELECT count(DISTINCT path) FROM edgestat.events WHERE path IN ($list)");
}

# ---- kill -9 of a worker under load ----
my @kids = start_load('k9', 4, 100000);
sleep 2;
my $victim = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'edgestat http' LIMIT 1");
my $acked_before = scalar acked('k9');
ok($acked_before > 0, "load running ($acked_before acknowledged before the kill)");
kill 'KILL', $victim;
sleep 1;
ok(wait_up(), 'after kill -9: the postmaster restarted everything and a worker serves');
sleep 1;
open my $stop, '>', "$dir/stop-k9";
close $stop;
waitpid $_, 0 for @kids;
my @k9 = acked('k9');
ok(scalar(@k9) > $acked_before, 'ingestion resumed after the crash (' . scalar(@k9) . ' acknowledged)');
is(stored(@k9), scalar(@k9), 'every event acknowledged around the crash is stored');
ok($node->log_contains(qr/terminated by signal 9/), 'the crash happened');

# ---- immediate shutdown right after many 204s ----
@kids = start_load('imm', 4, 150);
waitpid $_, 0 for @kids;
my @imm = acked('imm');
ok(scalar(@imm) >= 500, scalar(@imm) . ' beacons acknowledged');
$node->stop('immediate');
$node->start;
is(stored(@imm), scalar(@imm), 'after an immediate shutdown every acknowledged event is stored');
ok(wait_up(), 'worker serves after restart');
is(post(beacon())->{status}, 204, 'and ingests');

$node->stop;
done_testing();
