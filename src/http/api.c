/*-------------------------------------------------------------------------
 *
 * api.c
 *	  GET /api/<endpoint>: the dashboard's reports, answered by the SQL
 *	  function edgestat.dashboard_api in a short read-only transaction.
 *
 * The HTTP worker never runs a report: it hands the request to the
 * "edgestat api" worker (apiworker.c), suspends the connection and
 * answers when the result arrives, so a slow or busy dashboard cannot
 * stall ingestion.  Only the token checks of /live (one indexed lookup
 * each) still run here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

#include "apiworker.h"
#include "guard.h"
#include "http_int.h"

#define ES_API_TIMEOUT_MS	5000	/* a dashboard query must not stall ingest */

typedef struct ArgCollect
{
	StringInfo	json;
	const char *token;
	int			n;
} ArgCollect;

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			const char *value)
{
	ArgCollect *a = cls;

	if (key == NULL)
		return MHD_YES;
	if (strcmp(key, "token") == 0)
	{
		a->token = value ? value : "";
		return MHD_YES;
	}
	appendStringInfoString(a->json, a->n++ ? "," : "{");
	escape_json(a->json, key);
	appendStringInfoChar(a->json, ':');
	escape_json(a->json, value ? value : "");
	return MHD_YES;
}

static int
sqlstate_to_http(int sqlerrcode)
{
	if (sqlerrcode == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
		return 401;
	if (sqlerrcode == ERRCODE_UNDEFINED_FUNCTION)
		return 404;
	if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		ERRCODE_TO_CATEGORY(sqlerrcode) ==
		ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION)
		return 400;
	return 500;
}

/* Plausible's Stats API answers its errors as Plausible does. */
static int
stats_sqlstate_to_http(int sqlerrcode)
{
	if (sqlerrcode == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
		return 401;
	if (sqlerrcode == ERRCODE_UNDEFINED_OBJECT)
		return 404;
	if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		sqlerrcode == ERRCODE_FEATURE_NOT_SUPPORTED)
		return 400;
	return 500;
}

/*
 * SELECT edgestat.dashboard_api(token, endpoint, params) in a short
 * read-only transaction of its own, under a statement timeout so that a
 * slow report cannot stall ingestion for long.  Returns the HTTP status;
 * *result is the JSON text, or an error object.  An open batch is
 * committed first: its requests are answered sooner, never later.
 */
int
http_call_dashboard_api(const char *token, const char *endpoint,
				   const char *params, char **result)
{
	MemoryContext cxt = CurrentMemoryContext;

	http_flush_batch();
	MemoryContextSwitchTo(cxt);
	return es_run_dashboard_api(token, endpoint, params, result);
}

/* The query itself: no transaction may be open. */
int
es_run_dashboard_api(const char *token, const char *endpoint,
					 const char *params, char **result)
{
	volatile int status = 200;
	volatile bool stats = false;
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
		Datum		values[3];
		int			ret;

		values[0] = CStringGetTextDatum(token);
		values[1] = CStringGetTextDatum(endpoint);
		values[2] = CStringGetTextDatum(params);
		stats = strcmp(endpoint, ES_API_STATS) == 0;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		XactReadOnly = true;
		PushActiveSnapshot(GetTransactionSnapshot());
		enable_timeout_after(STATEMENT_TIMEOUT,
							 StatementTimeout > 0 ? StatementTimeout :
							 ES_API_TIMEOUT_MS);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (stats)
			ret = SPI_execute_with_args("SELECT edgestat.stats_api($1::text, $3::text::jsonb)::text",
										3, argtypes, values, NULL, true, 1);
		else
			ret = SPI_execute_with_args("SELECT edgestat.dashboard_api($1::text, $2::text, $3::text::jsonb)::text",
										3, argtypes, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "edgestat: the %s call returned no row", endpoint);
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

			if (isnull)
				*result = MemoryContextStrdup(cxt, "null");
			else
				*result = MemoryContextStrdup(cxt, TextDatumGetCString(d));
		}
		SPI_finish();
		disable_timeout(STATEMENT_TIMEOUT, false);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		StringInfoData buf;

		disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		status = stats ? stats_sqlstate_to_http(edata->sqlerrcode) :
			sqlstate_to_http(edata->sqlerrcode);
		if (status == 500)
			ereport(LOG,
					(errmsg("edgestat http: %s failed: %s",
							endpoint, edata->message)));
		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"error\":");
		if (stats)
			escape_json(&buf, status == 500 ? "internal error" : edata->message);
		else
		{
			escape_json(&buf, edata->message);
			appendStringInfo(&buf, ",\"sqlstate\":\"%s\"",
							 unpack_sql_state(edata->sqlerrcode));
		}
		appendStringInfoChar(&buf, '}');
		*result = buf.data;
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return status;
}

