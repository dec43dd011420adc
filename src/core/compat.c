/*-------------------------------------------------------------------------
 *
 * compat.c
 *	  Plausible's events API and Umami's collect API, translated into
 *	  edgestat beacons (docs/compat.md).
 *
 * Only the shape changes here; the beacon body produced is validated by
 * es_beacon_parse like any other, so a value this file lets through is
 * still refused there with a 400.  What the foreign trackers send more
 * freely than a beacon allows (long names, props of numbers, more than
 * sixteen props) is cut to fit rather than refused: their senders never
 * see the answer, so a refusal would only lose the event.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "beacon.h"
#include "compat.h"

#if defined(__GNUC__) || defined(__clang__)
#define ES_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ES_PRINTF(f, a)
#endif

static bool fail(char *err, size_t errlen, const char *fmt,...) ES_PRINTF(3, 4);

static bool
fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return false;
}

size_t
es_compat_clip(const char *s, size_t maxchars)
{
	size_t		n = 0;
	size_t		i = 0;

	for (; s[i]; i++)
	{
		if (((unsigned char) s[i] & 0xC0) != 0x80 && n++ == maxchars)
			break;
	}
	return i;
}

/* A copy of s cut to maxchars characters, as a cJSON string item. */
static cJSON *
clipped_string(const char *s, size_t maxchars)
{
	size_t		n = es_compat_clip(s, maxchars);
	char	   *copy;
	cJSON	   *item;

	if (s[n] == '\0')
		return cJSON_CreateString(s);
	copy = cJSON_malloc(n + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, s, n);
	copy[n] = '\0';
	item = cJSON_CreateString(copy);
	cJSON_free(copy);
	return item;
}

/* First present (not missing, not null) of two keys. */
static cJSON *
either(const cJSON *obj, const char *short_key, const char *long_key)
{
	cJSON	   *item = cJSON_GetObjectItemCaseSensitive(obj, short_key);

	if (item == NULL || cJSON_IsNull(item))
		item = long_key ? cJSON_GetObjectItemCaseSensitive(obj, long_key) : NULL;
	return cJSON_IsNull(item) ? NULL : item;
}

/* true, 1, "true", "1": Plausible's tracker has sent each. */
static bool
truthy(const cJSON *item)
{
	if (item == NULL)
		return false;
	if (cJSON_IsBool(item))
		return cJSON_IsTrue(item);
	if (cJSON_IsNumber(item))
		return item->valuedouble != 0;
	if (cJSON_IsString(item))
		return strcmp(item->valuestring, "true") == 0 ||
			strcmp(item->valuestring, "1") == 0;
	return false;
}

/*
 * An object given as such or as JSON text (Plausible's tracker sends props
 * either way, depending on version).  *owned is set when parsed here.
 */
static const cJSON *
object_or_text(const cJSON *item, cJSON **owned)
{
	*owned = NULL;
	if (item == NULL)
		return NULL;
	if (cJSON_IsObject(item))
		return item;
	if (cJSON_IsString(item))
	{
		cJSON	   *parsed = cJSON_Parse(item->valuestring);

		if (parsed != NULL && cJSON_IsObject(parsed))
		{
			*owned = parsed;
			return parsed;
		}
		cJSON_Delete(parsed);
	}
	return NULL;
}

/*
 * Props as a beacon's "p": an object of at most ES_MAX_PROPS strings.
 * Numbers and booleans become their JSON text, nested values their JSON,
 * nulls and empty keys are dropped; keys and values are cut to size.
 * Returns NULL when nothing is left.
 */
