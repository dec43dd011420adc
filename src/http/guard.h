/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  Private to the HTTP worker: how a request proves its dashboard token
 *	  (api.c) and the bookkeeping of /live streams (sse.c) that conn.c
 *	  calls when a connection goes away.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_HTTP_GUARD_H
#define EDGESTAT_HTTP_GUARD_H

#include "http_int.h"

/*
 * The dashboard token of a request: "Authorization: Bearer <token>", or
 * (deprecated, for 1.1 only) the "token" query parameter.  NULL if none.
 */
extern const char *http_request_token(EsConn *c);

/*
 * conn.c: edgestat.max_connections_per_ip per IPv4 address or IPv6 /64;
 * listen.c passes these to MHD_start_daemon (accept policy) and as
 * MHD_OPTION_NOTIFY_CONNECTION.
 */
extern enum MHD_Result http_accept_policy(void *cls, const struct sockaddr *addr,
										  socklen_t addrlen);
extern void http_on_connection(void *cls, struct MHD_Connection *connection,
							   void **socket_context,
							   enum MHD_ConnectionNotificationCode toe);

/* conn.c: a /live connection is being released. */
extern void http_sse_forget(EsConn *c);

/* api.c: answers of the api worker (apiworker.c) to /api requests. */
extern bool http_api_answer(EsConn *c, enum MHD_Result *rc);
extern void http_api_forget(EsConn *c);

#endif							/* EDGESTAT_HTTP_GUARD_H */
