/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *	  The first half of the pipeline for one body: validate, drop bots, rate
 *	  limit, drop duplicates, enrich; accepted events are copied into the
 *	  batch that writer.c stores.
 *
 * Shared by edgestat.ingest and the HTTP workers, so both answer the same
 * input the same way.  Nothing here throws for bad input: a refused body
 * is a verdict in EsOutcome and leaves no trace but counters.  A body is
 * taken or refused whole; only duplicates and bots are dropped singly.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "batch.h"
#include "beacon.h"
#include "dedup.h"
#include "ratelimit.h"
#include "sites.h"
#include "stats.h"
#include "url.h"
#include "useragent.h"

/*
 * The User-Agent classifier scans a lowered copy of the string against a
 * few dozen rules; a process sees the same few User-Agents over and over,
 * so the verdicts are kept in a small direct-mapped cache, computed
 * without the viewport, which is applied afterwards where the User-Agent
 * does not decide the device.
 */
#define UA_CACHE_SLOTS	128
#define UA_CACHE_KEY	384

typedef struct UaCacheEntry
{
	uint32		hash;
	uint16		len;			/* 0: empty */
	char		ua[UA_CACHE_KEY];
	EsUserAgent verdict;
} UaCacheEntry;

static UaCacheEntry ua_cache[UA_CACHE_SLOTS];

static void
classify_user_agent(const char *ua, int viewport_width, EsUserAgent *out)
{
	size_t		len = strlen(ua);
	uint32		hash = 0;
	UaCacheEntry *entry = NULL;

	if (len > 0 && len < UA_CACHE_KEY)
	{
		hash = hash_bytes((const unsigned char *) ua, (int) len);
		entry = &ua_cache[hash % UA_CACHE_SLOTS];
		if (entry->len == len && entry->hash == hash &&
			memcmp(entry->ua, ua, len) == 0)
		{
			*out = entry->verdict;
			goto viewport;
		}
	}
	es_classify_user_agent(ua, len, 0, out);
	if (entry)
	{
		entry->hash = hash;
		entry->len = (uint16) len;
		memcpy(entry->ua, ua, len);
		entry->verdict = *out;
	}
viewport:
	if (!out->device_from_ua)
		out->device = es_device_from_width(viewport_width);
}

EsBatch *
es_batch_create(MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "edgestat batch",
											  ALLOCSET_DEFAULT_SIZES);
	EsBatch    *batch = MemoryContextAllocZero(parent, sizeof(EsBatch));

	batch->cxt = cxt;
	batch->scratch = AllocSetContextCreate(parent, "edgestat body",
										   ALLOCSET_DEFAULT_SIZES);
	return batch;
}

int
es_batch_events(const EsBatch *batch)
{
	return batch->nrows;
}

void
es_batch_reset(EsBatch *batch)
{
	MemoryContextReset(batch->cxt);
	batch->rows = NULL;
	batch->nrows = batch->maxrows = 0;
}

static void
refuse(EsOutcome *out, EsReject reject, int status, const char *fmt,...)
	pg_attribute_printf(4, 5);

static void
refuse(EsOutcome *out, EsReject reject, int status, const char *fmt,...)
{
	va_list		args;

	out->reject = reject;
	out->status = status;
	va_start(args, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, args);
	va_end(args);
}

/*
 * The dedup key: 128 bits of hash over (d, v, s, n, u, q), each part
 * length-prefixed so that no two different tuples hash the same input.
 */
static void
dedup_key(const EsBeacon *b, uint8 key[16])
{
	size_t		dl = strlen(b->domain);
	size_t		nl = strlen(b->name);
	size_t		ul = strlen(b->url);
	size_t		total = dl + nl + ul + 32 + 3 * sizeof(uint32) + 9;
	char		stackbuf[1024];
	char	   *buf = total <= sizeof(stackbuf) ? stackbuf : palloc(total);
	char	   *p = buf;
	uint64		h1,
				h2;
	uint32		l;

#define PUT(ptr, n) (memcpy(p, (ptr), (n)), p += (n))
	l = dl;
	PUT(&l, sizeof(l));
	PUT(b->domain, dl);
	PUT(b->visitor, 16);
	PUT(b->session, 16);
	l = nl;
	PUT(&l, sizeof(l));
	PUT(b->name, nl);
	l = ul;
	PUT(&l, sizeof(l));
	PUT(b->url, ul);
	*p++ = b->has_seq ? 1 : 0;
	PUT(&b->seq, sizeof(b->seq));
#undef PUT

	h1 = hash_bytes_extended((unsigned char *) buf, p - buf, UINT64CONST(0x6564676573746174));
	h2 = hash_bytes_extended((unsigned char *) buf, p - buf, UINT64CONST(0x9e3779b97f4a7c15));
	memcpy(key, &h1, 8);
	memcpy(key + 8, &h2, 8);
	if (buf != stackbuf)
		pfree(buf);
}

