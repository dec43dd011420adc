/*-------------------------------------------------------------------------
 *
 * route.c
 *	  libmicrohttpd's request callbacks: the first call of a request is
 *	  routed to the room that answers it; later calls carry a beacon's
 *	  body or the answer of a resumed connection.
 *
 * MHD callbacks run inside MHD_run; an ereport(ERROR) escaping one would
 * longjmp across MHD's frames and leave it corrupt, so on_request catches
 * everything: an open batch is rolled back and answered 503, and so is
 * the request.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "guard.h"
#include "http_int.h"
#include "stats.h"

static bool
method_is(const char *method, const char *m)
{
	return strcmp(method, m) == 0;
}

static enum MHD_Result
preflight(EsConn *c, const char *allow)
{
	struct MHD_Response *r = http_body_response(NULL, 0, NULL);
	const char *req_headers;

	if (r == NULL)
		return MHD_NO;
	req_headers = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
											  "Access-Control-Request-Headers");
	MHD_add_response_header(r, "Access-Control-Allow-Methods", allow);
	MHD_add_response_header(r, "Access-Control-Allow-Headers",
							(req_headers && req_headers[0]) ? req_headers :
							"Content-Type");
	MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return http_queue(c, 204, r);
}

/* The first call for a request: route it, answer what needs no body. */
static enum MHD_Result
route(EsConn *c, const char *url, const char *method)
{
	bool		get = method_is(method, "GET") || method_is(method, "HEAD");
	const char *allow = "GET, HEAD, OPTIONS";
	EsConnKind	body_kind = strcmp(url, "/e") == 0 ? EC_BEACON : http_compat_kind(url);

	/* requests with a body: /e, and compat.c's before the other /api/ */
	if (body_kind != EC_OTHER)
	{
		if (method_is(method, "POST"))
		{
			const char *cl = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
														 MHD_HTTP_HEADER_CONTENT_LENGTH);

			if (cl != NULL)
			{
				char	   *end;
				unsigned long long n;

				errno = 0;
				n = strtoull(cl, &end, 10);
				if (errno == 0 && end != cl && n > (unsigned long long) es_max_body)
				{
					char		reason[128];

					snprintf(reason, sizeof(reason),
							 "body larger than edgestat.max_body (%d bytes)",
							 es_max_body);
					return http_respond_text(c, 413, reason, 0, NULL);
				}
			}
			c->kind = body_kind;
			return MHD_YES;
		}
		if (method_is(method, "OPTIONS"))
			return preflight(c, "POST, OPTIONS");
		return http_respond_text(c, 405, "method not allowed; use POST", 0,
							"POST, OPTIONS");
	}

	if (strcmp(url, "/e.js") == 0 || strcmp(url, "/healthz") == 0 ||
		strcmp(url, "/metrics") == 0 || strcmp(url, "/live") == 0 ||
		strcmp(url, "/dashboard") == 0 || strncmp(url, "/dashboard/", 11) == 0 ||
		strncmp(url, "/api/", 5) == 0)
	{
		if (method_is(method, "OPTIONS"))
			return preflight(c, allow);
		if (!get)
			return http_respond_text(c, 405, "method not allowed; use GET", 0, allow);
	}
	else
		return http_respond_text(c, 404, "not found", 0, NULL);

	if (strcmp(url, "/e.js") == 0)
		return http_serve_tracker(c);
	if (strcmp(url, "/healthz") == 0)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		es_http_format_health(&buf, hw.worker_no);
		return http_serve_text(c, &buf, "application/json");
	}
	if (strcmp(url, "/metrics") == 0)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		es_http_format_metrics(&buf);
		return http_serve_text(c, &buf, "text/plain; version=0.0.4; charset=utf-8");
	}
	if (strcmp(url, "/dashboard") == 0)
		return http_serve_dashboard(c, "");
	if (strncmp(url, "/dashboard/", 11) == 0)
		return http_serve_dashboard(c, url + 11);
	if (strcmp(url, "/live") == 0)
	{
		if (hw.shutting_down)
			return http_respond_text(c, 503, "server shutting down; retry", 1, NULL);
		return http_serve_live(c);
	}
	/* /api/<endpoint> */
	{
		const char *endpoint = url + 5;

		for (const char *p = endpoint; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
				  *p == '_' || *p == '-'))
				return http_respond_json(c, 404, "{\"error\":\"no such endpoint\"}");
		if (endpoint[0] == '\0')
			return http_respond_json(c, 404, "{\"error\":\"no such endpoint\"}");
		return http_serve_api(c, endpoint);
	}
}

