/*-------------------------------------------------------------------------
 *
 * url.c
 *	  Splitting page and referrer URLs into host, path and utm_* values.
 *
 * Only what the reports need, not a general URL parser: the page URL comes
 * from location.href, already normalized by the browser, so the rules are
 * strict where that costs a browser nothing (scheme, "//", a host, a
 * numeric port) and lenient elsewhere.  Results are spans into the input,
 * so nothing is allocated on the ingest path.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "beacon.h"
#include "url.h"

static bool
prefix_ci(const char *s, size_t len, const char *prefix)
{
	size_t		n = strlen(prefix);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != prefix[i])
			return false;
	}
	return true;
}

/* Host bytes that no browser sends and that would garble a report. */
static bool
bad_host_byte(unsigned char c)
{
	return c <= 0x20 || c == 0x7F;
}

static void
match_utm(const char *name, size_t nlen, EsSpan value, EsUrlParts *out)
{
	EsSpan	   *slot;

	if (nlen < 5 || memcmp(name, "utm_", 4) != 0)
		return;
	name += 4;
	nlen -= 4;
	if (nlen == 6 && memcmp(name, "source", 6) == 0)
		slot = &out->utm_source;
	else if (nlen == 6 && memcmp(name, "medium", 6) == 0)
		slot = &out->utm_medium;
	else if (nlen == 8 && memcmp(name, "campaign", 8) == 0)
		slot = &out->utm_campaign;
	else
		return;
	/* the first occurrence wins, as in most analytics tools */
	if (slot->ptr == NULL)
		*slot = value;
}

bool
es_url_split(const char *url, size_t len, EsUrlParts *out)
{
	const char *p;
	const char *end = url + len;
	const char *auth;
	const char *auth_end;
	const char *host;
	const char *host_end;
	const char *q;

	memset(out, 0, sizeof(*out));
	if (prefix_ci(url, len, "http://"))
		p = url + 7;
	else if (prefix_ci(url, len, "https://"))
		p = url + 8;
	else
		return false;

	/*
	 * Browsers read a backslash as '/', so "http://a.com\@b.com/" is a.com
	 * to them but would be b.com here: no such URL is taken at all.
	 */
	auth = p;
	while (p < end && *p != '/' && *p != '?' && *p != '#')
	{
		if (*p == '\\')
			return false;
		p++;
	}
	auth_end = p;

	/* userinfo ends at the last '@': a password may contain one */
	host = auth;
	for (const char *a = auth; a < auth_end; a++)
	{
		if (*a == '@')
			host = a + 1;
	}

	if (host < auth_end && *host == '[')
	{
		host_end = memchr(host, ']', auth_end - host);
		if (host_end == NULL)
			return false;
		host_end++;				/* brackets kept: "[::1]" reads as a host */
	}
	else
	{
		host_end = host;
		while (host_end < auth_end && *host_end != ':')
			host_end++;
	}
	if (host_end == host)
		return false;
	for (const char *h = host; h < host_end; h++)
	{
		if (bad_host_byte((unsigned char) *h))
			return false;
	}
	if (host_end < auth_end)
	{
		/* a port: ':' and digits only, as browsers send it */
		if (*host_end != ':' || auth_end - host_end > 6)
			return false;
		for (const char *d = host_end + 1; d < auth_end; d++)
		{
			if (*d < '0' || *d > '9')
				return false;
		}
	}

	out->host.ptr = host;
	out->host.len = host_end - host;

	q = p;
	while (q < end && *q != '?' && *q != '#')
		q++;
	if (q > p)
	{
		out->path.ptr = p;
		out->path.len = q - p;
	}
	else
	{
		out->path.ptr = "/";
		out->path.len = 1;
	}

	if (q < end && *q == '?')
	{
		const char *qend = memchr(q, '#', end - q);

		if (qend == NULL)
			qend = end;
		p = q + 1;
		while (p < qend)
		{
			const char *amp = memchr(p, '&', qend - p);
			const char *eq;
			EsSpan		value;

			if (amp == NULL)
				amp = qend;
			eq = memchr(p, '=', amp - p);
			if (eq != NULL)
			{
				value.ptr = eq + 1;
				value.len = amp - (eq + 1);
				match_utm(p, eq - p, value, out);
			}
			else
			{
				value.ptr = amp;
				value.len = 0;
				match_utm(p, amp - p, value, out);
			}
			p = amp + 1;
		}
	}
	return true;
}

long
es_url_decode(EsSpan span, char *out, size_t outsize)
{
	const char *s = span.ptr;
	size_t		n = 0;
	size_t		i = 0;
	bool		truncated = false;

	if (outsize == 0)
		return -1;
	while (i < span.len)
	{
		unsigned char c = (unsigned char) s[i];
		int			hi,
					lo;

		if (c == '%' && i + 2 < span.len &&
			(hi = es_hex_digit(s[i + 1])) >= 0 &&
			(lo = es_hex_digit(s[i + 2])) >= 0)
		{
			c = (unsigned char) (hi << 4 | lo);
			i += 3;
		}
		else
		{
			if (c == '+')
				c = ' ';
			i++;
		}
		if (c == '\0')
			return -1;
		if (n + 1 >= outsize)
		{
			truncated = true;
			break;
		}
		out[n++] = (char) c;
	}

	/* a cut may split the last character: drop its head */
	if (truncated && n > 0)
	{
		size_t		start = n - 1;
		unsigned char lead;
		size_t		need;

		while (start > 0 && n - start < 4 &&
			   ((unsigned char) out[start] & 0xC0) == 0x80)
			start--;
		lead = (unsigned char) out[start];
		need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 :
			lead >= 0xC0 ? 2 : 1;
		if (start + need > n)
			n = start;
	}
	out[n] = '\0';
	if (!es_utf8_valid(out, n))
		return -1;
	return (long) n;
}

long
es_host_normalize(EsSpan host, char *out, size_t outsize)
{
	const char *s = host.ptr;
	size_t		len = host.len;

	if (s == NULL)
		return -1;
	if (len > 4 && prefix_ci(s, len, "www."))
	{
		s += 4;
		len -= 4;
	}
	if (len + 1 > outsize)
		return -1;
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		out[i] = (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
	}
	out[len] = '\0';
	return (long) len;
}
