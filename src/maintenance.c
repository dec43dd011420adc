/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *	  One background worker per cluster, "edgestat maintenance", owns what
 *	  does not have to happen before a 204: sealing hours (building the
 *	  breakdowns' visitor sketches), creating the daily partitions ahead,
 *	  retention, and the alerts when the extension has them.
 *
 * Ingest batches used to do all of this inside the transaction the
 * answers were waiting on: one batch an hour paid 70-290 ms for a seal,
 * a typo in edgestat.retention failed every first batch after a restart,
 * and the partition upkeep's advisory lock let any session stall ingest.
 * Here every task runs in its own transaction under lock_timeout and
 * statement_timeout, a failure is logged and retried on the next round,
 * and ingestion never waits for any of it.
 *
 * The worker's state (last round, failures, hours sealed) lives in
 * shared memory, so /metrics and edgestat.stats() can show it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "maintenance.h"
#include "shmem.h"
#include "stats.h"

PGDLLEXPORT void es_maintenance_main(Datum main_arg);

/* Hours are sealed this long after they end: late beacons come first. */
#define SEAL_AFTER "2 hours"
/* Hours sealed per round at most, so that one round stays short. */
#define SEAL_PER_ROUND 24

static bool maintenance_enabled = true;
static int	maintenance_interval_s = 10;
static char *retention = NULL;
static char *maintenance_database = NULL;

/*
 * The counters are stats.c's (rounds, failures, hours sealed, partitions);
 * this is what /healthz adds.  Written by the worker alone; a reader may
 * see a message half replaced, which only a human reads.
 */
typedef struct MaintenanceShared
{
	TimestampTz last_round;
	TimestampTz last_failure;
	char		last_error[256];
} MaintenanceShared;

static MaintenanceShared *shared = NULL;

static Size
maintenance_shmem_size(void)
{
	return sizeof(MaintenanceShared);
}

static void
maintenance_shmem_attach(void *ptr, bool found)
{
	shared = ptr;
	if (!found)
		memset(shared, 0, sizeof(MaintenanceShared));
}

static const EsShmemPart maintenance_part = {
	"edgestat maintenance", maintenance_shmem_size, maintenance_shmem_attach,
	NULL, 0
};

/*
 * edgestat.retention must be an interval of at least one day: checked
 * when set, so that a typo is refused by ALTER SYSTEM or kept out by a
 * reload (the old value stays) instead of failing housekeeping later.
 */
static bool
check_retention(char **newval, void **extra, GucSource source)
{
	volatile bool ok = true;
	MemoryContext cxt = CurrentMemoryContext;

	if (*newval == NULL)
		return false;
	PG_TRY();
	{
		Interval   *iv;
		Interval	day = {0};

		iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
												   CStringGetDatum(*newval),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
		day.day = 1;
		if (DatumGetBool(DirectFunctionCall2(interval_lt,
											 IntervalPGetDatum(iv),
											 IntervalPGetDatum(&day))))
		{
			GUC_check_errdetail("edgestat.retention must be at least 1 day.");
			ok = false;
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		GUC_check_errdetail("edgestat.retention must be an interval, such as '90 days'.");
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

static void
register_worker(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "edgestat");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "es_maintenance_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "edgestat maintenance");
	snprintf(worker.bgw_type, BGW_MAXLEN, "edgestat maintenance");
	RegisterBackgroundWorker(&worker);
}

void
es_maintenance_init(void)
{
	DefineCustomBoolVariable("edgestat.maintenance",
							 "Runs the maintenance worker (sealing, partitions, retention, alerts).",
							 NULL, &maintenance_enabled, true,
							 PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("edgestat.maintenance_interval",
							"Time between two rounds of the maintenance worker.",
							NULL, &maintenance_interval_s, 10, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomStringVariable("edgestat.retention",
							   "Age (an interval) past which raw events are dropped, a day's partition at a time.",
							   "Rollups are kept.  Applied by the maintenance worker.",
							   &retention, "90 days",
							   PGC_SIGHUP, 0, check_retention, NULL, NULL);
	es_shmem_register(&maintenance_part);
	if (maintenance_enabled)
		register_worker();
}

static void
note_failure(const char *task)
{
	ErrorData  *edata;

	edata = CopyErrorData();
	FlushErrorState();
	ereport(LOG,
			(errmsg("edgestat maintenance: %s failed, retrying in %d s: %s",
					task, maintenance_interval_s, edata->message)));
	es_count(ES_C_MAINTENANCE_FAILURES, 1);
	shared->last_failure = GetCurrentTimestamp();
	strlcpy(shared->last_error, edata->message, sizeof(shared->last_error));
	FreeErrorData(edata);
}

/*
 * Runs one statement that returns one integer in a transaction of its
 * own; returns it, or -1 when the statement failed (logged, counted).
 */
static int64
run_task(const char *task, const char *sql)
{
	volatile int64 result = -1;
	MemoryContext cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, sql);
	PG_TRY();
	{
		bool		isnull;
		Datum		d;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(sql, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "%s returned no row", task);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						  &isnull);
		result = isnull ? 0 : DatumGetInt64(d);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		note_failure(task);
		AbortCurrentTransaction();
		result = -1;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

static bool
extension_exists(void)
{
	bool		exists;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	exists = OidIsValid(get_extension_oid("edgestat", true));
	CommitTransactionCommand();
	return exists;
}

static void
run_round(TimestampTz *partitions_done)
{
	int64		n;
	TimestampTz now = GetCurrentTimestamp();

	n = run_task("sealing hours",
				 "SELECT edgestat.seal_rollups(now() - interval '" SEAL_AFTER "', "
				 CppAsString2(SEAL_PER_ROUND) ")::bigint");
	if (n > 0)
		es_count(ES_C_HOURS_SEALED, n);

	/* partitions and retention once an hour is plenty: days are long */
	if (*partitions_done == 0 ||
		TimestampDifferenceExceeds(*partitions_done, now, 3600 * 1000))
	{
		int64		created = run_task("creating partitions",
									   "SELECT edgestat.ensure_partitions(2)::bigint");
		int64		dropped = run_task("retention",
									   "SELECT edgestat.apply_retention()::bigint");

		if (created > 0)
			es_count(ES_C_PARTITIONS_CREATED, created);
		if (dropped > 0)
			es_count(ES_C_PARTITIONS_DROPPED, dropped);
		if (created >= 0 && dropped >= 0)
			*partitions_done = now;
	}

	/* alerts, where the installed version of the extension has them */
	if (run_task("looking for alerts",
				 "SELECT (to_regprocedure('edgestat.check_alerts()') IS NOT NULL)::int::bigint") == 1)
		run_task("alerts", "SELECT count(*) FROM (SELECT edgestat.check_alerts()) a");
	es_count(ES_C_MAINTENANCE_ROUNDS, 1);
	shared->last_round = GetCurrentTimestamp();
}

void
es_maintenance_main(Datum main_arg)
{
	TimestampTz partitions_done = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	maintenance_database = GetConfigOptionByName("edgestat.database", NULL, false);
	BackgroundWorkerInitializeConnection(maintenance_database, NULL, 0);
	pgstat_report_appname("edgestat maintenance");

	/*
	 * Never wait long for a lock (a session may hold one on a partition or
	 * a rollup row for as long as it likes: try again next round), never
	 * run away, and resolve nothing through a search_path someone else can
	 * write to.
	 */
	SetConfigOption("lock_timeout", "1000", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "60000", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET,
					PGC_S_OVERRIDE);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (extension_exists())
			run_round(&partitions_done);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 maintenance_interval_s * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}

void
es_maintenance_format_health(StringInfo buf)
{
	if (shared == NULL)
		return;
	if (shared->last_failure != 0)
	{
		appendStringInfoString(buf, ",\"maintenance_last_error\":");
		escape_json(buf, shared->last_error);
	}
}
