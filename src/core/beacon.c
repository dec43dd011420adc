/*-------------------------------------------------------------------------
 *
 * beacon.c
 *	  Parsing and validation of beacon bodies (docs/http.md), and the
 *	  UTF-8 and UUID helpers that go with them.
 *
 * A body is rejected as a whole on the first problem: the message names
 * the event and the key so that a site owner can fix the tracker call.
 * Nothing here allocates except cJSON, whose tree is the only thing to
 * free; inside the backend its hooks point at palloc.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "beacon.h"
#include "url.h"

#if defined(__GNUC__) || defined(__clang__)
#define ES_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ES_PRINTF(f, a)
#endif

/*
 * Length of the well-formed UTF-8 sequence at s, or 0.  Overlong forms,
 * UTF-16 surrogates and code points above U+10FFFF are ill-formed
 * (Unicode table 3-7); PostgreSQL would refuse them as text.
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	size_t		n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	return n;
}

/* Offset of the first ill-formed byte, or len when all of s is UTF-8. */
static size_t
utf8_invalid_at(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		size_t		n;

		if (p[i] < 0x80)
		{
			i++;
			continue;
		}
		n = utf8_seq_len(p + i, len - i);
		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

bool
es_utf8_valid(const char *s, size_t len)
{
	return utf8_invalid_at(s, len) == len;
}

/* Code points in well-formed UTF-8: every byte that is not a continuation. */
size_t
es_utf8_chars(const char *s, size_t len)
{
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	}
	return n;
}

int
es_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
es_uuid_parse(const char *text, uint8_t out[16])
{
	int			b = 0;

	/* stops at a NUL too, which is neither a hex digit nor a hyphen */
	for (int i = 0; i < 36; i++)
	{
		int			hi,
					lo;

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (text[i] != '-')
				return false;
			continue;
		}
		hi = es_hex_digit(text[i]);
		if (hi < 0)
			return false;
		lo = es_hex_digit(text[++i]);
		if (lo < 0)
			return false;
		out[b++] = (uint8_t) (hi << 4 | lo);
	}
	return text[36] == '\0';
}

void
es_uuid_format(const uint8_t uuid[16], char out[37])
{
	static const char digits[] = "0123456789abcdef";
	char	   *p = out;

	for (int i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = digits[uuid[i] >> 4];
		*p++ = digits[uuid[i] & 0x0F];
	}
	*p = '\0';
}

static bool fail(EsBeaconError *err, int index, const char *fmt,...) ES_PRINTF(3, 4);

/* Fill *err; "event N: " prefixes problems of one event.  Returns false. */
static bool
fail(EsBeaconError *err, int index, const char *fmt,...)
{
	va_list		ap;
	int			off = 0;

	err->index = index;
	if (index >= 0)
		off = snprintf(err->message, sizeof(err->message), "event %d: ", index);
	va_start(ap, fmt);
	vsnprintf(err->message + off, sizeof(err->message) - off, fmt, ap);
	va_end(ap);
	return false;
}

static bool
hex4(const char *s, size_t avail, unsigned int *cp)
{
	unsigned int v = 0;

	if (avail < 4)
		return false;
	for (int i = 0; i < 4; i++)
	{
		int			h = es_hex_digit(s[i]);

		if (h < 0)
			return false;
		v = v << 4 | (unsigned int) h;
	}
	*cp = v;
	return true;
}

/*
 * What cJSON lets through and PostgreSQL or a strict JSON reader would
 * not: "\u0000" (cJSON silently truncates the string there, and text
 * cannot hold NUL anyway), unpaired surrogate escapes, raw control
 * characters inside strings, and control bytes between tokens, which
 * cJSON skips as whitespace.  Tracking the string state byte by byte
 * gets escaped backslashes right ("\\u0000" is not an escape); all other
 * syntax is left to cJSON.
 */