static cJSON *
beacon_props(const cJSON *src)
{
	cJSON	   *p;
	int			n = 0;

	if (src == NULL)
		return NULL;
	p = cJSON_CreateObject();
	for (const cJSON *c = src->child; c != NULL && n < ES_MAX_PROPS; c = c->next)
	{
		cJSON	   *value;
		char	   *key;
		size_t		klen;

		if (c->string == NULL || c->string[0] == '\0' || cJSON_IsNull(c))
			continue;
		if (cJSON_IsString(c))
			value = clipped_string(c->valuestring, ES_MAX_PROP_VALUE_CHARS);
		else
		{
			char	   *text = cJSON_PrintUnformatted(c);

			value = text ? clipped_string(text, ES_MAX_PROP_VALUE_CHARS) : NULL;
			cJSON_free(text);
		}
		if (value == NULL)
			continue;
		klen = es_compat_clip(c->string, ES_MAX_PROP_KEY_CHARS);
		key = cJSON_malloc(klen + 1);
		memcpy(key, c->string, klen);
		key[klen] = '\0';
		/* two long keys may share their first 64 characters: first wins */
		if (cJSON_GetObjectItemCaseSensitive(p, key) == NULL)
		{
			cJSON_AddItemToObject(p, key, value);
			n++;
		}
		else
			cJSON_Delete(value);
		cJSON_free(key);
	}
	if (n == 0)
	{
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* Plausible's revenue {"amount": number or string, "currency": code}. */
static bool
beacon_revenue(const cJSON *src, cJSON **out, char *err, size_t errlen)
{
	cJSON	   *owned;
	const cJSON *obj = object_or_text(src, &owned);
	const cJSON *amount;
	const cJSON *currency;

	*out = NULL;
	if (src == NULL)
		return true;
	if (obj == NULL)
		return fail(err, errlen, "revenue must be an object with amount and currency");
	amount = cJSON_GetObjectItemCaseSensitive(obj, "amount");
	currency = cJSON_GetObjectItemCaseSensitive(obj, "currency");
	if (!(cJSON_IsNumber(amount) || cJSON_IsString(amount)) ||
		!cJSON_IsString(currency))
	{
		cJSON_Delete(owned);
		return fail(err, errlen, "revenue must be an object with amount and currency");
	}
	*out = cJSON_CreateObject();
	cJSON_AddItemToObject(*out, "amount", cJSON_Duplicate(amount, false));
	cJSON_AddItemToObject(*out, "currency", cJSON_Duplicate(currency, false));
	cJSON_Delete(owned);
	return true;
}

/*
 * Plausible's hash mode: the fragment is part of the page, as its
 * "path#fragment".  A URL cannot carry a '#' in its path, so it is sent
 * percent-encoded: https://h/app#/settings becomes https://h/app%23/settings.
 */
static cJSON *
hash_mode_url(const char *url)
{
	const char *hash = strchr(url, '#');
	const char *query = strchr(url, '?');
	size_t		len = strlen(url);
	size_t		base;
	char	   *buf;
	char	   *p;
	cJSON	   *item;

	if (hash == NULL || hash[1] == '\0')
		return cJSON_CreateString(url);
	if (query != NULL && query > hash)
		query = NULL;
	base = (size_t) ((query ? query : hash) - url);
	buf = cJSON_malloc(len + 3);
	p = buf;
	memcpy(p, url, base);
	p += base;
	memcpy(p, "%23", 3);
	p += 3;
	memcpy(p, hash + 1, strlen(hash + 1));
	p += strlen(hash + 1);
	if (query)
	{
		memcpy(p, query, (size_t) (hash - query));
		p += hash - query;
	}
	*p = '\0';
	item = cJSON_CreateString(buf);
	cJSON_free(buf);
	return item;
}

static void
out_init(EsCompatOut *out)
{
	memset(out, 0, sizeof(*out));
	out->beacons = cJSON_CreateArray();
}

/* A beacon with n and u, added to out. */
static EsCompatItem *
add_beacon(EsCompatOut *out, const char *name, cJSON *url)
{
	EsCompatItem *item = &out->items[out->count++];

	item->beacon = cJSON_CreateObject();
	cJSON_AddItemToArray(out->beacons, item->beacon);
	cJSON_AddItemToObject(item->beacon, "n", clipped_string(name, ES_MAX_NAME_CHARS));
	cJSON_AddItemToObject(item->beacon, "u", url);
	item->interactive = true;
	return item;
}

static cJSON *
parse_object(const char *body, size_t len, char *err, size_t errlen)
{
	cJSON	   *root;

	if (len == 0)
	{
		fail(err, errlen, "body is empty");
		return NULL;
	}
	root = cJSON_ParseWithLength(body, len);
	if (root == NULL || !cJSON_IsObject(root))
	{
		cJSON_Delete(root);
		fail(err, errlen, "body must be a JSON object");
		return NULL;
	}
	return root;
}

/* A number 0..max as an integer, or -1 when absent or out of range. */
static int64_t
bounded(const cJSON *item, int64_t max)
{
	double		v;

	if (!cJSON_IsNumber(item))
		return -1;
	v = item->valuedouble;
	if (!(v >= 0.0))
		return -1;
	if (v > (double) max)
		return max;
	return (int64_t) v;
}

bool
es_compat_plausible(const char *body, size_t len, EsCompatOut *out,
					char *err, size_t errlen)
{
	cJSON	   *root = parse_object(body, len, err, errlen);
	const cJSON *name,
			   *url,
			   *domain,
			   *referrer,
			   *props;
	cJSON	   *owned_props = NULL;
	cJSON	   *revenue = NULL;
	cJSON	   *p = NULL;
	EsCompatKind kind;
	bool		interactive;
	int64_t		sd,
				engaged;
	const char *d;

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		return false;

	name = either(root, "n", "name");
	url = either(root, "u", "url");
	domain = either(root, "d", "domain");
	if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
	{
		cJSON_Delete(root);
		return fail(err, errlen, "name is required (\"n\" or \"name\")");
	}
	if (!cJSON_IsString(url) || url->valuestring[0] == '\0')
	{
		cJSON_Delete(root);
		return fail(err, errlen, "url is required (\"u\" or \"url\")");
	}
	if (!cJSON_IsString(domain) || domain->valuestring[0] == '\0')
	{
		cJSON_Delete(root);
		return fail(err, errlen, "domain is required (\"d\" or \"domain\")");
	}
	referrer = either(root, "r", "referrer");
	if (referrer != NULL && !cJSON_IsString(referrer))
		referrer = NULL;

	/* "m"/"meta" is the name older trackers gave props */
	props = either(root, "p", "props");
	if (props == NULL)
		props = either(root, "m", "meta");
	if (props != NULL && !cJSON_IsObject(props) && !cJSON_IsString(props))
	{
		cJSON_Delete(root);
		return fail(err, errlen, "props must be an object or its JSON text");
	}
	props = object_or_text(props, &owned_props);
	if (!beacon_revenue(either(root, "$", "revenue"), &revenue, err, errlen))
	{
		cJSON_Delete(owned_props);
		cJSON_Delete(root);
		return false;
	}

	if (strcmp(name->valuestring, "pageview") == 0)
		kind = ES_COMPAT_PAGEVIEW;
	else if (strcmp(name->valuestring, "engagement") == 0)
		kind = ES_COMPAT_ENGAGEMENT;
	else
		kind = ES_COMPAT_CUSTOM;
	{
		const cJSON *i = either(root, "i", "interactive");

		/* absent means interactive; engagement is never an interaction */
		interactive = (i == NULL || truthy(i)) && kind == ES_COMPAT_CUSTOM;
	}
	sd = bounded(either(root, "sd", "scroll_depth"), 100);
	engaged = bounded(either(root, "e", "engagement_time"), ES_MAX_ENGAGED_MS);

	out_init(out);
	p = beacon_props(props);
	d = domain->valuestring;
	while (*d && out->count < ES_COMPAT_MAX_DOMAINS)
	{
		const char *end = strchr(d, ',');
		size_t		dlen = end ? (size_t) (end - d) : strlen(d);
		char		dom[ES_MAX_DOMAIN_CHARS + 1];
		EsCompatItem *item;

		while (dlen > 0 && (*d == ' ' || *d == '\t'))
			d++, dlen--;
		while (dlen > 0 && (d[dlen - 1] == ' ' || d[dlen - 1] == '\t'))
			dlen--;
		if (dlen > 0 && dlen <= ES_MAX_DOMAIN_CHARS)
		{
			memcpy(dom, d, dlen);
			dom[dlen] = '\0';
			/* engagement reports engaged time: a heartbeat in edgestat */
			item = add_beacon(out, kind == ES_COMPAT_ENGAGEMENT ? "heartbeat" :
							  name->valuestring,
							  truthy(either(root, "h", "hashMode")) ?
							  hash_mode_url(url->valuestring) :
							  cJSON_CreateString(url->valuestring));
			cJSON_AddStringToObject(item->beacon, "d", dom);
			item->domain = cJSON_GetObjectItemCaseSensitive(item->beacon, "d")->valuestring;
			item->kind = kind;
			item->interactive = interactive;
			item->engaged_ms = engaged > 0 ? engaged : 0;
			if (referrer != NULL && referrer->valuestring[0] != '\0')
				cJSON_AddStringToObject(item->beacon, "r", referrer->valuestring);
			if (sd >= 0 && kind == ES_COMPAT_ENGAGEMENT)
				cJSON_AddNumberToObject(item->beacon, "sd", (double) sd);
			if (p != NULL)
				cJSON_AddItemToObject(item->beacon, "p", cJSON_Duplicate(p, true));
			if (revenue != NULL && kind == ES_COMPAT_CUSTOM)
				cJSON_AddItemToObject(item->beacon, "rv", cJSON_Duplicate(revenue, true));
		}
		if (end == NULL)
			break;
		d = end + 1;
	}
	cJSON_Delete(p);
	cJSON_Delete(revenue);
	cJSON_Delete(owned_props);
	cJSON_Delete(root);
	if (out->count == 0)
	{
		es_compat_free(out);
		return fail(err, errlen, "domain must name at least one site");
	}
	return true;
}

static bool
is_absolute(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

bool
es_compat_umami(const char *body, size_t len, EsCompatOut *out,
				char *err, size_t errlen)
{
	cJSON	   *root = parse_object(body, len, err, errlen);
	const cJSON *type,
			   *payload,
			   *website,
			   *url,
			   *hostname,
			   *referrer,
			   *name,
			   *screen,
			   *data;
	cJSON	   *u;
	EsCompatItem *item;

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		return false;
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	payload = cJSON_GetObjectItemCaseSensitive(root, "payload");
	if (!cJSON_IsString(type) || !cJSON_IsObject(payload))
	{
		cJSON_Delete(root);
		return fail(err, errlen, "body must be {\"type\": \"event\", \"payload\": {...}}");
	}
	website = cJSON_GetObjectItemCaseSensitive(payload, "website");
	if (!cJSON_IsString(website) || !es_uuid_parse(website->valuestring, out->website))
	{
		cJSON_Delete(root);
		return fail(err, errlen, "payload.website must be the site's public_id (a UUID)");
	}
	if (strcmp(type->valuestring, "identify") == 0)
	{
		/* session data: edgestat keeps none beyond the events themselves */
		cJSON_Delete(root);
		out_init(out);
		out->nothing = true;
		es_uuid_parse(website->valuestring, out->website);
		return true;
	}
	if (strcmp(type->valuestring, "event") != 0)
	{
		cJSON_Delete(root);
		return fail(err, errlen, "type must be \"event\" or \"identify\"");
	}

	/*
	 * url is a path (the tracker's) or absolute; without a hostname, or
	 * without a url at all (@umami/node's track(name, data)), the page is
	 * on the site's own domain, set with the domain (es_compat_set_domain).
	 */
	url = cJSON_GetObjectItemCaseSensitive(payload, "url");
	hostname = cJSON_GetObjectItemCaseSensitive(payload, "hostname");
	if (url != NULL && !cJSON_IsNull(url) && !cJSON_IsString(url))
	{
		cJSON_Delete(root);
		return fail(err, errlen, "payload.url must be a string");
	}
	if (cJSON_IsString(hostname) &&
		(hostname->valuestring[0] == '\0' || strpbrk(hostname->valuestring, "/?#@ ") != NULL))
	{
		cJSON_Delete(root);
		return fail(err, errlen, "payload.hostname must be a host name");
	}
	if (cJSON_IsString(url) && is_absolute(url->valuestring))
		u = cJSON_CreateString(url->valuestring);
	else
	{
		const char *path = cJSON_IsString(url) ? url->valuestring : "/";
		const char *host = cJSON_IsString(hostname) ? hostname->valuestring : "";
		size_t		n = strlen(host) + strlen(path) + 10;
		char	   *buf = cJSON_malloc(n);

		/* no host yet: "https:///path", completed by es_compat_set_domain */
		snprintf(buf, n, "https://%s%s%s", host, path[0] == '/' ? "" : "/", path);
		u = cJSON_CreateString(buf);
		cJSON_free(buf);
	}

	name = cJSON_GetObjectItemCaseSensitive(payload, "name");
	if (name != NULL && !cJSON_IsNull(name) &&
		(!cJSON_IsString(name) || name->valuestring[0] == '\0'))
	{
		cJSON_Delete(u);
		cJSON_Delete(root);
		return fail(err, errlen, "payload.name must be a non-empty string");
	}
	out_init(out);
	if (cJSON_IsString(name))
	{
		item = add_beacon(out, name->valuestring, u);
		item->kind = ES_COMPAT_CUSTOM;
	}
	else
	{
		item = add_beacon(out, "pageview", u);
		item->kind = ES_COMPAT_PAGEVIEW;
		item->interactive = false;
	}
	es_uuid_parse(website->valuestring, out->website);

	referrer = cJSON_GetObjectItemCaseSensitive(payload, "referrer");
	if (cJSON_IsString(referrer) && is_absolute(referrer->valuestring))
		cJSON_AddStringToObject(item->beacon, "r", referrer->valuestring);
	screen = cJSON_GetObjectItemCaseSensitive(payload, "screen");
	if (cJSON_IsString(screen))
	{
		char	   *end;
		long		w = strtol(screen->valuestring, &end, 10);

		if (end != screen->valuestring && *end == 'x' && w > 0 && w <= ES_MAX_VIEWPORT)
			cJSON_AddNumberToObject(item->beacon, "w", (double) w);
	}
	data = cJSON_GetObjectItemCaseSensitive(payload, "data");
	if (cJSON_IsObject(data))
	{
		cJSON	   *p = beacon_props(data);

		if (p != NULL)
			cJSON_AddItemToObject(item->beacon, "p", p);
	}
	cJSON_Delete(root);
	return true;
}

bool
es_compat_edgestat(const char *body, size_t len, EsCompatOut *out)
{
	cJSON	   *root;
	cJSON	   *items[ES_COMPAT_MAX_EVENTS];
	int			n = 0;
	bool		any = false;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > 1024 * 1024)
		return false;
	root = cJSON_ParseWithLength(body, len);
	if (cJSON_IsObject(root))
		items[n++] = root;
	else if (cJSON_IsArray(root))
	{
		for (cJSON *c = root->child; c != NULL; c = c->next)
		{
			if (n == ES_COMPAT_MAX_EVENTS || !cJSON_IsObject(c))
			{
				cJSON_Delete(root);
				return false;
			}
			items[n++] = c;
		}
	}
	for (int i = 0; i < n; i++)
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(items[i], "d");

		if (!cJSON_IsString(d))
		{
			cJSON_Delete(root);
			return false;
		}
		if (cJSON_GetObjectItemCaseSensitive(items[i], "v") == NULL &&
			cJSON_GetObjectItemCaseSensitive(items[i], "s") == NULL)
			any = true;
	}
	if (!any)
	{
		cJSON_Delete(root);
		return false;
	}

	/* the events, each now owned by out->beacons */
	out->beacons = cJSON_CreateArray();
	for (int i = 0; i < n; i++)
	{
		EsCompatItem *item = &out->items[out->count++];
		const cJSON *name;

		item->beacon = items[i] == root ? root :
			cJSON_DetachItemViaPointer(root, items[i]);
		cJSON_AddItemToArray(out->beacons, item->beacon);
		item->domain = cJSON_GetObjectItemCaseSensitive(item->beacon, "d")->valuestring;
		item->needs_ids = cJSON_GetObjectItemCaseSensitive(item->beacon, "v") == NULL &&
			cJSON_GetObjectItemCaseSensitive(item->beacon, "s") == NULL;
		name = cJSON_GetObjectItemCaseSensitive(item->beacon, "n");
		item->kind = cJSON_IsString(name) && strcmp(name->valuestring, "pageview") == 0 ?
			ES_COMPAT_PAGEVIEW : ES_COMPAT_CUSTOM;
	}
	if (root != items[0])
		cJSON_Delete(root);		/* the emptied array */
	return true;
}

void
es_compat_set_domain(EsCompatOut *out, const char *domain)
{
	for (int i = 0; i < out->count; i++)
	{
		EsCompatItem *item = &out->items[i];
		cJSON	   *u = cJSON_GetObjectItemCaseSensitive(item->beacon, "u");

		cJSON_DeleteItemFromObjectCaseSensitive(item->beacon, "d");
		cJSON_AddStringToObject(item->beacon, "d", domain);
		item->domain = cJSON_GetObjectItemCaseSensitive(item->beacon, "d")->valuestring;
		if (cJSON_IsString(u) && strncmp(u->valuestring, "https:///", 9) == 0)
		{
			size_t		n = strlen(domain) + strlen(u->valuestring) + 1;
			char	   *buf = cJSON_malloc(n);

			snprintf(buf, n, "https://%s%s", domain, u->valuestring + 8);
			cJSON_ReplaceItemInObjectCaseSensitive(item->beacon, "u", cJSON_CreateString(buf));
			cJSON_free(buf);
		}
	}
}

void
es_compat_identify(EsCompatOut *out, int i, const uint8_t visitor[16],
				   const uint8_t session[16], int64_t seq,
				   int64_t engaged_ms, int64_t interactions)
{
	cJSON	   *b = out->items[i].beacon;
	char		text[37];

	es_uuid_format(visitor, text);
	cJSON_AddStringToObject(b, "v", text);
	es_uuid_format(session, text);
	cJSON_AddStringToObject(b, "s", text);
	if (seq >= 0)
		cJSON_AddNumberToObject(b, "q", (double) (seq > ES_MAX_SEQ ? ES_MAX_SEQ : seq));
	if (engaged_ms >= 0)
		cJSON_AddNumberToObject(b, "et", (double) (engaged_ms > ES_MAX_ENGAGED_MS ?
												   ES_MAX_ENGAGED_MS : engaged_ms));
	if (interactions >= 0)
		cJSON_AddNumberToObject(b, "ic", (double) (interactions > ES_MAX_INTERACTIONS ?
												   ES_MAX_INTERACTIONS : interactions));
}

char *
es_compat_print(const EsCompatOut *out)
{
	if (out->count == 1)
		return cJSON_PrintUnformatted(out->items[0].beacon);
	return cJSON_PrintUnformatted(out->beacons);
}

void
es_compat_free(EsCompatOut *out)
{
	cJSON_Delete(out->beacons);
	out->beacons = NULL;
	out->count = 0;
}
