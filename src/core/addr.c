/*-------------------------------------------------------------------------
 *
 * addr.c
 *	  Client addresses, trusted-proxy CIDR lists and the X-Forwarded-For
 *	  rule (see addr.h and docs/http.md).  Pure C.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

void
es_addr_unmap(EsAddr *addr)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (addr->family == 6 && memcmp(addr->bytes, mapped, 12) == 0)
	{
		uint8_t		v4[4];

		memcpy(v4, addr->bytes + 12, 4);
		memset(addr->bytes, 0, sizeof(addr->bytes));
		memcpy(addr->bytes, v4, 4);
		addr->family = 4;
	}
}

bool
es_addr_parse(const char *text, size_t len, EsAddr *out)
{
	char		tmp[INET6_ADDRSTRLEN + 8];
	const char *s = text;
	const char *e = text + len;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return false;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (s < e && *s == '[')
	{
		const char *close = memchr(s, ']', e - s);

		if (close == NULL)
			return false;
		/* only ":port" may follow the bracket */
		if (close + 1 < e && close[1] != ':')
			return false;
		s++;
		e = close;
	}
	else if (memchr(s, '.', e - s) != NULL)
	{
		/* IPv4, possibly with ":port" (one colon only) */
		const char *colon = memchr(s, ':', e - s);

		if (colon != NULL && memchr(colon + 1, ':', e - colon - 1) == NULL)
			e = colon;
	}
	if (e <= s || (size_t) (e - s) >= sizeof(tmp))
		return false;
	memcpy(tmp, s, e - s);
	tmp[e - s] = '\0';

	/* inet_pton is strict: hostnames, "unknown" and garbage are refused */
	if (inet_pton(AF_INET, tmp, out->bytes) == 1)
	{
		out->family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, out->bytes) == 1)
	{
		out->family = 6;
		es_addr_unmap(out);
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
		snprintf(out, outsize, "unknown");
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
		es_addr_unmap(out);
		return true;
	}
	return false;
}

static void
clear_host_bits(EsAddr *addr, int bits)
{
	int			total = addr->family == 4 ? 32 : 128;

	for (int i = bits; i < total; i++)
		addr->bytes[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
}

bool
es_cidr_list_parse(const char *text, EsCidrList *out, char *error,
				   size_t errorsize)
{
	const char *p = text ? text : "";

	out->n = 0;
	error[0] = '\0';
	while (*p)
	{
		const char *start;
		const char *slash;
		size_t		len;
		EsCidr		c;
		int			maxbits;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		len = p - start;
		slash = memchr(start, '/', len);
		if (!es_addr_parse(start, slash ? (size_t) (slash - start) : len,
						   &c.net))
		{
			snprintf(error, errorsize, "invalid address \"%.*s\"",
					 (int) len, start);
			return false;
		}
		/* a v4-mapped network counts as the IPv4 one; keep its prefix */
		maxbits = c.net.family == 4 ? 32 : 128;
		c.bits = maxbits;
		if (slash)
		{
			char		digits[8];
			size_t		dlen = len - (slash - start) - 1;
			char	   *end;
			long		bits;

			if (dlen == 0 || dlen >= sizeof(digits))
			{
				snprintf(error, errorsize, "invalid prefix in \"%.*s\"",
						 (int) len, start);
				return false;
			}
			memcpy(digits, slash + 1, dlen);
			digits[dlen] = '\0';
			bits = strtol(digits, &end, 10);
			/* "::ffff:10.0.0.0/104" was unmapped: drop the 96 mapped bits */
			if (*end == '\0' && c.net.family == 4 &&
				memchr(start, ':', slash - start) != NULL)
				bits -= 96;
			if (*end != '\0' || bits < 0 || bits > maxbits)
			{
				snprintf(error, errorsize, "invalid prefix in \"%.*s\"",
						 (int) len, start);
				return false;
			}
			c.bits = (int) bits;
		}
		if (out->n == ES_MAX_CIDRS)
		{
			snprintf(error, errorsize, "more than %d networks", ES_MAX_CIDRS);
			return false;
		}
		clear_host_bits(&c.net, c.bits);
		out->nets[out->n++] = c;
	}
	return true;
}

bool
es_cidr_contains(const EsCidrList *list, const EsAddr *addr)
{
	for (int i = 0; i < list->n; i++)
	{
		const EsCidr *c = &list->nets[i];
		int			full = c->bits / 8;
		int			rest = c->bits % 8;

		if (c->net.family != addr->family)
			continue;
		if (memcmp(c->net.bytes, addr->bytes, full) != 0)
			continue;
		if (rest != 0)
		{
			uint8_t		mask = (uint8_t) (0xff << (8 - rest));

			if ((c->net.bytes[full] & mask) != (addr->bytes[full] & mask))
				continue;
		}
		return true;
	}
	return false;
}

/*
 * Walk X-Forwarded-For from the right: each trusted hop appended the
 * address it got the request from, so the first untrusted address seen
 * from the right is the last one a trusted party vouches for.  An entry
 * that does not parse ends the walk: the hop right of it is the client,
 * as nginx's real_ip does, since nothing left of garbage can be believed.
 * If every entry is trusted the left-most one is the client.
 */
void
es_client_addr(const EsAddr *peer, const char *xff,
			   const EsCidrList *trusted, EsAddr *client)
{
	const char *end;

	*client = *peer;
	if (xff == NULL || trusted->n == 0 || !es_cidr_contains(trusted, peer))
		return;

	end = xff + strlen(xff);
	while (end > xff)
	{
		const char *start = end;
		EsAddr		a;

		while (start > xff && start[-1] != ',')
			start--;
		if (!es_addr_parse(start, end - start, &a))
		{
			/* blank entries ("a, , b") are skipped, garbage ends the walk */
			const char *q = start;

			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q != end)
				return;
		}
		else
		{
			*client = a;
			if (!es_cidr_contains(trusted, &a))
				return;
		}
		end = start > xff ? start - 1 : xff;
	}
}