/*
 * A path becomes a key of the rollups (page, entry and exit page) and an
 * index row holds at most ~2.7 kB: a long path (a URL of 2,048 four-byte
 * characters is 8 kB) is cut at a character boundary, so that no beacon
 * can make the batch it shares with others fail.
 */
#define ES_MAX_PATH_BYTES 1024

static char *
path_dup(EsSpan span)
{
	int			len = span.len;

	if (span.ptr == NULL)
		return NULL;

	if (len > ES_MAX_PATH_BYTES)
		len = pg_mbcliplen(span.ptr, len, ES_MAX_PATH_BYTES);
	return pnstrdup(span.ptr, len);
}

static char *
param_dup(EsSpan span)
{
	char		buf[512];

	if (span.ptr == NULL || es_url_decode(span, buf, sizeof(buf)) <= 0)
		return NULL;
	return pstrdup(buf);
}

static void
batch_grow(EsBatch *batch)
{
	if (batch->nrows < batch->maxrows)
		return;
	batch->maxrows = batch->maxrows ? batch->maxrows * 2 : 64;
	if (batch->rows == NULL)
		batch->rows = MemoryContextAlloc(batch->cxt,
										 batch->maxrows * sizeof(EsEventRow));
	else
		batch->rows = repalloc(batch->rows, batch->maxrows * sizeof(EsEventRow));
}

/* Copy one accepted beacon into the batch, enriched. */
static void
batch_append(EsBatch *batch, const EsBeacon *b, const EsSite *site,
			 const char *domain, TimestampTz ts, const EsUserAgent *ua,
			 const EsGeo *geo)
{
	EsEventRow *row;
	EsUrlParts	page;
	EsUrlParts	ref;

	batch_grow(batch);
	row = &batch->rows[batch->nrows];
	memset(row, 0, sizeof(*row));
	row->ts = ts;
	row->site_id = site->id;
	row->domain = domain;
	row->kind = b->kind;
	memcpy(row->visitor.data, b->visitor, 16);
	memcpy(row->session.data, b->session, 16);
	row->name = pstrdup(b->name);

	/* The parser accepted u only as an absolute http(s) URL. */
	memset(&page, 0, sizeof(page));
	if (es_url_split(b->url, strlen(b->url), &page))
	{
		row->path = path_dup(page.path);
		row->utm_source = param_dup(page.utm_source);
		row->utm_medium = param_dup(page.utm_medium);
		row->utm_campaign = param_dup(page.utm_campaign);
	}
	else
		row->path = pstrdup("/");

	/*
	 * A referrer on the site itself (its domain, or the page's own host) is
	 * navigation, not a source.
	 */
	if (b->referrer && es_url_split(b->referrer, strlen(b->referrer), &ref))
	{
		char		host[256];
		char		page_host[256];
		const char *own = strncmp(site->domain, "www.", 4) == 0 ?
			site->domain + 4 : site->domain;

		if (es_host_normalize(ref.host, host, sizeof(host)) > 0 &&
			strcmp(host, own) != 0 &&
			!(page.host.ptr &&
			  es_host_normalize(page.host, page_host, sizeof(page_host)) > 0 &&
			  strcmp(host, page_host) == 0))
			row->referrer_host = pstrdup(host);
	}

	row->has_seq = b->has_seq;
	row->seq = (int32) b->seq;
	row->has_scroll = b->has_scroll;
	row->scroll = (int16) b->scroll;
	row->has_engaged = b->has_engaged;
	row->engaged_ms = b->engaged_ms;
	row->has_interactions = b->has_interactions;
	row->interactions = b->interactions;
	row->has_width = b->has_width;
	row->viewport = b->width;
	row->browser = ua->browser;
	row->os = ua->os;
	row->device = ua->device;
	row->geo = geo;
	if (b->props)
	{
		/* cJSON allocates with palloc, here in the batch's context */
		row->props = cJSON_PrintUnformatted((cJSON *) b->props);
	}
	batch->nrows++;
}

