/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The HTTP worker's life: its settings, registration with the
 *	  postmaster, startup (wait for the extension, listen), the wait loop,
 *	  reload on SIGHUP and shutdown on SIGTERM.
 *
 * Each worker is one single-threaded backend connected to
 * edgestat.database; libmicrohttpd's epoll descriptor sits in the
 * worker's WaitEventSet next to the latch, so every PostgreSQL call
 * happens on the backend's own thread.  The other rooms are listed in
 * http_int.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "geo.h"
#include "http.h"
#include "http_int.h"
#include "live.h"

PGDLLEXPORT void es_http_worker_main(Datum main_arg);

char	   *es_database = NULL;
char	   *es_listen_addresses = NULL;
int			es_port = 8080;
int			es_workers = 1;
char	   *es_trusted_proxies = NULL;
int			es_max_body = 16384;
int			es_batch_size = 1000;
int			es_flush_interval_ms = 2;
int			es_max_pending = 5000;
int			es_max_connections = 1024;
int			es_max_connections_per_ip = 64;
int			es_connection_timeout_s = 10;
static int	lock_timeout_ms = 1000;

EsHttpWorker hw = {
	.pending_list = DLIST_STATIC_INIT(hw.pending_list),
	.sse_list = DLIST_STATIC_INIT(hw.sse_list),
};

static void
define_settings(void)
{
	DefineCustomStringVariable("edgestat.database",
							   "Database the HTTP workers connect to.",
							   NULL, &es_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.listen_addresses",
							   "Comma-separated addresses the HTTP workers bind.",
							   NULL, &es_listen_addresses, "127.0.0.1",
							   PGC_POSTMASTER, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.port", "HTTP port.", NULL,
							&es_port, 8080, 1, 65535,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.workers",
							"HTTP workers sharing the port; 0 disables HTTP.",
							NULL, &es_workers, 1, 0, 64,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.trusted_proxies",
							   "CIDR list whose X-Forwarded-For is believed.",
							   NULL, &es_trusted_proxies, "",
							   PGC_SIGHUP, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.max_body",
							"Largest accepted request body.",
							NULL, &es_max_body, 16384, 64, 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.batch_size",
							"Events that make an HTTP worker commit its batch.",
							NULL, &es_batch_size, 1000, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.flush_interval",
							"Age at which an HTTP worker commits a batch that is not full.",
							NULL, &es_flush_interval_ms, 2, 0, 10000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.max_pending",
							"Bodies an HTTP worker holds for commit before it answers 503.",
							NULL, &es_max_pending, 5000, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.max_connections",
							"Concurrent HTTP connections per worker.",
							NULL, &es_max_connections, 1024, 1, 65536,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.max_connections_per_ip",
							"Concurrent HTTP connections per client address per worker.",
							NULL, &es_max_connections_per_ip, 64, 1, 65536,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.lock_timeout",
							"Longest an ingest batch waits for a lock before it fails with 503.",
							"While a batch waits the worker answers nothing, so this bounds the stall "
							"that another session's lock can cause.",
							&lock_timeout_ms, 1000, 1, 600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.connection_timeout",
							"Idle or stalled HTTP connections are closed after this.",
							NULL, &es_connection_timeout_s, 10, 1, 3600,
							PGC_POSTMASTER, GUC_UNIT_S, NULL, NULL, NULL);
}

static void
register_workers(void)
{
	BackgroundWorker worker;

	for (int i = 0; i < es_workers; i++)
	{
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
			BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		/* a worker that fails (port taken, ...) retries; no tight loop */
		worker.bgw_restart_time = 5;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "edgestat");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "es_http_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "edgestat http worker %d", i);
		snprintf(worker.bgw_type, BGW_MAXLEN, "edgestat http");
		worker.bgw_main_arg = Int32GetDatum(i);
		worker.bgw_notify_pid = 0;
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * The worker's own session settings: bounded lock waits, nothing resolved
 * through a schema that a database owner could write to (the worker runs
 * as the bootstrap superuser), and no triggers.
 */
static void
apply_session_settings(void)
{
	char		value[32];

	snprintf(value, sizeof(value), "%d", lock_timeout_ms);
	SetConfigOption("lock_timeout", value, PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);
	/* the writer folds the rollups itself: no trigger fires (writer.c) */
	SetConfigOption("session_replication_role", "replica", PGC_SUSET,
					PGC_S_OVERRIDE);
}

static void
reload_config(void)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	apply_session_settings();
	es_geo_reload_if_changed();
	http_load_trusted_proxies();
	http_load_tracker();
}