/*
 * A token in the URL ends up in proxy logs, browser history and Referer
 * headers, so the dashboard sends "Authorization: Bearer <token>" (and
 * keeps its token in the URL fragment, which no request carries).  The
 * "token" query parameter still works in 1.1, for existing links and
 * scripts, and goes away in the next release.
 */
const char *
http_request_token(EsConn *c)
{
	const char *auth = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
												   MHD_HTTP_HEADER_AUTHORIZATION);

	if (auth != NULL && pg_strncasecmp(auth, "Bearer ", 7) == 0)
	{
		auth += 7;
		while (*auth == ' ')
			auth++;
		return auth;
	}
	return MHD_lookup_connection_value(c->mhd, MHD_GET_ARGUMENT_KIND, "token");
}

/* A connection waiting for the api worker's answer. */
typedef struct ApiWait
{
	dlist_node	node;
	EsConn	   *c;
	shm_mq_handle *mqh;			/* NULL once answered */
	int			slot;
	TimestampTz started;
	int			status;
	char	   *json;
} ApiWait;

#define ES_API_WAIT_MS	(ES_API_TIMEOUT_MS * 3)	/* queued behind others too */

static dlist_head api_waits = DLIST_STATIC_INIT(api_waits);
static bool api_exit_hook = false;

static ApiWait *
wait_of(EsConn *c)
{
	dlist_iter	it;

	dlist_foreach(it, &api_waits)
	{
		ApiWait    *w = dlist_container(ApiWait, node, it.cur);

		if (w->c == c)
			return w;
	}
	return NULL;
}

/* Lets go of the queue and the slot, once. */
static void
wait_let_go(ApiWait *w)
{
	if (w->mqh != NULL)
	{
		shm_mq_detach(w->mqh);
		w->mqh = NULL;
		es_api_release(w->slot);
	}
}

static void
wait_finish(ApiWait *w, int status, const char *json)
{
	wait_let_go(w);
	w->status = status;
	w->json = MemoryContextStrdup(hw.worker_cxt, json);
	w->c->has_final = true;
	w->c->final_status = status;
	http_conn_resume(w->c);
}

/* Exiting: the api worker must not wait on queues nobody reads. */
static void
api_waits_detach(int code, Datum arg)
{
	dlist_iter	it;

	dlist_foreach(it, &api_waits)
		wait_let_go(dlist_container(ApiWait, node, it.cur));
}

