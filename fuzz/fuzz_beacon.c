/*
 * fuzz_beacon.c
 *	  libFuzzer harness: a body goes through the parser and every accepted
 *	  event through the URL, User-Agent and UUID code, as the pipeline
 *	  would take it.  AddressSanitizer and UBSan judge; the harness only
 *	  asserts the invariants the callers rely on.
 *
 * The system cJSON is not instrumented, so the body is copied to the end
 * of a page that is followed by an inaccessible one: a read past the
 * body's length faults even inside cJSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "beacon.h"
#include "url.h"
#include "useragent.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_decode(EsSpan span)
{
	char		out[64];
	long		n;

	if (span.ptr == NULL)
		return;
	n = es_url_decode(span, out, sizeof(out));
	if (n >= 0 && (strlen(out) != (size_t) n || !es_utf8_valid(out, n)))
		abort();
}

static void
check_url(const char *url)
{
	EsUrlParts parts;
	char		host[256];
	long		n;

	if (url == NULL || !es_url_split(url, strlen(url), &parts))
		return;
	if (parts.host.ptr == NULL || parts.host.len == 0 ||
		parts.path.ptr == NULL || parts.path.len == 0)
		abort();
	n = es_host_normalize(parts.host, host, sizeof(host));
	if (n >= 0 && strlen(host) != (size_t) n)
		abort();
	check_decode(parts.utm_source);
	check_decode(parts.utm_medium);
	check_decode(parts.utm_campaign);
}

static void
check_ua(const char *s, int width)
{
	EsUserAgent ua;

	es_classify_user_agent(s, strlen(s), width, &ua);
	if (ua.browser == NULL || ua.os == NULL || ua.device == NULL)
		abort();
}

#define GUARDED_MAX (64 * 1024)

/* data copied so that its last byte is the last readable one */
static const uint8_t *
guarded_copy(const uint8_t *data, size_t size)
{
	static uint8_t *region;
	static size_t page;
	uint8_t    *dst;

	if (region == NULL)
	{
		page = (size_t) sysconf(_SC_PAGESIZE);
		region = mmap(NULL, GUARDED_MAX + page, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (region == MAP_FAILED ||
			mprotect(region + GUARDED_MAX, page, PROT_NONE) != 0)
			abort();
	}
	if (size > GUARDED_MAX)
		return data;
	dst = region + GUARDED_MAX - size;
	memcpy(dst, data, size);
	return dst;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EsBeaconList list;
	EsBeaconError err;

	data = guarded_copy(data, size);

	/* the raw bytes as a User-Agent too: the classifier sees any header */
	{
		EsUserAgent ua;

		es_classify_user_agent((const char *) data, size, (int) (size % 1500), &ua);
	}

	if (!es_beacon_parse((const char *) data, size, &list, &err))
	{
		if (err.index < -1 || err.index >= ES_MAX_EVENTS_PER_BODY ||
			memchr(err.message, '\0', sizeof(err.message)) == NULL)
			abort();
		return 0;
	}
	if (list.count < 1 || list.count > ES_MAX_EVENTS_PER_BODY)
		abort();
	for (int i = 0; i < list.count; i++)
	{
		const EsBeacon *b = &list.items[i];
		char		uuid[37];
		uint8_t		back[16];
		EsUrlParts	parts;

		/* the parser promised an http(s) URL */
		if (!es_url_split(b->url, strlen(b->url), &parts))
			abort();
		check_url(b->url);
		check_url(b->referrer);
		check_ua(b->name, b->has_width ? b->width : 0);
		if (b->referrer)
			check_ua(b->referrer, 0);
		es_uuid_format(b->visitor, uuid);
		if (!es_uuid_parse(uuid, back) || memcmp(back, b->visitor, 16) != 0)
			abort();
		es_uuid_format(b->session, uuid);
		if (!es_utf8_valid(b->domain, strlen(b->domain)) ||
			!es_utf8_valid(b->name, strlen(b->name)))
			abort();
		if (b->props)
		{
			char	   *json = cJSON_PrintUnformatted((cJSON *) b->props);

			cJSON_free(json);
		}
	}
	es_beacon_list_free(&list);
	return 0;
}
