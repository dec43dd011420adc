/*-------------------------------------------------------------------------
 *
 * conn.c
 *	  Per-connection state (recycled through a free list, so the common
 *	  request allocates nothing) and the helpers every room answers with:
 *	  CORS and common headers, text, JSON and empty responses; and the
 *	  per-client connection limit.
 *
 * edgestat.max_connections_per_ip counts per IPv4 address or IPv6 /64
 * (libmicrohttpd's own limit counts per exact address, and one IPv6
 * subscriber has 2^64 of them): http_accept_policy refuses a connection
 * over the limit, http_on_connection keeps the counts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "guard.h"
#include "keyed.h"
#include "http_int.h"
#include "stats.h"

#define ES_FREE_CONNS		1024
#define ES_KEEP_BODY_BUFFER 65536

EsConn *
http_conn_alloc(struct MHD_Connection *mhd)
{
	EsConn	   *c;

	if (hw.free_conns)
	{
		c = hw.free_conns;
		hw.free_conns = c->next_free;
		hw.nfree_conns--;
	}
	else
		c = MemoryContextAllocZero(hw.worker_cxt, sizeof(EsConn));
	c->mhd = mhd;
	c->kind = EC_OTHER;
	c->too_big = c->suspended = c->in_list = c->has_final = false;
	c->sse_closing = false;
	c->len = c->discarded = 0;
	c->out_len = c->out_off = 0;
	c->site_id = 0;
	c->commit_lsn = InvalidXLogRecPtr;
	c->next_free = NULL;
	hw.nconns_live++;
	return c;
}

void
http_conn_release(EsConn *c)
{
	if (c->kind == EC_SSE)
		http_sse_forget(c);
	else
		http_api_forget(c);
	if (c->in_list)
	{
		dlist_delete(&c->node);
		c->in_list = false;
		if (c->kind == EC_SSE)
			hw.nsse--;
		else if (c->commit_lsn != InvalidXLogRecPtr)
			hw.nflushing--;
		else
			hw.npending--;
	}
	hw.nconns_live--;
	c->mhd = NULL;
	if (c->cap > ES_KEEP_BODY_BUFFER)
	{
		pfree(c->body);
		c->body = NULL;
		c->cap = 0;
	}
	if (c->out_cap > ES_KEEP_BODY_BUFFER)
	{
		pfree(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (hw.nfree_conns >= ES_FREE_CONNS)
	{
		if (c->body)
			pfree(c->body);
		if (c->out)
			pfree(c->out);
		pfree(c);
		return;
	}
	c->next_free = hw.free_conns;
	hw.free_conns = c;
	hw.nfree_conns++;
}

void
http_conn_resume(EsConn *c)
{
	if (c->suspended)
	{
		c->suspended = false;
		MHD_resume_connection(c->mhd);
	}
}

static void
add_common_headers(EsConn *c, struct MHD_Response *r)
{
	const char *origin = MHD_lookup_connection_value(c->mhd, MHD_HEADER_KIND,
													 "Origin");

	MHD_add_response_header(r, "Access-Control-Allow-Origin",
							(origin && origin[0]) ? origin : "*");
	MHD_add_response_header(r, "Vary", "Origin");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (hw.shutting_down)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Queues r (consuming it) and keeps the counters. */
enum MHD_Result
http_queue(EsConn *c, int status, struct MHD_Response *r)
{
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	add_common_headers(c, r);
	if (status >= 400 && status < 500)
		es_count(ES_C_HTTP_REJECTED, 1);
	else if (status == 503)
		es_count(ES_C_HTTP_SHED, 1);
	rc = MHD_queue_response(c->mhd, status, r);
	MHD_destroy_response(r);
	return rc;
}

struct MHD_Response *
http_body_response(const void *data, size_t len, const char *ctype)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(len, (void *) data,
										len ? MHD_RESPMEM_MUST_COPY :
										MHD_RESPMEM_PERSISTENT);
	if (r && ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return r;
}