static bool
prescan(const char *body, size_t len, EsBeaconError *err)
{
	bool		in_string = false;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = (unsigned char) body[i];
		unsigned int cp;
		unsigned int low;

		if (!in_string || c == '"')
		{
			/* cJSON would skip any byte up to ' ' as whitespace */
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return fail(err, -1, "body is not valid JSON near byte %zu", i);
			if (c == '"')
				in_string = !in_string;
			i++;
			continue;
		}
		if (c < 0x20)
			return fail(err, -1,
						"body has a raw control character in a string at byte %zu", i);
		if (c != '\\')
		{
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;				/* unterminated: cJSON reports it */
		c = (unsigned char) body[i + 1];
		if (c != 'u')
		{
			if (c == 0 || memchr("\"\\/bfnrt", c, 8) == NULL)
				return fail(err, -1, "body has an invalid escape at byte %zu", i);
			i += 2;
			continue;
		}
		if (!hex4(body + i + 2, len - i - 2, &cp))
			return fail(err, -1, "body has an invalid \\u escape at byte %zu", i);
		if (cp == 0)
			return fail(err, -1,
						"body has a \\u0000 escape at byte %zu: text cannot contain NUL",
						i);
		if (cp >= 0xD800 && cp <= 0xDBFF)
		{
			if (i + 8 > len || body[i + 6] != '\\' || body[i + 7] != 'u' ||
				!hex4(body + i + 8, len - i - 8, &low) ||
				low < 0xDC00 || low > 0xDFFF)
				return fail(err, -1,
							"body has an unpaired UTF-16 surrogate escape at byte %zu",
							i);
			i += 12;
			continue;
		}
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return fail(err, -1,
						"body has an unpaired UTF-16 surrogate escape at byte %zu", i);
		i += 6;
	}
	return true;
}

/* Item for key, or NULL when it is missing or JSON null (both "absent"). */
static const cJSON *
get_key(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(item) ? NULL : item;
}

/* Byte length of at most the first maxbytes of s, cut at a character. */
static int
clip_utf8(const char *s, size_t maxbytes)
{
	size_t		n = strlen(s);

	if (n <= maxbytes)
		return (int) n;
	n = maxbytes;
	while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
		n--;
	return (int) n;
}

/*
 * Fetch key as a string of minchars..maxchars code points into *out (NULL
 * when absent and not required).
 */
static bool
get_string(const cJSON *obj, const char *key, bool required,
		   size_t minchars, size_t maxchars, const char **out,
		   int index, EsBeaconError *err)
{
	const cJSON *item = get_key(obj, key);
	size_t		bytes;

	*out = NULL;
	if (item == NULL)
		return required ? fail(err, index, "\"%s\" is required", key) : true;
	if (!cJSON_IsString(item))
		return fail(err, index, "\"%s\" must be a string", key);
	bytes = strlen(item->valuestring);
	if (bytes < minchars)
		return fail(err, index, "\"%s\" must not be empty", key);
	/* a character is at least one byte, so short strings need no count */
	if (bytes > maxchars && es_utf8_chars(item->valuestring, bytes) > maxchars)
		return fail(err, index, "\"%s\" must be at most %zu characters",
					key, maxchars);
	*out = item->valuestring;
	return true;
}

/*
 * An optional integer 0..max.  cJSON keeps every number as a double, which
 * holds all the bounds exactly; 1e3 and 1.0 are integers, 1.5 and 1e400
 * are not.
 */
static bool
get_integer(const cJSON *obj, const char *key, int64_t max,
			bool *has, int64_t *out, int index, EsBeaconError *err)
{
	const cJSON *item = get_key(obj, key);
	double		v;

	*has = false;
	*out = 0;
	if (item == NULL)
		return true;
	v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;
	/* written so that NaN fails too */
	if (!(v >= 0.0 && v <= (double) max) || (double) (int64_t) v != v)
		return fail(err, index, "\"%s\" must be an integer between 0 and %" PRId64,
					key, max);
	*has = true;
	*out = (int64_t) v;
	return true;
}

static bool
get_uuid(const cJSON *obj, const char *key, uint8_t out[16],
		 int index, EsBeaconError *err)
{
	const cJSON *item = get_key(obj, key);

	if (item == NULL)
		return fail(err, index, "\"%s\" is required", key);
	if (!cJSON_IsString(item) || !es_uuid_parse(item->valuestring, out))
		return fail(err, index,
					"\"%s\" must be a UUID like 01234567-89ab-cdef-0123-456789abcdef",
					key);
	return true;
}

/* C0, DEL and C1 controls: a name shows up in reports and NOTIFY payloads. */
static bool
has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7F || (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F))
			return true;
	}
	return false;
}

static EsEventKind
classify_name(const char *name)
{
	static const char *const names[] = {
		[ES_EVENT_PAGEVIEW] = "pageview",
		[ES_EVENT_HEARTBEAT] = "heartbeat",
		[ES_EVENT_SCROLL] = "scroll",
		[ES_EVENT_INTERACTION] = "interaction",
		[ES_EVENT_LEAVE] = "leave",
	};

	for (int k = 0; k < ES_EVENT_CUSTOM; k++)
	{
		if (strcmp(name, names[k]) == 0)
			return (EsEventKind) k;
	}
	return ES_EVENT_CUSTOM;
}

