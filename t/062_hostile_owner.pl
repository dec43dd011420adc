# A hostile database owner (issue 10, item 2).  The database edgestat
# serves is owned by a non-superuser, who may create objects in public on
# PostgreSQL 15 (and hll lives there).  It plants functions that would win
# name resolution over pg_catalog's and hll's for any superuser session or
# function that searches public: unnest() over the typed arrays of the
# worker's batch statement, and hll overloads.  Ingestion over HTTP,
# sealing and the dashboard API must work and never call one of them.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'shop'
edgestat.rate_limit = 0
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE mallory LOGIN;
	CREATE DATABASE shop OWNER mallory;
});
$node->safe_psql('shop', 'CREATE EXTENSION edgestat CASCADE');
is( $node->safe_psql('shop',
		q{SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		  WHERE e.extname = 'hll'}),
	'public', 'hll lives in public, which the owner may write');

# mallory's traps: each records its call and whether it ran as superuser,
# then does what the real function does, so nothing visibly breaks
$node->safe_psql('shop', q{
	CREATE TABLE public.trap_calls (fn text, superuser bool);
	GRANT INSERT ON public.trap_calls TO PUBLIC;
	CREATE FUNCTION public.trap(fn text) RETURNS void LANGUAGE sql AS $$
		INSERT INTO public.trap_calls
		SELECT fn, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user
	$$;
	CREATE FUNCTION public.unnest(a timestamptz[]) RETURNS SETOF timestamptz
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.trap('unnest(timestamptz[])');
		RETURN QUERY SELECT pg_catalog.unnest(a); END $$;
	CREATE FUNCTION public.unnest(a uuid[]) RETURNS SETOF uuid
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.trap('unnest(uuid[])');
		RETURN QUERY SELECT pg_catalog.unnest(a); END $$;
	CREATE FUNCTION public.unnest(a text[]) RETURNS SETOF text
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.trap('unnest(text[])');
		RETURN QUERY SELECT pg_catalog.unnest(a); END $$;
	CREATE FUNCTION public.unnest(a int[]) RETURNS SETOF int
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.trap('unnest(int[])');
		RETURN QUERY SELECT pg_catalog.unnest(a); END $$;
	CREATE FUNCTION public.hll_hash_any(uuid) RETURNS public.hll_hashval
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.trap('hll_hash_any(uuid)');
		RETURN public.hll_hash_any($1::text); END $$;
	CREATE FUNCTION public.hll_empty(int, int, int, int) RETURNS public.hll
	LANGUAGE plpgsql AS $$ BEGIN PERFORM public.trap('hll_empty(int,int,int,int)');
		RETURN public.hll_empty($1, $2, $3::bigint, $4); END $$;
}, extra_params => [ '-U', 'mallory' ]);

my $up = 0;
for (1 .. 100)
{
	if (http('GET', '/healthz')->{status} == 200) { $up = 1; last }
	sleep 0.1;
}
ok($up, 'worker up');
$node->safe_psql('shop', "SELECT edgestat.add_site('example.com')");

my @st = map { post(beacon(u => "https://example.com/h$_"))->{status} } 1 .. 5;
is("@st", '204 204 204 204 204', 'beacons accepted');
is($node->safe_psql('shop', 'SELECT count(*) FROM edgestat.events'), '5', 'and stored');

# the dashboard API and sealing, which build and read sketches
my $token = $node->safe_psql('shop', "SELECT edgestat.dashboard_token('example.com')");
my $r = http('GET', '/api/summary', headers => { Authorization => "Bearer $token" });
$r = http('GET', "/api/summary?token=$token") unless $r->{status} == 200;
is($r->{status}, 200, '/api/summary answers');
like($r->{body}, qr/"pageviews"\s*:\s*5\b/, '/api/summary counts the beacons');
is($node->safe_psql('shop', "SELECT edgestat.seal_rollups(now() + interval '3 hours') >= 0"),
	't', 'sealing runs');

is($node->safe_psql('shop', q{SELECT count(*) FROM edgestat.rollup_hourly}) > 0,
	1, 'rollups written');
is( $node->safe_psql('shop',
		q{SELECT coalesce(string_agg(DISTINCT fn || CASE WHEN superuser THEN ' as superuser' ELSE '' END, ', '), 'none')
		  FROM public.trap_calls}),
	'none', 'not one of the hostile owner\'s functions was called');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'}),
	'f', 'the owner is still no superuser');

$node->stop;
done_testing();
