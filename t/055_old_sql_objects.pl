# A new library started against old SQL objects (the package upgraded,
# ALTER EXTENSION ... UPDATE not yet run) says in the log what to run,
# and serves meanwhile; after the update it is quiet and still serves.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('oldsql');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.maintenance_interval = 1
});
$node->start;
$node->safe_psql('postgres', "CREATE EXTENSION edgestat VERSION '1.0' CASCADE");
$node->safe_psql('postgres', "SELECT edgestat.add_site('example.com')");

my $r;
for (1 .. 100)
{
	$r = post(beacon(u => 'https://example.com/on-1.0'));
	last if $r->{status} == 204;
	sleep 0.1;
}
is($r->{status}, 204, 'a 1.1 library serves a 1.0 database');
is($node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events WHERE path = '/on-1.0'"),
	'1', 'and stores its beacons');
ok( $node->wait_for_log(
		qr/WARNING:  edgestat: the library is version 1\.1, but the extension in database "postgres" is at version 1\.0/),
	'the log says the versions differ');
like(slurp_file($node->logfile),
	qr/HINT:  Run ALTER EXTENSION edgestat UPDATE in database "postgres"\./,
	'and what to run');
# (a round may fail once, when today's partition is made while a batch
# holds the table: it is retried next round)
ok( $node->poll_query_until('postgres',
		"SELECT value > 0 FROM edgestat.stats() WHERE name = 'partitions_created'"),
	'the maintenance worker runs on the 1.0 objects too');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM edgestat.events_default"),
	'and moves the early beacon into its day\'s partition');

$node->safe_psql('postgres', 'ALTER EXTENSION edgestat UPDATE');
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'edgestat'"),
	'1.1', 'updated');
my $offset = -s $node->logfile;
$node->restart;
for (1 .. 100)
{
	$r = post(beacon(u => 'https://example.com/on-1.1'));
	last if $r->{status} == 204;
	sleep 0.1;
}
is($r->{status}, 204, 'after the update: served');
is($node->safe_psql('postgres', "SELECT count(*) FROM edgestat.events"), '2',
	'every row kept');
unlike(substr(slurp_file($node->logfile), $offset), qr/the library is version/,
	'and no more warning');

$node->stop;
done_testing();
