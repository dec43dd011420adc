# Shared by the benchmark scripts: a throwaway, durable cluster with
# edgestat loaded, owned by postgres, on loopback, on a free port.
# Usage: bench_cluster_start DIR [extra postgresql.conf lines...]; then
# $PSQL runs SQL as postgres; bench_cluster_stop DIR.

bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen=>1,LocalAddr=>"127.0.0.1")->sockport'
}

bench_cluster_start() {
	local dir=$1
	shift
	BENCH_PGPORT=$(bench_free_port)
	mkdir -p "$dir"
	chown postgres "$dir"
	runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$dir/data" -A trust -U postgres \
		-E UTF8 --locale=C >/dev/null
	{
		echo "port = $BENCH_PGPORT"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'edgestat'"
		echo "edgestat.database = 'postgres'"
		echo "synchronous_commit = on"
		echo "shared_buffers = '512MB'"
		echo "max_wal_size = '4GB'"
		for line in "$@"; do echo "$line"; done
	} >>"$dir/data/postgresql.conf"
	runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
	PSQL="runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h $dir -p $BENCH_PGPORT -d postgres"
	$PSQL -c "CREATE EXTENSION edgestat CASCADE" 2>/dev/null
}

bench_cluster_stop() {
	runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$1"
}

# CPU seconds (user+system) used so far by every process of the cluster.
bench_cluster_cpu() {
	local pm
	pm=$(head -1 "$1/data/postmaster.pid")
	local pids="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
	local ticks=0
	for p in $pids; do
		[ -r /proc/$p/stat ] || continue
		set -- $(sed 's/.*) //' /proc/$p/stat)
		# after the command: state=1 ... utime=12 stime=13 cutime=14 cstime=15
		ticks=$((ticks + ${12} + ${13} + ${14} + ${15}))
	done
	echo "scale=3; $ticks / $(getconf CLK_TCK)" | bc
}
