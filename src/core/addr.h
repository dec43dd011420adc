/*-------------------------------------------------------------------------
 *
 * addr.h
 *	  Client addresses, pure: the one form (EsAddr) in which sockets, the
 *	  X-Forwarded-For header and SQL's inet reach geolocation and rate
 *	  limiting; trusted-proxy CIDR lists and the X-Forwarded-For rule.
 *
 * No allocation and no backend symbol, so all of it is unit-tested alone.
 * The address is never stored.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EDGESTAT_ADDR_H
#define EDGESTAT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

typedef struct EsAddr
{
	uint8_t		family;			/* 0 unknown, 4 or 6 */
	uint8_t		bytes[16];		/* IPv4 in the first four */
} EsAddr;

/* One network of a trusted-proxy list. */
typedef struct EsCidr
{
	EsAddr		net;			/* host bits already cleared */
	int			bits;			/* prefix length */
} EsCidr;

/* edgestat.trusted_proxies holds at most this many networks. */
#define ES_MAX_CIDRS 64

typedef struct EsCidrList
{
	int			n;
	EsCidr		nets[ES_MAX_CIDRS];
} EsCidrList;

/*
 * Parses one address as sockets print it or a proxy writes it into
 * X-Forwarded-For: "1.2.3.4", "1.2.3.4:5678", "::1", "[::1]" or
 * "[::1]:443", blanks around allowed.  IPv4-mapped IPv6 becomes IPv4, so
 * that one client is one key whichever way it arrived.
 */
extern bool es_addr_parse(const char *text, size_t len, EsAddr *out);
extern void es_addr_unmap(EsAddr *addr);
extern void es_addr_format(const EsAddr *addr, char *out, size_t outsize);
extern bool es_addr_from_sockaddr(const struct sockaddr *sa, EsAddr *out);

/*
 * Parses a comma/blank separated CIDR list ("10.0.0.0/8, ::1, fd00::/8");
 * a bare address is a host route.  On the first bad entry returns false
 * with a message in error.
 */
extern bool es_cidr_list_parse(const char *text, EsCidrList *out,
							   char *error, size_t errorsize);
extern bool es_cidr_contains(const EsCidrList *list, const EsAddr *addr);

/*
 * The client of a request: the peer, or, when the peer is trusted, the
 * right-most X-Forwarded-For entry that is not itself trusted.  xff may
 * be NULL.
 */
extern void es_client_addr(const EsAddr *peer, const char *xff,
						   const EsCidrList *trusted, EsAddr *client);

#endif							/* EDGESTAT_ADDR_H */
