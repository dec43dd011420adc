/*-------------------------------------------------------------------------
 *
 * api.c
 *	  GET /api/<endpoint>: the dashboard's reports, answered by the SQL
 *	  function edgestat.dashboard_api in a short read-only transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

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
	volatile int status = 200;
	MemoryContext cxt = CurrentMemoryContext;

	http_flush_batch();
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
		Datum		values[3];
		int			ret;

		values[0] = CStringGetTextDatum(token);
		values[1] = CStringGetTextDatum(endpoint);
		values[2] = CStringGetTextDatum(params);

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		XactReadOnly = true;
		PushActiveSnapshot(GetTransactionSnapshot());
		enable_timeout_after(STATEMENT_TIMEOUT,
							 StatementTimeout > 0 ? StatementTimeout :
							 ES_API_TIMEOUT_MS);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT edgestat.dashboard_api($1::text, $2::text, $3::text::jsonb)::text",
									3, argtypes, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "edgestat.dashboard_api returned no row");
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
		status = sqlstate_to_http(edata->sqlerrcode);
		if (status == 500)
			ereport(LOG,
					(errmsg("edgestat http: dashboard_api(%s) failed: %s",
							endpoint, edata->message)));
		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"error\":");
		escape_json(&buf, edata->message);
		appendStringInfo(&buf, ",\"sqlstate\":\"%s\"}",
						 unpack_sql_state(edata->sqlerrcode));
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

enum MHD_Result
http_serve_api(EsConn *c, const char *endpoint)
{
	StringInfoData json;
	ArgCollect	a;
	char	   *result;
	int			status;

	initStringInfo(&json);
	a.json = &json;
	a.token = NULL;
	a.n = 0;
	MHD_get_connection_values(c->mhd, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
	appendStringInfoString(&json, a.n ? "}" : "{}");
	a.token = http_request_token(c);
	if (a.token == NULL)
		return http_respond_json(c, 401, "{\"error\":\"token required\"}");
	status = http_call_dashboard_api(a.token, endpoint, json.data, &result);
	return http_respond_json(c, status, result);
}