/* The sites of one body: almost always one. */
typedef struct BodySite
{
	const EsSite *site;
	char	   *domain;			/* copy in the batch: the cache may reload */
	int			events;
} BodySite;

void
es_batch_add(EsBatch *batch, const char *body, size_t len,
			 const EsRequest *req, EsOutcome *out)
{
	MemoryContext old;
	EsBeaconList *list;
	EsBeaconError err;
	EsUserAgent ua;
	BodySite	sites[ES_MAX_EVENTS_PER_BODY];
	int			nsites = 0;
	int			event_site[ES_MAX_EVENTS_PER_BODY];
	EsGeo	   *geo = NULL;
	TimestampTz now;

	memset(out, 0, sizeof(*out));
	out->status = 204;

	old = MemoryContextSwitchTo(batch->scratch);
	list = palloc(sizeof(EsBeaconList));

	/* 1. validate */
	if (!es_beacon_parse(body, len, list, &err))
	{
		es_count(ES_C_INVALID, 1);
		if (err.index < 0)
			refuse(out, ES_REJECT_MALFORMED, 400, "%s", err.message);
		else
			refuse(out, ES_REJECT_INVALID, 400, "%s", err.message);
		goto done;
	}
	out->events = list->count;
	es_count(ES_C_RECEIVED, list->count);

	/* bots: the whole body, by its User-Agent (none from SQL: no filter) */
	classify_user_agent(req->user_agent ? req->user_agent : "",
						list->items[0].has_width ? list->items[0].width : 0, &ua);
	if (req->user_agent == NULL)
		ua.bot = false;
	if (ua.bot)
	{
		es_count(ES_C_BOTS, list->count);
		goto free_list;
	}

	/* sites and origins */
	for (int i = 0; i < list->count; i++)
	{
		const char *d = list->items[i].domain;
		int			s;

		for (s = 0; s < nsites; s++)
			if (pg_strcasecmp(sites[s].site->domain, d) == 0)
				break;
		if (s == nsites)
		{
			const EsSite *site = es_site_lookup(d);

			if (site == NULL)
			{
				es_count(ES_C_UNKNOWN_SITE, list->count);
				refuse(out, ES_REJECT_UNKNOWN_SITE, 403,
					   "unknown site \"%s\": register it with edgestat.add_site()", d);
				goto free_list;
			}
			if (!es_site_origin_allowed(site, req->origin))
			{
				es_count(ES_C_FORBIDDEN_ORIGIN, list->count);
				refuse(out, ES_REJECT_ORIGIN, 403,
					   "origin \"%s\" may not send beacons for site \"%s\"",
					   req->origin, site->domain);
				goto free_list;
			}
			sites[s].site = site;
			sites[s].domain = MemoryContextStrdup(batch->cxt, site->domain);
			sites[s].events = 0;
			nsites++;
		}
		sites[s].events++;
		event_site[i] = s;
	}

	/* 2. rate limit, per (client, site) */
	for (int s = 0; s < nsites; s++)
	{
		int			retry_after;

		if (!es_ratelimit_take(&req->client, sites[s].site->id, sites[s].events,
							   &retry_after))
		{
			es_count(ES_C_RATE_LIMITED, list->count);
			out->retry_after = retry_after;
			refuse(out, ES_REJECT_RATE_LIMIT, 429,
				   "rate limit of %d events per minute for site \"%s\" reached; retry in %d s",
				   es_rate_limit, sites[s].site->domain, retry_after);
			goto free_list;
		}
	}

	/* 3. dedup, 4. enrich, into the batch */
	now = GetCurrentTimestamp();
	MemoryContextSwitchTo(batch->cxt);
	for (int i = 0; i < list->count; i++)
	{
		const EsBeacon *b = &list->items[i];
		uint8		key[16];

		dedup_key(b, key);
		if (es_dedup_seen(key))
		{
			es_count(ES_C_DUPLICATES, 1);
			continue;
		}
		if (geo == NULL)
		{
			geo = palloc(sizeof(EsGeo));
			es_geo_lookup(&req->client, geo);
		}
		if (!ua.device_from_ua)
			ua.device = es_device_from_width(b->has_width ? b->width : 0);
		batch_append(batch, b, sites[event_site[i]].site,
					 sites[event_site[i]].domain, now, &ua, geo);
		out->accepted++;
	}

free_list:
	es_beacon_list_free(list);
done:
	MemoryContextSwitchTo(old);
	MemoryContextReset(batch->scratch);
}
