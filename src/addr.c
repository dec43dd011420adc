/*-------------------------------------------------------------------------
 *
 * addr.c
 *	  Client addresses: the one form (EsAddr) in which sockets, the
 *	  X-Forwarded-For header and SQL's inet reach geolocation and rate
 *	  limiting.  The address is never stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "edgestat.h"

/* IPv4-mapped IPv6 addresses are IPv4: one client, one bucket. */
static void
unmap_v4(EsAddr *addr)
{
	static const uint8 prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (addr->family == 6 && memcmp(addr->bytes, prefix, 12) == 0)
	{
		memmove(addr->bytes, addr->bytes + 12, 4);
		memset(addr->bytes + 4, 0, 12);
		addr->family = 4;
	}
}

bool
es_addr_parse(const char *text, EsAddr *out)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return false;
	if (inet_pton(AF_INET, text, out->bytes) == 1)
	{
		out->family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, text, out->bytes) == 1)
	{
		out->family = 6;
		unmap_v4(out);
		return true;
	}
	memset(out, 0, sizeof(*out));
	return false;
}

void
es_addr_format(const EsAddr *addr, char *out, size_t outsize)
{
	if (addr->family == 0 ||
		inet_ntop(addr->family == 4 ? AF_INET : AF_INET6, addr->bytes,
				  out, outsize) == NULL)
		strlcpy(out, "unknown", outsize);
}

bool
es_addr_from_sockaddr(const struct sockaddr *sa, EsAddr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET)
	{
		memcpy(out->bytes, &((const struct sockaddr_in *) sa)->sin_addr, 4);
		out->family = 4;
		return true;
	}
	if (sa->sa_family == AF_INET6)
	{
		memcpy(out->bytes, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
		out->family = 6;
		unmap_v4(out);
		return true;
	}
	return false;
}
