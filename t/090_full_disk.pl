# A full disk under the events: with edgestat.events and its partitions in
# a tablespace on a small filesystem, filling it makes batches fail with
# 503 and a reason, /healthz says degraded, the worker stays up, nothing
# answered 204 is lost, and once space is freed ingestion resumes by
# itself.
#
# Mounting needs root and the tests run as postgres: the filesystem is
# made beforehand by test/fulldisk/mount (as root; .ci/test does it) and
# passed in EDGESTAT_FULLDISK_DIR.  Without it only the first part runs:
# any failed batch (a CHECK constraint here) makes /healthz degraded.
use strict;
use warnings;

use File::Path qw(rmtree);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

use FindBin;
use lib "$FindBin::RealBin/../test/perl";
use EdgestatHTTP;

my $fs = $ENV{EDGESTAT_FULLDISK_DIR} // '';
my $why_skip =
    $fs eq '' ? 'EDGESTAT_FULLDISK_DIR is not set: as root, `test/fulldisk/mount DIR` '
  . 'makes a small filesystem for it (.ci/test does)'
  : !(-d $fs && -w $fs) ? "EDGESTAT_FULLDISK_DIR=$fs is not a writable directory"
  :                       undef;

# bytes free on the filesystem of $fs
sub avail
{
	my $out = `df -B1 --output=avail '$fs'`;
	my ($n) = $out =~ /(\d+)\s*$/;
	return $n;
}