static void
wait_for_extension(void)
{
	for (;;)
	{
		bool		exists;

		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		exists = OidIsValid(get_extension_oid("edgestat", true));
		CommitTransactionCommand();
		if (exists)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static long
next_timeout(TimestampTz now)
{
	long		timeout = 1000;

	for (int i = 0; i < hw.ndaemons; i++)
	{
		MHD_UNSIGNED_LONG_LONG t;

		if (MHD_get_timeout(hw.daemons[i], &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG) timeout)
			timeout = (long) t;
	}
	if (hw.xact_open)
	{
		long		left = es_flush_interval_ms -
			(long) ((now - hw.batch_started) / 1000);

		timeout = Min(timeout, Max(left, 0));
	}
	if (hw.nsse > 0)
	{
		long		left = ES_SSE_PING_MS - (long) ((now - hw.last_ping) / 1000);

		timeout = Min(timeout, Max(left, 0));
	}
	return timeout;
}

/*
 * SIGTERM: stop accepting, commit what is pending and answer it, end the
 * streams, give MHD a moment to send, then close everything.
 */
static void
shutdown_http(void)
{
	TimestampTz deadline;

	hw.shutting_down = true;
	for (int i = 0; i < hw.ndaemons; i++)
	{
		MHD_socket s = MHD_quiesce_daemon(hw.daemons[i]);

		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
	http_flush_batch();
	{
		dlist_iter	it;

		dlist_foreach(it, &hw.sse_list)
		{
			EsConn	   *c = dlist_container(EsConn, node, it.cur);

			c->sse_closing = true;
		}
		http_wake_sse();
	}
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
	while (hw.nconns_live > 0 && GetCurrentTimestamp() < deadline)
	{
		http_run_daemons();
		http_flush_batch();
		if (hw.nconns_live == 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 5L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	http_flush_batch();
	for (int i = 0; i < hw.ndaemons; i++)
		MHD_stop_daemon(hw.daemons[i]);
	hw.ndaemons = 0;
}

void
es_http_init(void)
{
	define_settings();
	es_http_metrics_init();
	register_workers();
}

void
es_http_worker_main(Datum main_arg)
{
	WaitEventSet *wes;
	WaitEvent	events[ES_MAX_DAEMONS + 2];

	hw.worker_no = DatumGetInt32(main_arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(es_database, NULL, 0);
	{
		char		appname[64];

		snprintf(appname, sizeof(appname), "edgestat http worker %d", hw.worker_no);
		pgstat_report_appname(appname);
	}
	apply_session_settings();

	hw.worker_cxt = AllocSetContextCreate(TopMemoryContext, "edgestat http worker",
									   ALLOCSET_DEFAULT_SIZES);
	hw.scratch_cxt = AllocSetContextCreate(hw.worker_cxt, "edgestat http request",
										ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(hw.worker_cxt);
	get_share_path(my_exec_path, hw.share_dir);

	wait_for_extension();

	http_load_trusted_proxies();
	http_load_tracker();
	hw.batch = es_batch_create(hw.worker_cxt);
	es_feed_listen(true);
	http_start_listening();

#if PG_VERSION_NUM >= 170000
	wes = CreateWaitEventSet(NULL, hw.ndaemons + 2);
#else
	wes = CreateWaitEventSet(hw.worker_cxt, hw.ndaemons + 2);
#endif
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < hw.ndaemons; i++)
	{
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(hw.daemons[i], MHD_DAEMON_INFO_EPOLL_FD);

		/* never epoll_wait on it ourselves: MHD's events are edge-triggered */
		AddWaitEventToSet(wes, WL_SOCKET_READABLE, info->epoll_fd, NULL,
						  hw.daemons[i]);
	}

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		timeout = next_timeout(now);
		int			n;

		n = WaitEventSetWait(wes, timeout, events, lengthof(events),
							 PG_WAIT_EXTENSION);
		for (int i = 0; i < n; i++)
			if (events[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);

		/*
		 * A query cancel aimed at an idle worker (or a statement timeout
		 * that fired just after its query) has nothing to cancel here;
		 * left pending, ProcessInterrupts would throw outside any
		 * PG_TRY and kill the worker.
		 */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
			reload_config();

		http_run_daemons();

		now = GetCurrentTimestamp();
		if (http_flush_due(now))
		{
			http_flush_batch();
			/* answer the resumed connections now, not a wait later */
			http_run_daemons();
		}
		if (hw.nsse > 0)
		{
			PG_TRY();
			{
				http_pump_feed(now);
			}
			PG_CATCH();
			{
				EmitErrorReport();
				FlushErrorState();
			}
			PG_END_TRY();
			if (hw.nsse > 0)
				http_run_daemons();
		}
		MemoryContextSwitchTo(hw.worker_cxt);
	}

	ereport(LOG, (errmsg("edgestat http worker %d shutting down", hw.worker_no)));
	shutdown_http();
	es_feed_listen(false);
	/* exit 1: if this was pg_terminate_backend, the postmaster restarts us */
	proc_exit(1);
}
