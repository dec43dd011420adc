/*-------------------------------------------------------------------------
 *
 * sse.c
 *	  GET /live: Server-Sent Events of one site's committed NOTIFY
 *	  payloads, copied from the shared live feed (live.c) into each
 *	  stream's buffer and handed to MHD by a content reader.
 *
 * Every frame reaches a client whole or not at all: a frame goes into a
 * stream's buffer whole, and a stream whose client would need more than
 * edgestat.live_buffer waiting, or has taken none of what waits for
 * edgestat.live_stream_timeout, is closed (the browser reconnects).  At
 * most edgestat.live_max_streams are open per worker.  The token of each
 * stream is checked again when a committed transaction drops tokens
 * (edgestat.dashboard_revoke) and every edgestat.live_token_recheck, so
 * revoked and expired tokens lose their streams.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "apiworker.h"
#include "guard.h"
#include "http_int.h"
#include "live.h"

/* The state of one stream, beside its EsConn (the content reader's cls). */
typedef struct SseStream
{
	dlist_node	node;
	EsConn	   *c;
	TimestampTz progress;		/* the client last took bytes, or had none waiting */
	bool		kill;			/* close now, dropping what waits */
	char		token[257];
} SseStream;

static dlist_head streams = DLIST_STATIC_INIT(streams);
static uint64 tokens_seen = 0;
static TimestampTz tokens_checked = 0;
static TimestampTz reaped = 0;

static SseStream *
stream_of(EsConn *c)
{
	dlist_iter	it;

	dlist_foreach(it, &streams)
	{
		SseStream  *s = dlist_container(SseStream, node, it.cur);

		if (s->c == c)
			return s;
	}
	return NULL;
}

/* Appends len bytes, or, if the buffer cannot take them all, none. */
static bool
sse_append(EsConn *c, const char *data, size_t len)
{
	if (c->out_len - c->out_off + len > (size_t) es_live_buffer_kb * 1024)
		return false;
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
	return true;
}

/* One whole event, or a closed stream: never a part of one. */
static void
sse_frame(SseStream *s, const char *prefix, const char *payload, const char *suffix)
{
	StringInfoData buf;

	if (s->kill)
		return;
	initStringInfo(&buf);
	appendStringInfoString(&buf, prefix);
	appendStringInfoString(&buf, payload);
	appendStringInfoString(&buf, suffix);
	if (!sse_append(s->c, buf.data, buf.len))
	{
		/* the client is too slow: what it missed is missing whole */
		ereport(LOG,
				(errmsg("edgestat http: /live stream closed: its client fell more than edgestat.live_buffer (%d kB) behind",
						es_live_buffer_kb)));
		s->kill = true;
	}
	pfree(buf.data);
}

/*
 * MHD's content reader for /live, called inside MHD_run: hands over what
 * is buffered, or suspends the connection until the feed has more.  No
 * PostgreSQL call that can fail runs in this callback.
 */
static ssize_t
sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	SseStream  *s = cls;
	EsConn	   *c = s->c;
	size_t		avail = c->out_len - c->out_off;
	size_t		n;

	if (s->kill)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	s->progress = GetCurrentTimestamp();
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

	dlist_foreach(it, &streams)
	{
		SseStream  *s = dlist_container(SseStream, node, it.cur);

		if (s->c->site_id != site_id || s->c->sse_closing)
			continue;
		/* a payload is one line of JSON; "data:" frames it as one event */
		sse_frame(s, "data: ", payload, "\n\n");
	}
}

void
http_wake_sse(void)
{
	dlist_iter	it;

	dlist_foreach(it, &streams)
	{
		SseStream  *s = dlist_container(SseStream, node, it.cur);
		EsConn	   *c = s->c;

		if (c->out_len > c->out_off || c->sse_closing || s->kill)
			http_conn_resume(c);
	}
}

/* Is the token still good for this stream's site? */
static bool
token_still_valid(SseStream *s)
{
	char	   *result = NULL;
	int			status = http_call_dashboard_api(s->token, "site", "{}", &result);
	bool		ok = true;

	if (status == 401)
		ok = false;
	else if (status == 200)
	{
		cJSON	   *root = cJSON_Parse(result);
		cJSON	   *id = root ? cJSON_GetObjectItemCaseSensitive(root, "site_id") : NULL;

		ok = cJSON_IsNumber(id) && (int32) id->valuedouble == s->c->site_id;
		cJSON_Delete(root);
	}
	/* another failure (a lock, a timeout) is no verdict: keep the stream */
	return ok;
}

/* Streams whose token was revoked or expired are closed. */
static void
recheck_tokens(TimestampTz now)
{
	uint64		gen = es_tokens_generation();
	dlist_iter	it;

	if (gen == tokens_seen &&
		!TimestampDifferenceExceeds(tokens_checked, now, es_live_token_recheck_s * 1000))
		return;
	tokens_seen = gen;
	tokens_checked = now;
	dlist_foreach(it, &streams)
	{
		SseStream  *s = dlist_container(SseStream, node, it.cur);

		if (!s->kill && !s->c->sse_closing && !token_still_valid(s))
		{
			ereport(LOG,
					(errmsg("edgestat http: /live stream closed: its token was revoked or expired")));
			s->kill = true;
		}
	}
}

