/*-------------------------------------------------------------------------
 *
 * http.h
 *	  Helpers of the HTTP worker that need no socket: trusted-proxy CIDR
 *	  lists and the X-Forwarded-For choice, static-path checks, and the
 *	  shared histograms behind /metrics and /healthz.
 *
 * worker.c owns the sockets and the transaction; everything here is
 * deterministic so that it can be reasoned about (and tested) alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_HTTP_H
#define EDGESTAT_HTTP_H

#include "edgestat.h"
#include "lib/stringinfo.h"

/* One network of edgestat.trusted_proxies. */
typedef struct EsCidr
{
	EsAddr		net;			/* host bits already cleared */
	int			bits;			/* prefix length */
} EsCidr;

/*
 * Parses a comma/space separated CIDR list ("10.0.0.0/8, ::1, fd00::/8").
 * A bare address is a host route.  Returns false and a palloc'd message
 * in *error on the first bad entry; *out is palloc'd in the current
 * memory context.
 */
extern bool es_cidr_list_parse(const char *text, EsCidr **out, int *n,
							   char **error);
extern bool es_cidr_contains(const EsCidr *cidrs, int n, const EsAddr *addr);

/* Parses one address, as found in X-Forwarded-For (ports, brackets). */
extern bool es_http_parse_addr(const char *text, size_t len, EsAddr *out);

/* Turns ::ffff:a.b.c.d into a.b.c.d so IPv4 rules apply to it. */
extern void es_addr_unmap(EsAddr *addr);

/*
 * The client address of a request: the peer, or, when the peer is
 * trusted, the right-most X-Forwarded-For entry that is not itself
 * trusted.  xff may be NULL.
 */
extern void es_http_client_addr(const EsAddr *peer, const char *xff,
								const EsCidr *cidrs, int n, EsAddr *client);

/* Path below /dashboard/: only [A-Za-z0-9._/-], no "..", no "//". */
extern bool es_static_path_ok(const char *rel);
extern const char *es_content_type_for(const char *path);

/* ---- shared metrics (histograms of committed batches) ---- */
extern void es_http_observe_batch(int events, int64 commit_us);
extern void es_http_format_metrics(StringInfo buf);
extern void es_http_format_health(StringInfo buf, int worker);

#endif							/* EDGESTAT_HTTP_H */
