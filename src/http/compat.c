/*-------------------------------------------------------------------------
 *
 * compat.c
 *	  POST /api/event (Plausible's events API), POST /api/send (Umami's
 *	  collect API) and POST /api/v2/query (Plausible's Stats API v2):
 *	  docs/compat.md.
 *
 * The two event APIs become beacon bodies (core/compat.c) with ids from
 * identity.c and go through beacons.c exactly as POST /e does: same
 * pipeline, same batch, same group commit.  Only the answer differs: it
 * is given once the batch committed, in the foreign API's shape (202 "ok"
 * for Plausible, a JSON object for Umami).  The Stats API is answered by
 * the SQL function edgestat.stats_api in a read-only transaction, like
 * the dashboard's API.
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

#include "beacon.h"
#include "compat.h"
#include "apiworker.h"
#include "http_int.h"
#include "identity.h"
#include "stats.h"
#include "useragent.h"

#define ES_WEBSITES_RELOAD_MS	2000

/* Umami's website ids: the sites' public_id, cached per process. */
typedef struct Website
{
	uint8		public_id[16];
	char	   *domain;
} Website;

static Website *websites = NULL;
static int	nwebsites = 0;
static TimestampTz websites_loaded = 0;

EsConnKind
http_compat_kind(const char *url)
{
	if (strcmp(url, "/api/event") == 0)
		return EC_PLAUSIBLE;
	if (strcmp(url, "/api/send") == 0)
		return EC_UMAMI;
	if (strcmp(url, "/api/v2/query") == 0)
		return EC_STATS_API;
	return EC_OTHER;
}

static enum MHD_Result
respond_error(EsConn *c, int status, const char *message)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"error\":");
	escape_json(&buf, message);
	appendStringInfoChar(&buf, '}');
	return http_respond_json(c, status, buf.data);
}

/* SELECT public_id, domain FROM edgestat.sites, in the current transaction. */
static void
load_websites_spi(void)
{
	MemoryContext cxt = hw.worker_cxt;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT public_id::text, domain FROM edgestat.sites", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "edgestat: could not read the sites' public_id: %s",
			 SPI_result_code_string(ret));
	if (websites)
	{
		for (int i = 0; i < nwebsites; i++)
			pfree(websites[i].domain);
		pfree(websites);
		websites = NULL;
		nwebsites = 0;
	}
	if (SPI_processed > 0)
		websites = MemoryContextAlloc(cxt, SPI_processed * sizeof(Website));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *id = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		char	   *domain = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2);

		if (id && domain && es_uuid_parse(id, websites[nwebsites].public_id))
			websites[nwebsites++].domain = MemoryContextStrdup(cxt, domain);
	}
	SPI_finish();
}

/*
 * The domain of the site whose public_id is id, or NULL.  Read again on a
 * miss, at most every ES_WEBSITES_RELOAD_MS, inside the open batch's
 * transaction if there is one (an error there fails the batch, as any
 * error while adding to it does), else in a short one of its own.
 */
static const char *
website_domain(const uint8 id[16])
{
	TimestampTz now;

	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < nwebsites; i++)
			if (memcmp(websites[i].public_id, id, 16) == 0)
				return websites[i].domain;
		now = GetCurrentTimestamp();
		if (pass == 1 ||
			(websites_loaded != 0 &&
			 !TimestampDifferenceExceeds(websites_loaded, now, ES_WEBSITES_RELOAD_MS)))
			break;
		websites_loaded = now;
		if (hw.xact_open)
			load_websites_spi();
		else
		{
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			load_websites_spi();
			PopActiveSnapshot();
			CommitTransactionCommand();
			MemoryContextSwitchTo(hw.scratch_cxt);
		}
	}
	return NULL;
}

/* Put text into the connection's body buffer, for beacons.c to take. */
static void
set_body(EsConn *c, const char *text)
{
	size_t		n = strlen(text);

	if (n + 1 > c->cap)
	{
		if (c->body)
			pfree(c->body);
		c->body = MemoryContextAlloc(hw.worker_cxt, n + 1);
		c->cap = n + 1;
	}
	memcpy(c->body, text, n + 1);
	c->len = n;
}

/*
 * The ids of every event, then hand the beacon body to beacons.c: it adds
 * it to the open batch and suspends the connection until the commit;
 * route.c then calls http_compat_answer.
 */
static enum MHD_Result
submit(EsConn *c, EsCompatOut *out)
{
	EsAddr		client;
	const char *ua = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
												 MHD_HTTP_HEADER_USER_AGENT);
	char	   *text;
	EsUserAgent verdict;

	c->compat_session[0] = '\0';

	/*
	 * Bots are answered as the foreign API answers everyone, without
	 * touching the session table; the pipeline would drop them anyway, but
	 * its answer for a body of bots only is /e's 204.
	 */
	es_classify_user_agent(ua ? ua : "", ua ? strlen(ua) : 0, 0, &verdict);
	if (verdict.bot)
	{
		es_count(ES_C_RECEIVED, out->count);
		es_count(ES_C_BOTS, out->count);
		es_compat_free(out);
		return http_compat_answer(c);
	}

	http_request_client(c, &client);
	for (int i = 0; i < out->count; i++)
	{
		const EsCompatItem *item = &out->items[i];
		EsIdentity id;

		es_identity_assign(item->domain, &client, ua ? ua : "", item->engaged_ms,
						   item->interactive, &id);
		es_compat_identify(out, i, id.visitor, id.session, id.seq,
						   item->kind == ES_COMPAT_ENGAGEMENT ? id.engaged_ms : -1,
						   item->interactive ? id.interactions : -1);
		if (i == 0)
			es_uuid_format(id.session, c->compat_session);
	}
	text = es_compat_print(out);
	es_compat_free(out);
	set_body(c, text);
	pfree(text);
	return http_beacon_complete(c);
}