/*
 * Streams whose client went away.  A suspended connection is not polled
 * and MHD, sending, does not read: without a look at the socket, a gone
 * client would keep its slot until the next ping fails.  A /live client
 * sends nothing after its request, so readable-at-EOF means gone.
 * Returns how many streams are still live.
 */
static int
reap_gone(void)
{
	dlist_iter	it;
	int			alive = 0;

	dlist_foreach(it, &streams)
	{
		SseStream  *s = dlist_container(SseStream, node, it.cur);
		const union MHD_ConnectionInfo *info;
		char		byte;

		if (s->kill)
			continue;
		info = MHD_get_connection_info(s->c->mhd, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info != NULL &&
			recv(info->connect_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		{
			s->kill = true;
			continue;
		}
		alive++;
	}
	return alive;
}

/* Moves new feed entries into the SSE buffers; pings idle streams. */
void
http_pump_feed(TimestampTz now)
{
	dlist_iter	it;

	http_api_poll();
	if (hw.nsse == 0)
	{
		hw.feed_seen = es_feed_head();
		tokens_seen = es_tokens_generation();
		return;
	}
	recheck_tokens(now);
	if (es_feed_head() > hw.feed_seen)
		hw.feed_seen = es_feed_read(hw.feed_seen, feed_dispatch, NULL);
	if (TimestampDifferenceExceeds(reaped, now, 1000))
	{
		reap_gone();
		reaped = now;
	}
	if (TimestampDifferenceExceeds(hw.last_ping, now, ES_SSE_PING_MS))
	{
		dlist_foreach(it, &streams)
			sse_frame(dlist_container(SseStream, node, it.cur), ": ping", "", "\n\n");
		hw.last_ping = now;
	}
	dlist_foreach(it, &streams)
	{
		SseStream  *s = dlist_container(SseStream, node, it.cur);

		if (!s->kill && s->c->out_len > s->c->out_off &&
			TimestampDifferenceExceeds(s->progress, now, es_live_stream_timeout_s * 1000))
		{
			ereport(LOG,
					(errmsg("edgestat http: /live stream closed: its client took nothing for edgestat.live_stream_timeout (%d s)",
							es_live_stream_timeout_s)));
			s->kill = true;
		}
	}
	http_wake_sse();
}

void
http_sse_forget(EsConn *c)
{
	SseStream  *s = stream_of(c);

	if (s == NULL)
		return;
	dlist_delete(&s->node);
	memset(s->token, 0, sizeof(s->token));
	pfree(s);
}

enum MHD_Result
http_serve_live(EsConn *c)
{
	const char *token = http_request_token(c);
	char	   *result = NULL;
	int			status;
	cJSON	   *root;
	cJSON	   *id;
	int32		site_id;
	SseStream  *s;
	struct MHD_Response *r;

	if (token == NULL)
		return http_respond_json(c, 401, "{\"error\":\"token required\"}");
	if (strlen(token) >= sizeof(s->token))
		return http_respond_json(c, 401, "{\"error\":\"invalid token\"}");
	if (hw.nsse >= es_live_max_streams && reap_gone() >= es_live_max_streams)
	{
		http_wake_sse();
		return http_respond_text(c, 503,
								 "too many /live streams (edgestat.live_max_streams); retry",
								 5, NULL);
	}
	status = http_call_dashboard_api(token, "site", "{}", &result);
	if (status != 200)
		return http_respond_json(c, status, result);
	root = cJSON_Parse(result);
	id = root ? cJSON_GetObjectItemCaseSensitive(root, "site_id") : NULL;
	if (!cJSON_IsNumber(id))
	{
		cJSON_Delete(root);
		return http_respond_json(c, 500,
								 "{\"error\":\"dashboard_api('site') returned no site_id\"}");
	}
	site_id = (int32) id->valuedouble;
	cJSON_Delete(root);

	/* start from "now": deliver what is pending to the others first */
	http_pump_feed(GetCurrentTimestamp());
	if (hw.nsse == 0)
		hw.last_ping = GetCurrentTimestamp();

	s = MemoryContextAllocZero(hw.worker_cxt, sizeof(SseStream));
	s->c = c;
	s->progress = GetCurrentTimestamp();
	strlcpy(s->token, token, sizeof(s->token));
	dlist_push_tail(&streams, &s->node);

	c->kind = EC_SSE;
	c->site_id = site_id;
	sse_frame(s, "retry: 3000\n: connected", "", "\n\n");
	dlist_push_tail(&hw.sse_list, &c->node);
	c->in_list = true;
	hw.nsse++;
	if (hw.nsse == 1)
	{
		hw.feed_seen = es_feed_head();
		tokens_seen = es_tokens_generation();
		tokens_checked = GetCurrentTimestamp();
	}

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
										  sse_reader, s, NULL);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
							"text/event-stream; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	/* pings keep it alive; edgestat.live_stream_timeout cuts a stuck one */
	MHD_set_connection_option(c->mhd, MHD_CONNECTION_OPTION_TIMEOUT,
							  (unsigned int) 0);
	return http_queue(c, 200, r);
}
