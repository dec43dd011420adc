/*-------------------------------------------------------------------------
 *
 * apiworker.c
 *	  The "edgestat api" background worker: runs the dashboard's report
 *	  queries (edgestat.dashboard_api) for the HTTP workers, so that no
 *	  report ever runs inside the ingest loop.
 *
 * An HTTP worker puts a request into a free slot of a small table in
 * shared memory, attaches as receiver of the slot's message queue and
 * suspends the connection; this worker claims queued slots one at a time,
 * runs the query in its own transaction (under the same timeout as
 * before) and sends "status, JSON" through the queue, which wakes the
 * HTTP worker.  A slot is held by both sides and freed when both let go
 * (an answer may still sit unread in the queue after this worker is done
 * with it), so a queue is never re-created under a reader or a writer.
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
#include "storage/shm_mq.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "apiworker.h"
#include "http_int.h"
#include "shmem.h"

#define API_SLOTS		16
#define API_MQ_SIZE		65536	/* a larger answer streams through */
#define API_SEND_TIMEOUT_MS 10000	/* a receiver that stopped reading */

typedef enum ApiSlotState
{
	API_FREE,
	API_FILLING,
	API_QUEUED,
	API_RUNNING
} ApiSlotState;

typedef struct ApiSlot
{
	ApiSlotState state;
	int			holders;		/* 2 while queued: the HTTP and the api worker */
	char		endpoint[64];
	char		token[257];
	char		params[ES_API_MAX_PARAMS];
} ApiSlot;

typedef struct ApiShared
{
	slock_t		mutex;
	int			worker_procno;	/* the api worker's, -1: not running */
	ApiSlot		slots[API_SLOTS];
} ApiShared;

static ApiShared *api = NULL;

static Size
api_queues_offset(void)
{
	return MAXALIGN(sizeof(ApiShared));
}

static Size
api_shmem_size(void)
{
	return add_size(api_queues_offset(), mul_size(API_SLOTS, API_MQ_SIZE));
}

static shm_mq *
slot_queue(int i)
{
	return (shm_mq *) ((char *) api + api_queues_offset() + (Size) i * API_MQ_SIZE);
}

static void
api_shmem_attach(void *ptr, bool found)
{
	api = ptr;
	if (!found)
	{
		memset(api, 0, sizeof(ApiShared));
		SpinLockInit(&api->mutex);
		api->worker_procno = -1;
	}
}

static const EsShmemPart api_part = {
	"edgestat api", api_shmem_size, api_shmem_attach, NULL, 0
};

void
es_api_init(void)
{
	BackgroundWorker worker;

	es_shmem_register(&api_part);
	if (es_workers <= 0)
		return;					/* no HTTP, no dashboard */
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "edgestat");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "es_api_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "edgestat api worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "edgestat api");
	RegisterBackgroundWorker(&worker);
}

/* ---- the HTTP worker's side ---- */

/*
 * Queues a request; when queued, *mqh (allocated in cxt) is the caller's
 * until it has the answer or detaches.
 */
EsApiSubmit
es_api_submit(const char *token, const char *endpoint, const char *params,
			  MemoryContext cxt, shm_mq_handle **mqh, int *slotp)
{
	int			slot = -1;
	int			procno;
	shm_mq	   *mq;
	MemoryContext old;

	if (api == NULL)
		return ES_API_NO_WORKER;
	if (strlen(token) >= sizeof(api->slots[0].token) ||
		strlen(endpoint) >= sizeof(api->slots[0].endpoint) ||
		strlen(params) >= sizeof(api->slots[0].params))
		return ES_API_BUSY;		/* callers check the lengths first */
	SpinLockAcquire(&api->mutex);
	procno = api->worker_procno;
	if (procno >= 0)
	{
		for (int i = 0; i < API_SLOTS; i++)
		{
			if (api->slots[i].state == API_FREE)
			{
				api->slots[i].state = API_FILLING;
				api->slots[i].holders = 2;
				slot = i;
				break;
			}
		}
	}
	SpinLockRelease(&api->mutex);
	if (procno < 0)
		return ES_API_NO_WORKER;
	if (slot < 0)
		return ES_API_BUSY;

	strlcpy(api->slots[slot].token, token, sizeof(api->slots[slot].token));
	strlcpy(api->slots[slot].endpoint, endpoint, sizeof(api->slots[slot].endpoint));
	strlcpy(api->slots[slot].params, params, sizeof(api->slots[slot].params));
	mq = shm_mq_create(slot_queue(slot), API_MQ_SIZE);
	shm_mq_set_receiver(mq, MyProc);
	old = MemoryContextSwitchTo(cxt);
	*mqh = shm_mq_attach(mq, NULL, NULL);
	MemoryContextSwitchTo(old);

	SpinLockAcquire(&api->mutex);
	api->slots[slot].state = API_QUEUED;
	SpinLockRelease(&api->mutex);
	SetLatch(&ProcGlobal->allProcs[procno].procLatch);
	*slotp = slot;
	return ES_API_QUEUED;
}