static enum MHD_Result
dispatch(EsConn *c, const char *url, const char *method,
		 const char *upload_data, size_t *upload_data_size, bool first)
{
	if (first)
		return route(c, url, method);

	if (c->has_final)
	{
		enum MHD_Result rc;

		/* resumed with the api worker's answer */
		if (http_api_answer(c, &rc))
			return rc;
		/* resumed after the batch committed (or failed) */
		c->has_final = false;
		if (c->final_status == 204)
			return EC_IS_COMPAT(c->kind) ? http_compat_answer(c) : http_respond_204(c);
		return http_respond_text(c, c->final_status, c->final_reason,
							c->final_status == 503 ? 1 : 0, NULL);
	}

	if (c->kind != EC_BEACON && !EC_IS_COMPAT(c->kind))
		return MHD_YES;			/* not reached: answered in the first call */

	if (*upload_data_size > 0)
	{
		size_t		n = *upload_data_size;

		*upload_data_size = 0;
		if (c->too_big || c->len + n > (size_t) es_max_body)
		{
			/*
			 * Chunked bodies have no length up front: drop the rest and
			 * answer 413 at the end, but cut a client that keeps going.
			 */
			c->too_big = true;
			c->discarded += n;
			return c->discarded > 1024 * 1024 ? MHD_NO : MHD_YES;
		}
		if (c->len + n > c->cap)
		{
			size_t		cap = Max(c->cap * 2, 1024);

			while (cap < c->len + n)
				cap *= 2;
			if (c->body)
				c->body = repalloc(c->body, cap);
			else
				c->body = MemoryContextAlloc(hw.worker_cxt, cap);
			c->cap = cap;
		}
		memcpy(c->body + c->len, upload_data, n);
		c->len += n;
		return MHD_YES;
	}
	if (EC_IS_COMPAT(c->kind))
		return http_compat_complete(c);
	return http_beacon_complete(c);
}

/*
 * MHD's access handler.  Everything below may ereport; nothing may escape
 * into MHD, so the whole request is under PG_TRY: an error is logged, an
 * open batch is rolled back and answered 503, and so is this request.
 */
enum MHD_Result
http_on_request(void *cls, struct MHD_Connection *mhd, const char *url,
		   const char *method, const char *version, const char *upload_data,
		   size_t *upload_data_size, void **con_cls)
{
	EsConn	   *volatile c = *con_cls;
	volatile enum MHD_Result rc = MHD_NO;
	MemoryContext old = MemoryContextSwitchTo(hw.scratch_cxt);

	PG_TRY();
	{
		bool		first = (c == NULL);

		if (first)
		{
			c = http_conn_alloc(mhd);
			*con_cls = c;
			es_count(ES_C_HTTP_REQUESTS, 1);
		}
		rc = dispatch(c, url, method, upload_data, upload_data_size, first);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(hw.worker_cxt);
		if (hw.xact_open)
			http_fail_batch("request handling");
		else
		{
			ErrorData  *edata = CopyErrorData();

			FlushErrorState();
			ereport(LOG,
					(errmsg("edgestat http: %s %s failed: %s",
							method, url, edata->message)));
			FreeErrorData(edata);
			if (IsTransactionState() || IsAbortedTransactionBlockState())
				AbortCurrentTransaction();
		}
		rc = MHD_NO;
		if (c != NULL && !c->in_list && !c->suspended)
			rc = http_respond_text(c, 503, "internal error; retry", 1, NULL);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextReset(hw.scratch_cxt);
	return rc;
}

void
http_on_completed(void *cls, struct MHD_Connection *mhd, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	EsConn	   *c = *con_cls;

	if (c == NULL)
		return;
	*con_cls = NULL;
	http_conn_release(c);
}