/* Collects the answers that arrived; called in every turn of the loop. */
void
http_api_poll(void)
{
	dlist_iter	it;
	TimestampTz now = 0;

	dlist_foreach(it, &api_waits)
	{
		ApiWait    *w = dlist_container(ApiWait, node, it.cur);
		Size		len;
		void	   *data;
		shm_mq_result res;

		if (w->mqh == NULL)
			continue;
		res = shm_mq_receive(w->mqh, &len, &data, true);
		if (res == SHM_MQ_SUCCESS && len >= sizeof(int32))
		{
			int32		status;
			char	   *json = palloc(len - sizeof(int32) + 1);

			memcpy(&status, data, sizeof(int32));
			memcpy(json, (char *) data + sizeof(int32), len - sizeof(int32));
			json[len - sizeof(int32)] = '\0';
			wait_finish(w, status, json);
			pfree(json);
		}
		else if (res == SHM_MQ_DETACHED || res == SHM_MQ_SUCCESS)
			wait_finish(w, 503, "{\"error\":\"the dashboard API worker went away; retry\"}");
		else
		{
			if (now == 0)
				now = GetCurrentTimestamp();
			if (TimestampDifferenceExceeds(w->started, now, ES_API_WAIT_MS))
				wait_finish(w, 503, "{\"error\":\"the dashboard API worker is busy; retry\"}");
		}
	}
}

/* route.c: a resumed connection with an api answer is answered here. */
bool
http_api_answer(EsConn *c, enum MHD_Result *rc)
{
	ApiWait    *w = wait_of(c);

	if (w == NULL || w->mqh != NULL)
		return false;
	c->has_final = false;
	*rc = http_respond_json(c, w->status, w->json);
	dlist_delete(&w->node);
	pfree(w->json);
	pfree(w);
	return true;
}

/* conn.c: the connection goes away, answered or not. */
void
http_api_forget(EsConn *c)
{
	ApiWait    *w = wait_of(c);

	if (w == NULL)
		return;
	wait_let_go(w);
	dlist_delete(&w->node);
	if (w->json)
		pfree(w->json);
	pfree(w);
}

enum MHD_Result
http_serve_api(EsConn *c, const char *endpoint)
{
	StringInfoData json;
	ArgCollect	a;

	initStringInfo(&json);
	a.json = &json;
	a.token = NULL;
	a.n = 0;
	MHD_get_connection_values(c->mhd, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
	appendStringInfoString(&json, a.n ? "}" : "{}");
	a.token = http_request_token(c);
	if (a.token == NULL)
		return http_respond_json(c, 401, "{\"error\":\"token required\"}");
	if (json.len >= ES_API_MAX_PARAMS)
		return http_respond_json(c, 400, "{\"error\":\"query string too long\"}");
	if (strlen(a.token) > 256)
		return http_respond_json(c, 401, "{\"error\":\"invalid token\"}");
	return http_serve_api_call(c, a.token, endpoint, json.data);
}

/*
 * Hands one call to the api worker and suspends the connection until the
 * answer arrives (http_api_poll); without a running api worker, runs it
 * here.  endpoint ES_API_STATS is Plausible's Stats API (compat.c).
 */
enum MHD_Result
http_serve_api_call(EsConn *c, const char *token, const char *endpoint,
					const char *params)
{
	ApiWait    *w;
	shm_mq_handle *mqh;
	int			slot;

	switch (es_api_submit(token, endpoint, params, hw.worker_cxt, &mqh, &slot))
	{
		case ES_API_QUEUED:
			break;
		case ES_API_BUSY:
			return http_respond_text(c, 503,
									 "the dashboard API worker is busy; retry",
									 2, NULL);
		case ES_API_NO_WORKER:
			{
				/*
				 * Not started yet (or not registered by this build): as
				 * before, in this process.
				 */
				char	   *result;
				int			status = http_call_dashboard_api(token, endpoint,
															 params, &result);

				return http_respond_json(c, status, result);
			}
	}
	if (!api_exit_hook)
	{
		before_shmem_exit(api_waits_detach, (Datum) 0);
		api_exit_hook = true;
	}
	w = MemoryContextAllocZero(hw.worker_cxt, sizeof(ApiWait));
	w->c = c;
	w->mqh = mqh;
	w->slot = slot;
	w->started = GetCurrentTimestamp();
	dlist_push_tail(&api_waits, &w->node);
	c->suspended = true;
	MHD_suspend_connection(c->mhd);
	return MHD_YES;
}
