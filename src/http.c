/*-------------------------------------------------------------------------
 *
 * http.c
 *	  The socket-free half of the HTTP worker: trusted-proxy CIDR lists and
 *	  the X-Forwarded-For rule of SPEC section 2, safe static paths, and the
 *	  histograms of /metrics, which live in shared memory so that every
 *	  worker's commits show up whichever worker answers the scrape.
 *
 * Nothing here talks to a socket or opens a transaction.  Functions that
 * allocate use palloc in the caller's context; the worker calls them under
 * PG_TRY, since they may run inside a libmicrohttpd callback.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "edgestat.h"
#include "http.h"

/* ---- addresses and CIDR lists ---- */

void
es_addr_unmap(EsAddr *addr)
{
	static const uint8 mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (addr->family == 6 && memcmp(addr->bytes, mapped, 12) == 0)
	{
		uint8		v4[4];

		memcpy(v4, addr->bytes + 12, 4);
		memset(addr->bytes, 0, sizeof(addr->bytes));
		memcpy(addr->bytes, v4, 4);
		addr->family = 4;
	}
}

/*
 * One address as a proxy writes it: "1.2.3.4", "1.2.3.4:5678", "::1",
 * "[::1]" or "[::1]:443", with blanks around.  inet_pton is strict, so
 * anything else (hostnames, "unknown", garbage) is refused.
 */
bool
es_http_parse_addr(const char *text, size_t len, EsAddr *out)
{
	char		tmp[INET6_ADDRSTRLEN + 8];
	const char *s = text;
	const char *e = text + len;
	struct in_addr a4;
	struct in6_addr a6;

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

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, tmp, &a4) == 1)
	{
		out->family = 4;
		memcpy(out->bytes, &a4, 4);
		return true;
	}
	if (inet_pton(AF_INET6, tmp, &a6) == 1)
	{
		out->family = 6;
		memcpy(out->bytes, &a6, 16);
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
		addr->bytes[i / 8] &= (uint8) ~(0x80 >> (i % 8));
}

bool
es_cidr_list_parse(const char *text, EsCidr **out, int *n, char **error)
{
	const char *p = text ? text : "";
	int			cap = 4;
	EsCidr	   *list = palloc(sizeof(EsCidr) * cap);

	*n = 0;
	*error = NULL;
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
		if (!es_http_parse_addr(start, slash ? (size_t) (slash - start) : len,
								&c.net))
		{
			*error = psprintf("invalid address \"%.*s\"", (int) len, start);
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
				*error = psprintf("invalid prefix in \"%.*s\"", (int) len, start);
				return false;
			}
			memcpy(digits, slash + 1, dlen);
			digits[dlen] = '\0';
			bits = strtol(digits, &end, 10);
			if (*end != '\0' || bits < 0)
			{
				*error = psprintf("invalid prefix in \"%.*s\"", (int) len, start);
				return false;
			}
			/* "::ffff:10.0.0.0/104" was unmapped: drop the 96 mapped bits */
			if (c.net.family == 4 && memchr(start, ':', slash - start) != NULL)
				bits -= 96;
			if (bits < 0 || bits > maxbits)
			{
				*error = psprintf("prefix out of range in \"%.*s\"", (int) len, start);
				return false;
			}
			c.bits = (int) bits;
		}
		clear_host_bits(&c.net, c.bits);
		if (*n == cap)
		{
			cap *= 2;
			list = repalloc(list, sizeof(EsCidr) * cap);
		}
		list[(*n)++] = c;
	}
	*out = list;
	return true;
}

bool
es_cidr_contains(const EsCidr *cidrs, int n, const EsAddr *addr)
{
	for (int i = 0; i < n; i++)
	{
		const EsCidr *c = &cidrs[i];
		int			full = c->bits / 8;
		int			rest = c->bits % 8;

		if (c->net.family != addr->family)
			continue;
		if (memcmp(c->net.bytes, addr->bytes, full) != 0)
			continue;
		if (rest != 0)
		{
			uint8		mask = (uint8) (0xff << (8 - rest));

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
es_http_client_addr(const EsAddr *peer, const char *xff,
					const EsCidr *cidrs, int n, EsAddr *client)
{
	const char *end;

	*client = *peer;
	if (xff == NULL || n == 0 || !es_cidr_contains(cidrs, n, peer))
		return;

	end = xff + strlen(xff);
	while (end > xff)
	{
		const char *start = end;
		EsAddr		a;

		while (start > xff && start[-1] != ',')
			start--;
		if (!es_http_parse_addr(start, end - start, &a))
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
			if (!es_cidr_contains(cidrs, n, &a))
				return;
		}
		end = start > xff ? start - 1 : xff;
	}
}

/* ---- static files ---- */

bool
es_static_path_ok(const char *rel)
{
	const char *p;

	if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strlen(rel) > 200)
		return false;
	for (p = rel; *p; p++)
	{
		char		c = *p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
			  c == '/'))
			return false;
	}
	/* no "..", no hidden files, no empty segments */
	if (strstr(rel, "..") != NULL || strstr(rel, "//") != NULL ||
		rel[0] == '.' || strstr(rel, "/.") != NULL)
		return false;
	return true;
}

