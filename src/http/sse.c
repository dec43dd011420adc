/*-------------------------------------------------------------------------
 *
 * sse.c
 *	  GET /live: Server-Sent Events of one site's committed NOTIFY
 *	  payloads, copied from the shared live feed (live.c) into each
 *	  stream's buffer and handed to MHD by a content reader.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "http_int.h"
#include "live.h"

#define ES_SSE_MAX_BUFFER	(1024 * 1024)	/* a slower reader loses events */

static void
sse_append(EsConn *c, const char *data, size_t len)
{
	if (c->out_len - c->out_off + len > ES_SSE_MAX_BUFFER)
		return;					/* the reader is too slow: drop, don't grow */
	if (c->out_off > 0 && c->out_len + len > c->out_cap)
	{
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len > c->out_cap)
	{
		size_t		cap = Max(c->out_cap * 2, 4096);

		while (cap < c->out_len + len)
			cap *= 2;
		if (c->out)
			c->out = repalloc(c->out, cap);
		else
			c->out = MemoryContextAlloc(hw.worker_cxt, cap);
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

/*
 * MHD's content reader for /live, called inside MHD_run: hands over what
 * is buffered, or suspends the connection until the feed has more.  Only
 * memcpy here: no PostgreSQL call may run in this callback.
 */
static ssize_t
sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	EsConn	   *c = cls;
	size_t		avail = c->out_len - c->out_off;
	size_t		n;

	if (avail == 0)
	{
		c->out_len = c->out_off = 0;
		if (c->sse_closing)
			return MHD_CONTENT_READER_END_OF_STREAM;
		c->suspended = true;
		MHD_suspend_connection(c->mhd);
		return 0;
	}
	n = Min(avail, max);
	memcpy(buf, c->out + c->out_off, n);
	c->out_off += n;
	return (ssize_t) n;
}

static void
feed_dispatch(int32 site_id, const char *payload, void *arg)
{
	dlist_iter	it;
	size_t		len = strlen(payload);

	dlist_foreach(it, &hw.sse_list)
	{
		EsConn	   *c = dlist_container(EsConn, node, it.cur);

		if (c->site_id != site_id || c->sse_closing)
			continue;
		/* a payload is one line of JSON; "data:" frames it as one event */
		sse_append(c, "data: ", 6);
		sse_append(c, payload, len);
		sse_append(c, "\n\n", 2);
	}
}

void
http_wake_sse(void)
{
	dlist_iter	it;

	dlist_foreach(it, &hw.sse_list)
	{
		EsConn	   *c = dlist_container(EsConn, node, it.cur);

		if (c->out_len > c->out_off || c->sse_closing)
			http_conn_resume(c);
	}
}

/* Moves new feed entries into the SSE buffers; pings idle streams. */
void
http_pump_feed(TimestampTz now)
{
	if (hw.nsse == 0)
	{
		hw.feed_seen = es_feed_head();
		return;
	}
	if (es_feed_head() > hw.feed_seen)
		hw.feed_seen = es_feed_read(hw.feed_seen, feed_dispatch, NULL);
	if (TimestampDifferenceExceeds(hw.last_ping, now, ES_SSE_PING_MS))
	{
		dlist_iter	it;

		dlist_foreach(it, &hw.sse_list)
		{
			EsConn	   *c = dlist_container(EsConn, node, it.cur);

			sse_append(c, ": ping\n\n", 8);
		}
		hw.last_ping = now;
	}
	http_wake_sse();
}

enum MHD_Result
http_serve_live(EsConn *c)
{
	const char *token = MHD_lookup_connection_value(c->mhd,
													MHD_GET_ARGUMENT_KIND,
													"token");
	char	   *result = NULL;
	int			status;
	cJSON	   *root;
	cJSON	   *id;
	struct MHD_Response *r;

	if (token == NULL)
		return http_respond_json(c, 401, "{\"error\":\"token required\"}");
	status = http_call_dashboard_api(token, "site", "{}", &result);
	if (status != 200)
		return http_respond_json(c, status, result);
	root = cJSON_Parse(result);
	id = root ? cJSON_GetObjectItemCaseSensitive(root, "site_id") : NULL;
	if (!cJSON_IsNumber(id))
		return http_respond_json(c, 500,
								 "{\"error\":\"dashboard_api('site') returned no site_id\"}");

	/* start from "now": deliver what is pending to the others first */
	http_pump_feed(GetCurrentTimestamp());
	if (hw.nsse == 0)
		hw.last_ping = GetCurrentTimestamp();
	c->kind = EC_SSE;
	c->site_id = (int32) id->valuedouble;
	{
		static const char hello[] = "retry: 3000\n: connected\n\n";

		sse_append(c, hello, sizeof(hello) - 1);
	}
	dlist_push_tail(&hw.sse_list, &c->node);
	c->in_list = true;
	hw.nsse++;
	if (hw.nsse == 1)
		hw.feed_seen = es_feed_head();

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
										  sse_reader, c, NULL);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
							"text/event-stream; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	/* pings keep it alive; the idle timeout would cut a quiet stream */
	MHD_set_connection_option(c->mhd, MHD_CONNECTION_OPTION_TIMEOUT,
							  (unsigned int) 0);
	return http_queue(c, 200, r);
}