/* ---- the api worker ---- */

static shm_mq_handle *serving = NULL;
static int	serving_slot = -1;

/* One side is done with a slot (its queue detached); the last frees it. */
void
es_api_release(int slot)
{
	SpinLockAcquire(&api->mutex);
	if (--api->slots[slot].holders <= 0)
	{
		api->slots[slot].holders = 0;
		api->slots[slot].state = API_FREE;
	}
	SpinLockRelease(&api->mutex);
}

/* On exit: nobody waits for an answer that will not come. */
static void
api_worker_exit(int code, Datum arg)
{
	if (serving != NULL)
		shm_mq_detach(serving);
	if (serving_slot >= 0)
		es_api_release(serving_slot);
	SpinLockAcquire(&api->mutex);
	api->worker_procno = -1;
	SpinLockRelease(&api->mutex);
}

static int
claim_next(void)
{
	int			slot = -1;

	SpinLockAcquire(&api->mutex);
	for (int i = 0; i < API_SLOTS; i++)
	{
		if (api->slots[i].state == API_QUEUED)
		{
			api->slots[i].state = API_RUNNING;
			slot = i;
			break;
		}
	}
	SpinLockRelease(&api->mutex);
	return slot;
}

static void
serve(int slot)
{
	ApiSlot    *s = &api->slots[slot];
	shm_mq	   *mq = slot_queue(slot);
	char	   *result = NULL;
	int32		status;
	StringInfoData msg;
	TimestampTz start;

	serving_slot = slot;
	shm_mq_set_sender(mq, MyProc);
	serving = shm_mq_attach(mq, NULL, NULL);
	status = es_run_dashboard_api(s->token, s->endpoint, s->params, &result);

	/* a statement timeout that fired late has nothing left to cancel */
	QueryCancelPending = false;
	initStringInfo(&msg);
	appendBinaryStringInfo(&msg, (char *) &status, sizeof(status));
	appendStringInfoString(&msg, result ? result : "null");

	/* never block for good on an HTTP worker that stopped reading */
	start = GetCurrentTimestamp();
	for (;;)
	{
		shm_mq_result res = shm_mq_send(serving, msg.len, msg.data, true, true);

		if (res != SHM_MQ_WOULD_BLOCK)
			break;
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), API_SEND_TIMEOUT_MS))
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	shm_mq_detach(serving);
	serving = NULL;
	serving_slot = -1;
	es_api_release(slot);
	pfree(msg.data);
}

static bool
extension_ready(void)
{
	bool		ready;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	ready = OidIsValid(get_extension_oid("edgestat", true));
	CommitTransactionCommand();
	return ready;
}

void
es_api_worker_main(Datum main_arg)
{
	MemoryContext cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(es_database, NULL, 0);
	/* report SQL resolves names in trusted schemas only */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("edgestat api worker");

	cxt = AllocSetContextCreate(TopMemoryContext, "edgestat api worker",
								ALLOCSET_DEFAULT_SIZES);
	while (!ShutdownRequestPending && !extension_ready())
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	before_shmem_exit(api_worker_exit, (Datum) 0);
	SpinLockAcquire(&api->mutex);
	api->worker_procno = MyProc->pgprocno;
	SpinLockRelease(&api->mutex);

	while (!ShutdownRequestPending)
	{
		int			slot;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		while (!ShutdownRequestPending && (slot = claim_next()) >= 0)
		{
			MemoryContextSwitchTo(cxt);
			serve(slot);
			MemoryContextReset(cxt);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* a statement timeout that fired late has nothing to cancel */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}