/*
 * POST /e from edgestat's tracker with data-storage="none": events that
 * carry neither "v" nor "s" get server-side ids, the body is rewritten in
 * place, and beacons.c goes on as for any body.  Anything else (ids
 * present, a body the parser will refuse, a bot) is left untouched.
 * Called by http_beacon_complete before es_batch_add.
 */
void
http_compat_fill_ids(EsConn *c)
{
	EsCompatOut out;
	EsAddr		client;
	EsUserAgent verdict;
	const char *ua;
	char	   *text;

	if (c->body == NULL || c->too_big || !es_compat_edgestat(c->body, c->len, &out))
		return;
	ua = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT);
	es_classify_user_agent(ua ? ua : "", ua ? strlen(ua) : 0, 0, &verdict);
	if (verdict.bot)
	{
		es_compat_free(&out);
		return;
	}
	http_request_client(c, &client);
	for (int i = 0; i < out.count; i++)
	{
		EsIdentity id;

		if (!out.items[i].needs_ids)
			continue;
		es_identity_assign(out.items[i].domain, &client, ua ? ua : "", 0, false, &id);
		es_compat_identify(&out, i, id.visitor, id.session, -1, -1, -1);
	}
	text = es_compat_print(&out);
	es_compat_free(&out);
	set_body(c, text);
	pfree(text);
}

static enum MHD_Result
complete_plausible(EsConn *c)
{
	EsCompatOut out;
	char		err[256];

	if (!es_compat_plausible(c->body ? c->body : "", c->len, &out, err, sizeof(err)))
		return respond_error(c, 400, err);
	return submit(c, &out);
}

static enum MHD_Result
complete_umami(EsConn *c)
{
	EsCompatOut out;
	char		err[256];
	const char *domain;
	volatile bool failed = false;

	if (!es_compat_umami(c->body ? c->body : "", c->len, &out, err, sizeof(err)))
		return respond_error(c, 400, err);
	PG_TRY();
	{
		domain = website_domain(out.website);
	}
	PG_CATCH();
	{
		if (hw.xact_open)
			http_fail_batch("reading the sites' public_id");
		else
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(hw.worker_cxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			ereport(LOG,
					(errmsg("edgestat http: could not read the sites' public_id: %s",
							edata->message)));
			FreeErrorData(edata);
		}
		MemoryContextSwitchTo(hw.scratch_cxt);
		failed = true;
	}
	PG_END_TRY();
	if (failed)
	{
		es_compat_free(&out);
		return http_respond_text(c, 503, "could not read the sites; retry", 1, NULL);
	}
	if (domain == NULL)
	{
		es_compat_free(&out);
		return respond_error(c, 404, "website not found");
	}
	if (out.nothing)
	{
		es_compat_free(&out);
		return http_respond_json(c, 200, "{}");
	}
	es_compat_set_domain(&out, domain);
	return submit(c, &out);
}

/*
 * POST /api/v2/query: edgestat.stats_api(key, query), run by the api
 * worker like the dashboard's reports (api.c), never in the ingest loop.
 */
static enum MHD_Result
complete_stats_api(EsConn *c)
{
	const char *auth = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
												   MHD_HTTP_HEADER_AUTHORIZATION);
	char	   *query;

	if (auth == NULL || pg_strncasecmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0')
		return respond_error(c, 401,
							 "Missing API key. Please use a valid Plausible API key as a Bearer Token.");
	if (strlen(auth + 7) > 256)
		return respond_error(c, 401, "Invalid API key");
	query = pnstrdup(c->body ? c->body : "", c->len);
	if (!es_utf8_valid(query, c->len) || strlen(query) != c->len)
		return respond_error(c, 400, "Invalid JSON body");
	if (c->len >= ES_API_MAX_PARAMS)
		return respond_error(c, 400, "Query too large");
	return http_serve_api_call(c, auth + 7, ES_API_STATS, query);
}

/* The whole body is in: translate and submit, or answer. */
enum MHD_Result
http_compat_complete(EsConn *c)
{
	if (c->too_big)
	{
		char		reason[128];

		snprintf(reason, sizeof(reason),
				 "body larger than edgestat.max_body (%d bytes)", es_max_body);
		return respond_error(c, 413, reason);
	}
	if (hw.shutting_down)
		return http_respond_text(c, 503, "server shutting down; retry", 1, NULL);
	switch (c->kind)
	{
		case EC_PLAUSIBLE:
			return complete_plausible(c);
		case EC_UMAMI:
			return complete_umami(c);
		case EC_STATS_API:
			return complete_stats_api(c);
		default:
			return http_respond_text(c, 500, "not a compatibility request", 0, NULL);
	}
}

/* The batch holding this request's events committed: answer as they do. */
enum MHD_Result
http_compat_answer(EsConn *c)
{
	if (c->kind == EC_UMAMI)
	{
		char		json[160];

		if (c->compat_session[0] == '\0')
			return http_respond_json(c, 200, "{\"cache\":\"\"}");

		snprintf(json, sizeof(json),
				 "{\"cache\":\"\",\"sessionId\":\"%s\",\"visitId\":\"%s\"}",
				 c->compat_session, c->compat_session);
		return http_respond_json(c, 200, json);
	}
	{
		struct MHD_Response *r = http_body_response("ok", 2, "text/plain; charset=utf-8");

		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		return http_queue(c, 202, r);
	}
}