/* An error (or any non-204 verdict) with its reason as text. */
enum MHD_Result
http_respond_text(EsConn *c, int status, const char *reason, int retry_after,
			 const char *allow)
{
	char		text[512];
	int			n;
	struct MHD_Response *r;

	n = snprintf(text, sizeof(text), "%d %s\n", status, reason);
	if (n < 0)
		n = 0;
	if (n >= (int) sizeof(text))
		n = sizeof(text) - 1;
	r = http_body_response(text, n, "text/plain; charset=utf-8");
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (retry_after > 0)
	{
		char		ra[16];

		snprintf(ra, sizeof(ra), "%d", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return http_queue(c, status, r);
}

enum MHD_Result
http_respond_204(EsConn *c)
{
	return http_queue(c, 204, http_body_response(NULL, 0, NULL));
}

enum MHD_Result
http_respond_json(EsConn *c, int status, const char *json)
{
	struct MHD_Response *r = http_body_response(json, strlen(json),
												   "application/json");

	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return http_queue(c, status, r);
}

enum MHD_Result
http_serve_text(EsConn *c, StringInfo buf, const char *ctype)
{
	struct MHD_Response *r = http_body_response(buf->data, buf->len, ctype);

	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return http_queue(c, 200, r);
}

/* ---- connections per client (IPv4 address or IPv6 /64) ---- */

typedef struct PeerCount
{
	EsAddr		client;
	bool		used;			/* ever: probing runs past it */
	int			n;				/* open connections */
} PeerCount;

static PeerCount *peers = NULL;
static uint32 peers_mask = 0;
static EsHashKey peers_key;

static bool
client_of(const struct sockaddr *sa, EsAddr *client)
{
	memset(client, 0, sizeof(*client));
	if (sa == NULL || !es_addr_from_sockaddr(sa, client))
		return false;
	if (client->family == 6)
		memset(client->bytes + 8, 0, 8);
	return true;
}

/*
 * Called inside MHD callbacks: no ereport.  Without memory the limit is
 * not enforced rather than refusing everyone.
 */
static bool
peers_ready(void)
{
	uint32		n = 1024;

	if (peers != NULL)
		return true;
	while (n < (uint32) es_max_connections * 2)
		n *= 2;
	peers = MemoryContextAllocExtended(hw.worker_cxt, sizeof(PeerCount) * n,
									   MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
	if (peers == NULL || !pg_strong_random(&peers_key, sizeof(peers_key)))
		return false;
	peers_mask = n - 1;
	return true;
}

/* The client's entry; with create, a new one (NULL if the table is full). */
static PeerCount *
peer_find(const EsAddr *client, bool create)
{
	uint32		h = (uint32) es_siphash(&peers_key, client, sizeof(*client));
	PeerCount  *reuse = NULL;

	for (uint32 i = 0; i <= peers_mask; i++)
	{
		PeerCount  *p = &peers[(h + i) & peers_mask];

		if (!p->used)
		{
			if (!create)
				return NULL;
			if (reuse == NULL)
				reuse = p;
			break;
		}
		if (memcmp(&p->client, client, sizeof(*client)) == 0)
			return p;
		if (p->n == 0 && reuse == NULL)
			reuse = p;
	}
	if (reuse != NULL)
	{
		reuse->client = *client;
		reuse->used = true;
		reuse->n = 0;
	}
	return reuse;
}

enum MHD_Result
http_accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	EsAddr		client;
	PeerCount  *p;

	if (!peers_ready() || !client_of(addr, &client))
		return MHD_YES;
	p = peer_find(&client, false);
	if (p != NULL && p->n >= es_max_connections_per_ip)
	{
		es_count(ES_C_HTTP_SHED, 1);
		return MHD_NO;
	}
	return MHD_YES;
}

void
http_on_connection(void *cls, struct MHD_Connection *connection,
				   void **socket_context, enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *info;
		EsAddr		client;
		PeerCount  *p = NULL;

		info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (peers_ready() && info != NULL && client_of(info->client_addr, &client))
			p = peer_find(&client, true);
		if (p != NULL)
			p->n++;
		*socket_context = p;
	}
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
	{
		PeerCount  *p = *socket_context;

		if (p != NULL && p->n > 0)
			p->n--;
		*socket_context = NULL;
	}
}