const char *
es_content_type_for(const char *path)
{
	static const struct
	{
		const char *ext;
		const char *type;
	}			types[] =
	{
		{".html", "text/html; charset=utf-8"},
		{".htm", "text/html; charset=utf-8"},
		{".js", "application/javascript; charset=utf-8"},
		{".mjs", "application/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".json", "application/json"},
		{".map", "application/json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".txt", "text/plain; charset=utf-8"},
		{".woff2", "font/woff2"},
	};
	const char *dot = strrchr(path, '.');

	if (dot != NULL && strchr(dot, '/') == NULL)
	{
		for (int i = 0; i < lengthof(types); i++)
			if (pg_strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
	}
	return "application/octet-stream";
}

/* ---- shared histograms ---- */

/*
 * Buckets are stored non-cumulative and summed when formatted, so an
 * observation is two atomic adds and no lock.  Readers may see a bucket
 * and the count a moment apart; Prometheus tolerates that.
 */
static const double batch_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
static const double commit_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

#define N_BATCH_BOUNDS lengthof(batch_bounds)
#define N_COMMIT_BOUNDS lengthof(commit_bounds)

typedef struct EsHttpShared
{
	pg_atomic_uint64 batch_buckets[N_BATCH_BOUNDS + 1];
	pg_atomic_uint64 batch_sum;
	pg_atomic_uint64 commit_buckets[N_COMMIT_BOUNDS + 1];
	pg_atomic_uint64 commit_sum_us;
	pg_atomic_uint64 count;
} EsHttpShared;

static EsHttpShared *es_http_shared = NULL;

Size
es_http_shmem_size(void)
{
	return MAXALIGN(sizeof(EsHttpShared));
}

void
es_http_shmem_init(void)
{
	bool		found;

	es_http_shared = ShmemInitStruct("edgestat http metrics",
									 sizeof(EsHttpShared), &found);
	if (!found)
	{
		for (int i = 0; i <= N_BATCH_BOUNDS; i++)
			pg_atomic_init_u64(&es_http_shared->batch_buckets[i], 0);
		for (int i = 0; i <= N_COMMIT_BOUNDS; i++)
			pg_atomic_init_u64(&es_http_shared->commit_buckets[i], 0);
		pg_atomic_init_u64(&es_http_shared->batch_sum, 0);
		pg_atomic_init_u64(&es_http_shared->commit_sum_us, 0);
		pg_atomic_init_u64(&es_http_shared->count, 0);
	}
}

void
es_http_observe_batch(int events, int64 commit_us)
{
	int			i;
	double		secs = commit_us / 1000000.0;

	if (es_http_shared == NULL)
		return;
	for (i = 0; i < N_BATCH_BOUNDS && events > batch_bounds[i]; i++)
		;
	pg_atomic_fetch_add_u64(&es_http_shared->batch_buckets[i], 1);
	pg_atomic_fetch_add_u64(&es_http_shared->batch_sum, events);
	for (i = 0; i < N_COMMIT_BOUNDS && secs > commit_bounds[i]; i++)
		;
	pg_atomic_fetch_add_u64(&es_http_shared->commit_buckets[i], 1);
	pg_atomic_fetch_add_u64(&es_http_shared->commit_sum_us,
							commit_us > 0 ? commit_us : 0);
	pg_atomic_fetch_add_u64(&es_http_shared->count, 1);
}

static void
format_histogram(StringInfo buf, const char *name, const char *help,
				 const double *bounds, int nbounds, pg_atomic_uint64 *buckets,
				 double sum, uint64 count)
{
	uint64		cum = 0;

	appendStringInfo(buf, "# HELP %s %s\n# TYPE %s histogram\n",
					 name, help, name);
	for (int i = 0; i < nbounds; i++)
	{
		cum += pg_atomic_read_u64(&buckets[i]);
		appendStringInfo(buf, "%s_bucket{le=\"%g\"} " UINT64_FORMAT "\n",
						 name, bounds[i], cum);
	}
	cum += pg_atomic_read_u64(&buckets[nbounds]);
	/* +Inf must equal _count; take the larger so the series stays valid */
	if (count < cum)
		count = cum;
	appendStringInfo(buf, "%s_bucket{le=\"+Inf\"} " UINT64_FORMAT "\n",
					 name, count);
	appendStringInfo(buf, "%s_sum %.6f\n%s_count " UINT64_FORMAT "\n",
					 name, sum, name, count);
}

void
es_http_format_metrics(StringInfo buf)
{
	for (int i = 0; i < ES_NUM_COUNTERS; i++)
	{
		const char *name = es_counter_names[i];

		appendStringInfo(buf,
						 "# TYPE edgestat_%s_total counter\n"
						 "edgestat_%s_total " UINT64_FORMAT "\n",
						 name, name, es_counter_value((EsCounter) i));
	}
	if (es_http_shared != NULL)
	{
		uint64		count = pg_atomic_read_u64(&es_http_shared->count);

		format_histogram(buf, "edgestat_batch_size",
						 "Events per committed HTTP batch.",
						 batch_bounds, N_BATCH_BOUNDS,
						 es_http_shared->batch_buckets,
						 (double) pg_atomic_read_u64(&es_http_shared->batch_sum),
						 count);
		format_histogram(buf, "edgestat_commit_seconds",
						 "Time to write and commit one HTTP batch.",
						 commit_bounds, N_COMMIT_BOUNDS,
						 es_http_shared->commit_buckets,
						 pg_atomic_read_u64(&es_http_shared->commit_sum_us) / 1000000.0,
						 count);
	}
}

void
es_http_format_health(StringInfo buf, int worker)
{
	long		secs;
	int			usecs;

	TimestampDifference(PgStartTime, GetCurrentTimestamp(), &secs, &usecs);
	appendStringInfo(buf, "{\"status\":\"ok\",\"uptime_s\":%ld,\"worker\":%d",
					 secs, worker);
	for (int i = 0; i < ES_NUM_COUNTERS; i++)
		appendStringInfo(buf, ",\"%s\":" UINT64_FORMAT,
						 es_counter_names[i], es_counter_value((EsCounter) i));
	appendStringInfoString(buf, "}\n");
}