static bool
check_props(const cJSON *obj, const cJSON **out, int index, EsBeaconError *err)
{
	const cJSON *p = get_key(obj, "p");
	int			n = 0;

	*out = NULL;
	if (p == NULL)
		return true;
	if (!cJSON_IsObject(p))
		return fail(err, index, "\"p\" must be an object");
	for (const cJSON *c = p->child; c != NULL; c = c->next)
	{
		size_t		klen = strlen(c->string);
		size_t		vlen;

		if (++n > ES_MAX_PROPS)
			return fail(err, index, "\"p\" must have at most %d keys",
						ES_MAX_PROPS);
		if (klen == 0 ||
			(klen > ES_MAX_PROP_KEY_CHARS &&
			 es_utf8_chars(c->string, klen) > ES_MAX_PROP_KEY_CHARS))
			return fail(err, index, "\"p\" keys must be 1 to %d characters",
						ES_MAX_PROP_KEY_CHARS);
		if (!cJSON_IsString(c))
			return fail(err, index, "\"p\" value of \"%.*s\" must be a string",
						clip_utf8(c->string, 40), c->string);
		vlen = strlen(c->valuestring);
		if (vlen > ES_MAX_PROP_VALUE_CHARS &&
			es_utf8_chars(c->valuestring, vlen) > ES_MAX_PROP_VALUE_CHARS)
			return fail(err, index,
						"\"p\" value of \"%.*s\" must be at most %d characters",
						clip_utf8(c->string, 40), c->string,
						ES_MAX_PROP_VALUE_CHARS);
	}
	*out = p;
	return true;
}

/*
 * "rv": {"amount": 19.9 or "19.90", "currency": "EUR"}.  The amount comes
 * out as a plain decimal without leading zeros, trailing fraction zeros or
 * exponent, so that the database's numeric gets exactly what was meant
 * ("19.90" and 19.9 both give "19.9").  Other keys of rv are ignored.
 */