my $node = PostgreSQL::Test::Cluster->new('full_disk');
$node->init;
my $port = PostgreSQL::Test::Cluster::get_free_port();
$EdgestatHTTP::port = $port;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'edgestat'
edgestat.port = $port
edgestat.database = 'postgres'
edgestat.rate_limit = 0
edgestat.max_body = 262144
autovacuum = off
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
ok($up, 'worker serves');
like(http('GET', '/healthz')->{body}, qr/^\{"status":"ok","uptime_s":\d+/, '/healthz: ok at first');
unlike(http('GET', '/healthz')->{body}, qr/last_batch_failure_s/, 'and no failure to tell');

# ---- any failed batch makes /healthz degraded (no full disk needed) ----
$node->safe_psql('postgres',
	"ALTER TABLE edgestat.events ADD CONSTRAINT no_fail CHECK (name <> 'failme')");
my $r = post(beacon(n => 'failme'));
is($r->{status}, 503, 'a batch that cannot commit: 503');
is($r->{body}, "503 batch could not be committed, nothing stored; retry\n",
	'its reason names no full disk');
like(http('GET', '/healthz')->{body}, qr/^\{"status":"degraded".*"last_batch_failure_s":[0-9],/,
	'/healthz: degraded, with the seconds since');
$node->safe_psql('postgres', 'ALTER TABLE edgestat.events DROP CONSTRAINT no_fail');

SKIP:
{
	skip $why_skip, 1 if defined $why_skip;

	# ---- the events onto the small filesystem ----
	my $tsdir = "$fs/ts_$$";
	mkdir $tsdir or die "mkdir $tsdir: $!";
	$node->safe_psql('postgres', "CREATE TABLESPACE small LOCATION '$tsdir'");
	# The parent's tablespace is the one of partitions made later; the
	# existing ones (the default, the days maintenance made) move one by one.
	$node->safe_psql(
		'postgres', q{
	ALTER TABLE edgestat.events SET TABLESPACE small;
	DO $$
	DECLARE
		p regclass;
	BEGIN
		FOR p IN SELECT inhrelid::regclass FROM pg_inherits
				 WHERE inhparent = 'edgestat.events'::regclass
		LOOP
			EXECUTE format('ALTER TABLE %s SET TABLESPACE small', p);
		END LOOP;
	END $$;
	});

	is(post(beacon(u => 'https://example.com/before'))->{status}, 204, 'a beacon before');
	is( $node->safe_psql(
			'postgres', q{
	SELECT t.spcname FROM edgestat.events e
	JOIN pg_class c ON c.oid = e.tableoid JOIN pg_tablespace t ON t.oid = c.reltablespace
	WHERE e.path = '/before'}),
		'small',
		'its row is on the small filesystem');

	my $wpid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'edgestat http'");
	like($wpid, qr/^\d+$/, 'the worker has a pid');

	# Fill all but ~256 kB with a file, so that a few hundred events fill the
	# rest; removing it is the operator freeing space.
	my $filler = "$fs/filler_$$";
	my $fill = avail() - 256 * 1024;
	ok($fill > 0, 'room for the filler');
	open(my $fh, '>', $filler) or die "$filler: $!";
	my $chunk = 'x' x 65536;
	my $written = 0;
	while ($written < $fill)
	{
		my $n = $fill - $written < 65536 ? $fill - $written : 65536;
		last unless print $fh substr($chunk, 0, $n);
		$written += $n;
	}
	close($fh);
	note 'filesystem free after the filler: ' . avail() . ' bytes';

	# ---- ingest until it is full ----
	# Bodies of 50 events with sizeable properties; every event has its own
	# path, so that each 204 can be found again.
	my $seq = 0;
	my (@acked, $full);
	sub body
	{
		my @ev;
		for (1 .. 50)
		{
			$seq++;
			my $props = join(',', map { sprintf('"k%d":"%s"', $_, join('', map { sprintf('%08x', int(rand(2**32))) } 1 .. 25)) } 1 .. 8);
			push @ev,
			  sprintf('{"d":"example.com","n":"pageview","u":"https://example.com/fd/%d","v":"%s","s":"%s","p":{%s}}',
				$seq, uuid(), uuid(), $props);
		}
		return ('[' . join(',', @ev) . ']', $seq - 49 .. $seq);
	}

	for my $i (1 .. 300)
	{
		my ($b, @paths) = body();
		my $r = post($b);
		if ($r->{status} == 204)
		{
			push @acked, @paths;
			next;
		}
		$full = $r;
		last;
	}
	ok(@acked > 0, scalar(@acked) . ' events answered 204 before the disk was full');
	ok(defined $full, 'a batch fails once the filesystem is full');
	is($full->{status}, 503, 'it is answered 503') if $full;
	like($full->{body} // '', qr/^503 batch could not be committed \(disk full\), nothing stored; retry/,
		'with the reason');
	is($full->{headers}{'retry-after'}, '1', 'and Retry-After');
	ok($node->log_contains(qr/could not extend file .*No space left on device/),
		'the server log says why');

	my $h = http('GET', '/healthz');
	is($h->{status}, 200, '/healthz still answers 200');
	like($h->{body}, qr/^\{"status":"degraded"/, '/healthz says degraded');
	like($h->{body}, qr/"last_batch_failure_s":\d+/, 'and how long ago a batch failed');
	my ($failures) = $h->{body} =~ /"batch_failures":(\d+)/;
	ok($failures >= 1, "batch_failures counts it ($failures)");

	# still full: more bodies fail the same way, the worker keeps answering
	my $again = post((body())[0]);
	is($again->{status}, 503, 'still full: still 503');
	is( $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE backend_type = 'edgestat http'"),
		$wpid,
		'the worker stayed up (same pid)');

	# ---- space freed: ingestion resumes by itself ----
	unlink $filler or die "unlink $filler: $!";
	my ($resumed, @paths);
	for (1 .. 50)
	{
		my $b;
		($b, @paths) = body();
		if (post($b)->{status} == 204) { $resumed = 1; push @acked, @paths; last }
		sleep 0.2;
	}
	ok($resumed, 'after space is freed, beacons are answered 204 again');
	is(post(beacon(u => 'https://example.com/after'))->{status}, 204, 'and keep being');
	push @acked, 'after';

	# nothing answered 204 is lost
	my $list = join(',', map { /^\d+$/ ? "'/fd/$_'" : "'/$_'" } @acked);
	is($node->safe_psql('postgres', "SELECT count(DISTINCT path) FROM edgestat.events WHERE path IN ($list)"),
		scalar(@acked), 'every event answered 204 is stored (' . scalar(@acked) . ')');
	is( $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE backend_type = 'edgestat http'"),
		$wpid,
		'the same worker throughout');

	# degraded clears by itself once batches have committed for a while
	my $ok = 0;
	for (1 .. 80)
	{
		if (http('GET', '/healthz')->{body} =~ /^\{"status":"ok"/) { $ok = 1; last }
		sleep 0.5;
	}
	ok($ok, '/healthz says ok again within 40 s');

	$node->stop;
	rmtree($tsdir);
}

done_testing();