static bool
check_revenue(const cJSON *obj, EsBeacon *b, int index, EsBeaconError *err)
{
	const cJSON *rv = get_key(obj, "rv");
	const cJSON *amount;
	const cJSON *currency;
	char		digits[ES_REVENUE_BUF];
	char	   *out = b->revenue;
	const char *p;
	const char *dot = NULL;
	size_t		nint = 0,
				nfrac = 0;

	b->has_revenue = false;
	if (rv == NULL)
		return true;
	if (!cJSON_IsObject(rv))
		return fail(err, index,
					"\"rv\" must be an object like {\"amount\": 9.99, \"currency\": \"EUR\"}");

	currency = get_key(rv, "currency");
	if (currency == NULL)
		return fail(err, index, "\"rv.currency\" is required");
	if (!cJSON_IsString(currency) || strlen(currency->valuestring) != 3 ||
		strspn(currency->valuestring, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
		return fail(err, index,
					"\"rv.currency\" must be an ISO 4217 code of three upper-case letters, like \"EUR\"");

	amount = get_key(rv, "amount");
	if (amount == NULL)
		return fail(err, index, "\"rv.amount\" is required");
	if (cJSON_IsNumber(amount))
	{
		double		v = amount->valuedouble;
		long long	micros;

		/* written so that NaN fails too */
		if (!(v >= 0.0 && v < ES_MAX_REVENUE_NUMBER))
			return fail(err, index,
						"\"rv.amount\" must be a number from 0 to 999999999.999999 (larger amounts as a decimal string)");
		micros = llround(v * 1e6);
		snprintf(digits, sizeof(digits), "%lld.%06lld",
				 micros / 1000000, micros % 1000000);
	}
	else if (cJSON_IsString(amount))
	{
		for (p = amount->valuestring; *p; p++)
		{
			if (*p >= '0' && *p <= '9')
			{
				if (dot)
					nfrac++;
				else
					nint++;
			}
			else if (*p == '.' && dot == NULL)
				dot = p;
			else
				break;
		}
		if (*p != '\0' || nint < 1 || nint > ES_MAX_REVENUE_INT_DIGITS ||
			(dot && (nfrac < 1 || nfrac > ES_MAX_REVENUE_FRAC_DIGITS)))
			return fail(err, index,
						"\"rv.amount\" must be a non-negative decimal like \"19.90\", with at most %d digits before the point and %d after",
						ES_MAX_REVENUE_INT_DIGITS, ES_MAX_REVENUE_FRAC_DIGITS);
		memcpy(digits, amount->valuestring, nint + (dot ? 1 + nfrac : 0) + 1);
	}
	else
		return fail(err, index,
					"\"rv.amount\" must be a number or a decimal string");

	/* normalise: no leading zeros (one digit stays), no trailing fraction zeros */
	p = digits;
	while (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		p++;
	strcpy(out, p);
	if (strchr(out, '.') != NULL)
	{
		size_t		n = strlen(out);

		while (out[n - 1] == '0')
			out[--n] = '\0';
		if (out[n - 1] == '.')
			out[--n] = '\0';
	}
	memcpy(b->currency, currency->valuestring, 4);
	b->has_revenue = true;
	return true;
}

static bool
parse_event(const cJSON *obj, EsBeacon *b, int index, EsBeaconError *err)
{
	int64_t		v;

	memset(b, 0, sizeof(*b));
	if (!cJSON_IsObject(obj))
		return fail(err, index, "must be a JSON object");

	if (!get_string(obj, "d", true, 1, ES_MAX_DOMAIN_CHARS, &b->domain, index, err) ||
		!get_string(obj, "n", true, 1, ES_MAX_NAME_CHARS, &b->name, index, err))
		return false;
	if (has_control(b->name))
		return fail(err, index, "\"n\" must not contain control characters");
	b->kind = classify_name(b->name);

	if (!get_string(obj, "u", true, 0, ES_MAX_URL_CHARS, &b->url, index, err))
		return false;
	{
		EsUrlParts parts;

		if (!es_url_split(b->url, strlen(b->url), &parts))
			return fail(err, index,
						"\"u\" must be an absolute http:// or https:// URL");
	}

	if (!get_uuid(obj, "v", b->visitor, index, err) ||
		!get_uuid(obj, "s", b->session, index, err))
		return false;

	if (!get_string(obj, "r", false, 0, ES_MAX_URL_CHARS, &b->referrer, index, err))
		return false;
	if (b->referrer != NULL && b->referrer[0] == '\0')
		b->referrer = NULL;

	if (!get_integer(obj, "q", ES_MAX_SEQ, &b->has_seq, &b->seq, index, err) ||
		!get_integer(obj, "et", ES_MAX_ENGAGED_MS, &b->has_engaged,
					 &b->engaged_ms, index, err) ||
		!get_integer(obj, "ic", ES_MAX_INTERACTIONS, &b->has_interactions,
					 &b->interactions, index, err))
		return false;
	if (!get_integer(obj, "sd", 100, &b->has_scroll, &v, index, err))
		return false;
	b->scroll = (int32_t) v;
	if (!get_integer(obj, "w", ES_MAX_VIEWPORT, &b->has_width, &v, index, err))
		return false;
	b->width = (int32_t) v;

	if (!check_revenue(obj, b, index, err))
		return false;
	return check_props(obj, &b->props, index, err);
}

static bool
is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool
es_beacon_parse(const char *body, size_t len, EsBeaconList *list,
				EsBeaconError *err)
{
	const char *end = NULL;
	size_t		bad;
	cJSON	   *root;
	int			n = 0;

	list->root = NULL;
	list->count = 0;
	err->index = -1;
	err->message[0] = '\0';

	if (len == 0)
		return fail(err, -1, "body is empty");
	bad = utf8_invalid_at(body, len);
	if (bad < len)
		return fail(err, -1, "body is not valid UTF-8 at byte %zu", bad);
	if (!prescan(body, len, err))
		return false;

	root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (root == NULL)
		return fail(err, -1, "body is not valid JSON near byte %zu",
					end ? (size_t) (end - body) : (size_t) 0);
	while (end < body + len && is_json_space(*end))
		end++;
	if (end < body + len)
	{
		cJSON_Delete(root);
		return fail(err, -1, "body has trailing data after the JSON value at byte %zu",
					(size_t) (end - body));
	}
	list->root = root;

	if (cJSON_IsObject(root))
	{
		if (!parse_event(root, &list->items[0], 0, err))
			goto error;
		n = 1;
	}
	else if (cJSON_IsArray(root))
	{
		const cJSON *c;

		/* the count first: a 51st event is the problem, not its content */
		for (c = root->child; c != NULL && n <= ES_MAX_EVENTS_PER_BODY; c = c->next)
			n++;
		if (n == 0 || n > ES_MAX_EVENTS_PER_BODY)
		{
			if (n == 0)
				fail(err, -1, "body is an empty array: send 1 to %d events",
					 ES_MAX_EVENTS_PER_BODY);
			else
				fail(err, -1, "body has more than %d events",
					 ES_MAX_EVENTS_PER_BODY);
			goto error;
		}
		n = 0;
		for (c = root->child; c != NULL; c = c->next, n++)
		{
			if (!parse_event(c, &list->items[n], n, err))
				goto error;
		}
	}
	else
	{
		fail(err, -1, "body must be a JSON object or an array of objects");
		goto error;
	}
	list->count = n;
	return true;

error:
	es_beacon_list_free(list);
	return false;
}

void
es_beacon_list_free(EsBeaconList *list)
{
	cJSON_Delete(list->root);
	list->root = NULL;
	list->count = 0;
}
