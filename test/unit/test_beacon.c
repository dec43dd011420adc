/*
 * test_beacon.c
 *	  Every validation rule of es_beacon_parse, accepted and refused, with
 *	  its message; the UTF-8 and UUID helpers.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "beacon.h"
#include "unit.h"

#define D	"\"d\":\"example.com\""
#define N	"\"n\":\"pageview\""
#define U	"\"u\":\"https://example.com/a?x=1\""
#define V	"\"v\":\"0f8fad5b-d9cb-469f-a165-70867728950e\""
#define S	"\"s\":\"7C9E6679-7425-40DE-944B-E07FC1F90AE7\""
#define BASE D "," N "," U "," V "," S
/* one valid event with extra keys appended: EV(",\"sd\":5") */
#define EV(extra) "{" BASE extra "}"

static char big[200000];

/* printf into a buffer big enough for every generated body */
static const char *
fmt(const char *f,...)
{
	va_list		ap;

	va_start(ap, f);
	vsnprintf(big, sizeof(big), f, ap);
	va_end(ap);
	return big;
}

/* n copies of s */
static char *
repeat(const char *s, int n)
{
	static char buf[8][20000];
	static int	next;
	char	   *out = buf[next++ % 8];

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		strcat(out, s);
	return out;
}

static bool
accepts_len(const char *body, size_t len, EsBeaconList *list, int line)
{
	EsBeaconError err;

	if (!es_beacon_parse(body, len, list, &err))
	{
		unit_check(false, __FILE__, line, "refused (%s): %.200s", err.message, body);
		return false;
	}
	unit_check(true, __FILE__, line, "accepted");
	return true;
}

#define ACCEPTS(body, list) accepts_len((body), strlen(body), (list), __LINE__)

/* Refused, at index, with a message containing want. */
static void
refuses_len(const char *body, size_t len, int index, const char *want, int line)
{
	EsBeaconList list;
	EsBeaconError err;

	if (es_beacon_parse(body, len, &list, &err))
	{
		unit_check(false, __FILE__, line, "accepted: %.200s", body);
		es_beacon_list_free(&list);
		return;
	}
	unit_check(err.index == index && strstr(err.message, want) != NULL,
			   __FILE__, line, "index %d message \"%s\", want %d \"%s\"",
			   err.index, err.message, index, want);
	unit_check(list.root == NULL && list.count == 0, __FILE__, line,
			   "list not empty after a refusal");
}

#define REFUSES(body, index, want) \
	refuses_len((body), strlen(body), (index), (want), __LINE__)

/* The value of one accepted single event, or a failed check. */
static bool
one(const char *body, EsBeaconList *list, int line)
{
	if (!accepts_len(body, strlen(body), list, line))
		return false;
	return unit_check(list->count == 1, __FILE__, line, "count %d", list->count);
}

#define ONE(body, list) one((body), (list), __LINE__)

static void
test_helpers(void)
{
	uint8_t		u[16];
	char		text[37];

	CHECK(es_utf8_valid("", 0));
	CHECK(es_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
	CHECK(es_utf8_valid("\xf4\x8f\xbf\xbf", 4));	/* U+10FFFF */
	CHECK(!es_utf8_valid("\xf4\x90\x80\x80", 4));	/* U+110000 */
	CHECK(!es_utf8_valid("\xc0\xaf", 2));	/* overlong '/' */
	CHECK(!es_utf8_valid("\xc1\xbf", 2));
	CHECK(!es_utf8_valid("\xe0\x80\xaf", 3));
	CHECK(!es_utf8_valid("\xf0\x80\x80\xaf", 4));
	CHECK(!es_utf8_valid("\xed\xa0\x80", 3));	/* U+D800 */
	CHECK(!es_utf8_valid("\xed\xbf\xbf", 3));	/* U+DFFF */
	CHECK(es_utf8_valid("\xed\x9f\xbf", 3));	/* U+D7FF */
	CHECK(!es_utf8_valid("\x80", 1));
	CHECK(!es_utf8_valid("\xe2\x82", 2));	/* truncated */
	CHECK(!es_utf8_valid("\xfe", 1));
	CHECK(!es_utf8_valid("\xf8\x88\x80\x80\x80", 5));
	CHECK_INT(es_utf8_chars("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 4);

	CHECK(es_uuid_parse("0F8FAD5B-d9cb-469f-A165-70867728950e", u));
	CHECK_INT(u[0], 0x0f);
	CHECK_INT(u[15], 0x0e);
	es_uuid_format(u, text);
	CHECK_STR(text, "0f8fad5b-d9cb-469f-a165-70867728950e");
	memset(u, 0xAB, 16);
	es_uuid_format(u, text);
	CHECK_STR(text, "abababab-abab-abab-abab-abababababab");
	CHECK(!es_uuid_parse("0f8fad5bd9cb469fa16570867728950e", u));
	CHECK(!es_uuid_parse("0f8fad5b-d9cb-469f-a165-70867728950", u));
	CHECK(!es_uuid_parse("0f8fad5b-d9cb-469f-a165-70867728950e0", u));
	CHECK(!es_uuid_parse("0f8fad5b-d9cb-469f-a165-70867728950g", u));
	CHECK(!es_uuid_parse("{0f8fad5b-d9cb-469f-a165-70867728950e}", u));
	CHECK(!es_uuid_parse("0f8fad5b-d9cb-469fa-165-70867728950e", u));
	CHECK(!es_uuid_parse("", u));
	CHECK(es_hex_digit('F') == 15 && es_hex_digit('0') == 0 && es_hex_digit('g') == -1);
}

static void
test_accept(void)
{
	EsBeaconList list;
	const EsBeacon *b = &list.items[0];
	char		text[37];

	if (ONE(EV(""), &list))
	{
		CHECK_STR(b->domain, "example.com");
		CHECK_STR(b->name, "pageview");
		CHECK_INT(b->kind, ES_EVENT_PAGEVIEW);
		CHECK_STR(b->url, "https://example.com/a?x=1");
		es_uuid_format(b->visitor, text);
		CHECK_STR(text, "0f8fad5b-d9cb-469f-a165-70867728950e");
		es_uuid_format(b->session, text);
		CHECK_STR(text, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
		CHECK(b->referrer == NULL && b->props == NULL);
		CHECK(!b->has_seq && !b->has_scroll && !b->has_engaged &&
			  !b->has_interactions && !b->has_width);
		es_beacon_list_free(&list);
		CHECK(list.root == NULL && list.count == 0);
	}

	if (ONE(EV(",\"r\":\"https://news.example/\",\"q\":7,\"sd\":100,"
			   "\"et\":31536000000,\"ic\":2147483647,\"w\":100000,"
			   "\"p\":{\"plan\":\"pro\",\"\\u00e9t\\u00e9\":\"oui\"},"
			   "\"zz\":[1,{\"a\":null}],\"extra\":true"), &list))
	{
		CHECK_STR(b->referrer, "https://news.example/");
		CHECK(b->has_seq && b->seq == 7);
		CHECK(b->has_scroll && b->scroll == 100);
		CHECK(b->has_engaged && b->engaged_ms == INT64_C(31536000000));
		CHECK(b->has_interactions && b->interactions == 2147483647);
		CHECK(b->has_width && b->width == 100000);
		CHECK(b->props != NULL && cJSON_GetArraySize(b->props) == 2);
		CHECK_STR(cJSON_GetObjectItemCaseSensitive(b->props, "\xc3\xa9t\xc3\xa9")->valuestring,
				  "oui");
		es_beacon_list_free(&list);
	}

	/* null is absent; "" for r is absent; zero values are present */
	if (ONE(EV(",\"r\":\"\",\"q\":null,\"sd\":0,\"et\":-0,\"ic\":0.0,"
			   "\"w\":null,\"p\":null"), &list))
	{
		CHECK(b->referrer == NULL && b->props == NULL);
		CHECK(!b->has_seq && !b->has_width);
		CHECK(b->has_scroll && b->scroll == 0);
		CHECK(b->has_engaged && b->engaged_ms == 0);
		CHECK(b->has_interactions && b->interactions == 0);
		es_beacon_list_free(&list);
	}
	if (ONE(EV(",\"r\":null,\"p\":{}"), &list))
	{
		CHECK(b->referrer == NULL && b->props != NULL);
		es_beacon_list_free(&list);
	}

	/* 1e3 and 1.0 are integers written differently */
	if (ONE(EV(",\"q\":1e3,\"sd\":1.0,\"w\":1E+2,\"et\":2.5e1"), &list))
	{
		CHECK(b->seq == 1000 && b->scroll == 1 && b->width == 100 &&
			  b->engaged_ms == 25);
		es_beacon_list_free(&list);
	}

	/* the kinds; names are case-sensitive, anything else is a goal */
	{
		static const struct
		{
			const char *name;
			EsEventKind kind;
		}			kinds[] = {
			{"pageview", ES_EVENT_PAGEVIEW},
			{"heartbeat", ES_EVENT_HEARTBEAT},
			{"scroll", ES_EVENT_SCROLL},
			{"interaction", ES_EVENT_INTERACTION},
			{"leave", ES_EVENT_LEAVE},
			{"signup", ES_EVENT_CUSTOM},
			{"Pageview", ES_EVENT_CUSTOM},
			{"pageview ", ES_EVENT_CUSTOM},
			{"leaves", ES_EVENT_CUSTOM},
		};

		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		{
			if (ONE(fmt("{" D ",\"n\":\"%s\"," U "," V "," S "}", kinds[i].name),
					&list))
			{
				CHECKF(b->kind == kinds[i].kind, "kind of %s", kinds[i].name);
				es_beacon_list_free(&list);
			}
		}
	}

	/* whitespace around the value, a BOM-less body, a non-terminated one */
	if (ACCEPTS(" \r\n\t" EV("") " \n", &list))
		es_beacon_list_free(&list);
	{
		const char *body = EV("") "garbage";

		if (accepts_len(body, strlen(body) - 7, &list, __LINE__))
			es_beacon_list_free(&list);
	}

	/* escaped backslashes: "\\u0000" is text, not a NUL */
	if (ONE("{\"d\":\"a\\\\u0000\"," N "," U "," V "," S "}", &list))
	{
		CHECK_STR(b->domain, "a\\u0000");
		es_beacon_list_free(&list);
	}
	/* a surrogate pair is one character */
	if (ONE("{\"d\":\"\\ud83d\\ude00\\t/\\\"\"," N "," U "," V "," S "}", &list))
	{
		CHECK_STR(b->domain, "\xf0\x9f\x98\x80\t/\"");
		es_beacon_list_free(&list);
	}
	/* duplicate keys: the first one counts */
	if (ONE(EV(",\"sd\":1,\"sd\":2"), &list))
	{
		CHECK_INT(b->scroll, 1);
		es_beacon_list_free(&list);
	}
	/* unknown keys may nest deep: cJSON allows up to 1000 levels */
	{
		char		body[4096];

		snprintf(body, sizeof(body), "{" BASE ",\"x\":%s1%s}",
				 repeat("[", 500), repeat("]", 500));
		if (ONE(body, &list))
			es_beacon_list_free(&list);
	}
}

static void
test_arrays(void)
{
	EsBeaconList list;
	char	   *body = malloc(100000);
	char	   *p;

	if (ACCEPTS("[" EV("") "]", &list))
	{
		CHECK_INT(list.count, 1);
		es_beacon_list_free(&list);
	}
	for (int n = 50; n <= 51; n++)
	{
		p = body;
		*p++ = '[';
		for (int i = 0; i < n; i++)
			p += sprintf(p, "%s{" BASE ",\"q\":%d}", i ? "," : "", i);
		strcpy(p, "]");
		if (n == 50)
		{
			if (ACCEPTS(body, &list))
			{
				CHECK_INT(list.count, 50);
				CHECK_INT(list.items[49].seq, 49);
				es_beacon_list_free(&list);
			}
		}
		else
			REFUSES(body, -1, "body has more than 50 events");
	}
	/* too many events is the problem even when one is also wrong */
	p = body;
	*p++ = '[';
	for (int i = 0; i < 51; i++)
		p += sprintf(p, "%s{" BASE ",\"sd\":%d}", i ? "," : "", i == 3 ? 500 : 1);
	strcpy(p, "]");
	REFUSES(body, -1, "more than 50 events");
	free(body);

	REFUSES("[]", -1, "body is an empty array");
	REFUSES(" [ ] ", -1, "body is an empty array");
	REFUSES("[" EV("") "," EV("") ",5]", 2, "event 2: must be a JSON object");
	REFUSES("[" EV("") ",[]]", 1, "event 1: must be a JSON object");
	REFUSES("[" EV("") "," EV("") "," EV(",\"sd\":101") "]", 2,
			"event 2: \"sd\" must be an integer between 0 and 100");
	REFUSES("[[" EV("") "]]", 0, "event 0: must be a JSON object");
	REFUSES("\"pageview\"", -1, "body must be a JSON object or an array of objects");
	REFUSES("42", -1, "body must be a JSON object or an array");
	REFUSES("null", -1, "body must be a JSON object or an array");
	REFUSES("true", -1, "body must be a JSON object or an array");
}

static void
test_body_errors(void)
{
	EsBeaconList list;
	char	   *deep = malloc(200001);

	refuses_len("", 0, -1, "body is empty", __LINE__);
	REFUSES("   ", -1, "body is not valid JSON");
	REFUSES("{\"d\":", -1, "body is not valid JSON near byte");
	REFUSES("{\"d\":\"x\",}", -1, "body is not valid JSON near byte 9");
	REFUSES("{'d':1}", -1, "body is not valid JSON near byte");
	REFUSES("{\"d\":\"x", -1, "body is not valid JSON");
	REFUSES("{\"d\":\"x\\", -1, "body is not valid JSON");
	REFUSES("[" EV("") "", -1, "body is not valid JSON");
	REFUSES(EV("") "x", -1,
			fmt("body has trailing data after the JSON value at byte %zu",
				strlen(EV(""))));
	REFUSES(EV("") EV(""), -1, "trailing data");
	REFUSES(EV("") ",", -1, "trailing data");
	refuses_len(EV("") "\0", sizeof(EV("")), -1,
				fmt("body is not valid JSON near byte %zu", strlen(EV(""))), __LINE__);
	REFUSES("{\"q\":1e400}", 0, "\"d\" is required");
	REFUSES(EV(",\"q\":1e400"), 0, "\"q\" must be an integer between 0 and 2147483647");
	REFUSES(EV(",\"q\":-1e400"), 0, "\"q\" must be an integer");

	/* UTF-8: the whole body, wherever the bad byte is */
	REFUSES("{\"d\":\"\xff\"}", -1, "body is not valid UTF-8 at byte 6");
	REFUSES(EV(",\"x\":\"\xc0\xaf\""), -1, "body is not valid UTF-8 at byte");
	REFUSES(EV(",\"x\":\"\xe0\x80\xaf\""), -1, "not valid UTF-8");
	REFUSES(EV(",\"x\":\"\xf0\x80\x80\xaf\""), -1, "not valid UTF-8");
	REFUSES(EV(",\"x\":\"\xed\xa0\x80\""), -1, "not valid UTF-8");
	REFUSES(EV(",\"x\":\"\xf4\x90\x80\x80\""), -1, "not valid UTF-8");
	REFUSES(EV(",\"\xfe\":1"), -1, "not valid UTF-8");
	REFUSES(EV("") " \xe2\x82", -1,
			fmt("body is not valid UTF-8 at byte %zu", strlen(EV("")) + 1));

	/* escapes: NUL, surrogates, invalid ones, raw control characters */
	REFUSES("{\"d\":\"a\\u0000\"}", -1, "body has a \\u0000 escape at byte 7");
	REFUSES(EV(",\"x\":[\"\\u0000\"]"), -1, "\\u0000 escape");
	REFUSES(EV(",\"\\u0000\":1"), -1, "\\u0000 escape");
	REFUSES(EV(",\"p\":{\"k\":\"\\u0000\"}"), -1, "\\u0000 escape");
	REFUSES("{\"d\":\"a\\\\\\u0000\"}", -1, "\\u0000 escape at byte 9");
	REFUSES("{\"d\":\"\\\\\\\\\\u0000\"}", -1, "\\u0000 escape");
	REFUSES(EV(",\"x\":\"\\ud800\""), -1, "body has an unpaired UTF-16 surrogate escape");
	REFUSES(EV(",\"x\":\"\\udc00\""), -1, "unpaired UTF-16 surrogate");
	REFUSES(EV(",\"x\":\"\\ud800\\u0041\""), -1, "unpaired UTF-16 surrogate");
	REFUSES(EV(",\"x\":\"\\ud800\\ud800\""), -1, "unpaired UTF-16 surrogate");
	REFUSES(EV(",\"x\":\"\\ud800"), -1, "unpaired UTF-16 surrogate");
	REFUSES(EV(",\"x\":\"\\uDFFF\\uD800\""), -1, "unpaired UTF-16 surrogate");
	REFUSES(EV(",\"x\":\"\\u12\""), -1, "body has an invalid \\u escape");
	REFUSES(EV(",\"x\":\"\\u12g4\""), -1, "invalid \\u escape");
	REFUSES(EV(",\"x\":\"\\x41\""), -1, "body has an invalid escape");
	REFUSES(EV(",\"x\":\"\\'\""), -1, "body has an invalid escape");
	REFUSES(EV(",\"x\":\"a\tb\""), -1, "body has a raw control character in a string");
	REFUSES(EV(",\"x\":\"a\nb\""), -1, "raw control character");
	refuses_len("{\"d\":\"a\0b\"}", 11, -1, "raw control character", __LINE__);
	refuses_len("{\0}", 3, -1, "body is not valid JSON near byte 1", __LINE__);
	REFUSES("{\x01}", -1, "body is not valid JSON near byte 1");
	REFUSES("\x7f{}", -1, "body is not valid JSON near byte 0");
	if (ACCEPTS("\t{" BASE "}\r\n", &list))
		es_beacon_list_free(&list);

	/* nesting beyond cJSON's limit is refused, not a stack overflow */
	memset(deep, '[', 200000);
	deep[200000] = '\0';
	REFUSES(deep, -1, "not valid JSON");
	snprintf(deep, 200001, "{" BASE ",\"x\":%s1%s}", repeat("[", 1200), repeat("]", 1200));
	REFUSES(deep, -1, "not valid JSON");
	free(deep);
}

static void
test_event_errors(void)
{
	EsBeaconList list;
	const EsBeacon *b = &list.items[0];
	char	   *s = malloc(20000);

	/* required keys: missing, null, wrong type */
	REFUSES("{" N "," U "," V "," S "}", 0, "event 0: \"d\" is required");
	REFUSES("{" D "," U "," V "," S "}", 0, "event 0: \"n\" is required");
	REFUSES("{" D "," N "," V "," S "}", 0, "event 0: \"u\" is required");
	REFUSES("{" D "," N "," U "," S "}", 0, "event 0: \"v\" is required");
	REFUSES("{" D "," N "," U "," V "}", 0, "event 0: \"s\" is required");
	REFUSES("{\"d\":null," N "," U "," V "," S "}", 0, "\"d\" is required");
	REFUSES("{\"d\":1," N "," U "," V "," S "}", 0, "event 0: \"d\" must be a string");
	REFUSES("{" D ",\"n\":[]," U "," V "," S "}", 0, "\"n\" must be a string");
	REFUSES("{" D "," N ",\"u\":{}," V "," S "}", 0, "\"u\" must be a string");
	REFUSES("{" D "," N "," U ",\"v\":7," S "}", 0, "\"v\" must be a UUID");
	REFUSES("{" D "," N "," U "," V ",\"s\":true}", 0, "\"s\" must be a UUID");
	REFUSES("{\"D\":\"example.com\"," N "," U "," V "," S "}", 0, "\"d\" is required");

	/* d: 1..253 characters */
	REFUSES("{\"d\":\"\"," N "," U "," V "," S "}", 0, "event 0: \"d\" must not be empty");
	if (ONE(fmt("{\"d\":\"%s\"," N "," U "," V "," S "}", repeat("a", 253)), &list))
		es_beacon_list_free(&list);
	REFUSES(fmt("{\"d\":\"%s\"," N "," U "," V "," S "}", repeat("a", 254)), 0,
			"event 0: \"d\" must be at most 253 characters");
	if (ONE(fmt("{\"d\":\"%s\"," N "," U "," V "," S "}", repeat("\xc3\xa9", 253)), &list))
		es_beacon_list_free(&list);
	REFUSES(fmt("{\"d\":\"%s\"," N "," U "," V "," S "}", repeat("\xc3\xa9", 254)), 0,
			"\"d\" must be at most 253 characters");

	/* n: 1..64 characters, counted in code points, no controls */
	REFUSES("{" D ",\"n\":\"\"," U "," V "," S "}", 0, "event 0: \"n\" must not be empty");
	if (ONE(fmt("{" D ",\"n\":\"%s\"," U "," V "," S "}", repeat("x", 64)), &list))
		es_beacon_list_free(&list);
	REFUSES(fmt("{" D ",\"n\":\"%s\"," U "," V "," S "}", repeat("x", 65)), 0,
			"event 0: \"n\" must be at most 64 characters");
	/* 64 euro signs are 192 bytes and fine; 65 are not */
	if (ONE(fmt("{" D ",\"n\":\"%s\"," U "," V "," S "}", repeat("\xe2\x82\xac", 64)), &list))
	{
		CHECK_INT(b->kind, ES_EVENT_CUSTOM);
		es_beacon_list_free(&list);
	}
	REFUSES(fmt("{" D ",\"n\":\"%s\"," U "," V "," S "}", repeat("\xe2\x82\xac", 65)), 0,
			"\"n\" must be at most 64 characters");
	if (ONE(fmt("{" D ",\"n\":\"%s\"," U "," V "," S "}", repeat("\xf0\x9f\x98\x80", 64)), &list))
		es_beacon_list_free(&list);
	REFUSES(fmt("{" D ",\"n\":\"%s\"," U "," V "," S "}", repeat("\\ud83d\\ude00", 65)), 0,
			"\"n\" must be at most 64 characters");
	REFUSES("{" D ",\"n\":\"a\\u0001b\"," U "," V "," S "}", 0,
			"event 0: \"n\" must not contain control characters");
	REFUSES("{" D ",\"n\":\"a\\nb\"," U "," V "," S "}", 0, "control characters");
	REFUSES("{" D ",\"n\":\"a\\u007fb\"," U "," V "," S "}", 0, "control characters");
	REFUSES("{" D ",\"n\":\"a\xc2\x85" "b\"," U "," V "," S "}", 0, "control characters");
	if (ONE("{" D ",\"n\":\"a\xc2\xa0" "b\"," U "," V "," S "}", &list))
		es_beacon_list_free(&list);

	/* u: absolute http(s), at most 2048 characters */
	{
		static const char *const good[] = {
			"http://example.com", "HTTPS://EXAMPLE.COM/x", "hTtP://a:8080/?q#f",
			"https://[::1]/", "https://user:pw@example.com/",
		};
		static const char *const bad[] = {
			"", "example.com/a", "/a", "//example.com/a", "ftp://example.com/",
			"javascript:alert(1)", "https://", "https:///a", "https:example.com",
			"file:///etc/passwd", " https://example.com/", "https://exa mple.com/",
			"data:text/html,hi", "https://example.com:port/",
		};

		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		{
			if (ONE(fmt("{" D "," N ",\"u\":\"%s\"," V "," S "}", good[i]), &list))
				es_beacon_list_free(&list);
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			REFUSES(fmt("{" D "," N ",\"u\":\"%s\"," V "," S "}", bad[i]), 0,
					"event 0: \"u\" must be an absolute http:// or https:// URL");
	}
	snprintf(s, 20000, "https://example.com/%s", repeat("a", 2048 - 20));
	if (ONE(fmt("{" D "," N ",\"u\":\"%s\"," V "," S "}", s), &list))
		es_beacon_list_free(&list);
	strcat(s, "a");
	REFUSES(fmt("{" D "," N ",\"u\":\"%s\"," V "," S "}", s), 0,
			"event 0: \"u\" must be at most 2048 characters");
	snprintf(s, 20000, "https://example.com/%s", repeat("\xc3\xa9", 2048 - 20));
	if (ONE(fmt("{" D "," N ",\"u\":\"%s\"," V "," S "}", s), &list))
		es_beacon_list_free(&list);

	/* v and s: 8-4-4-4-12 hex, any case */
	{
		static const char *const bad[] = {
			"", "0f8fad5bd9cb469fa16570867728950e", "0f8fad5b-d9cb-469f-a165-70867728950",
			"0f8fad5b-d9cb-469f-a165-70867728950ee", "0f8fad5b-d9cb-469f-a165-70867728950z",
			"{0f8fad5b-d9cb-469f-a165-70867728950e}", "0f8fad5b_d9cb_469f_a165_70867728950e",
			"0f8fad5b-d9cb-469f-a165-70867728950e ",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		{
			REFUSES(fmt("{" D "," N "," U ",\"v\":\"%s\"," S "}", bad[i]), 0,
					"event 0: \"v\" must be a UUID");
			REFUSES(fmt("{" D "," N "," U "," V ",\"s\":\"%s\"}", bad[i]), 0,
					"event 0: \"s\" must be a UUID");
		}
	}

	/* r: optional string of at most 2048 characters, anything else */
	if (ONE(EV(",\"r\":\"android-app://com.google.android.gm/\""), &list))
	{
		CHECK_STR(b->referrer, "android-app://com.google.android.gm/");
		es_beacon_list_free(&list);
	}
	REFUSES(EV(",\"r\":5"), 0, "event 0: \"r\" must be a string");
	if (ONE(fmt(EV(",\"r\":\"%s\""), repeat("r", 2048)), &list))
		es_beacon_list_free(&list);
	REFUSES(fmt(EV(",\"r\":\"%s\""), repeat("r", 2049)), 0,
			"event 0: \"r\" must be at most 2048 characters");

	/* integers: type, integrality, range */
	{
		static const struct
		{
			const char *key;
			const char *max;
			const char *over;
		}			ints[] = {
			{"q", "2147483647", "2147483648"},
			{"sd", "100", "101"},
			{"et", "31536000000", "31536000001"},
			{"ic", "2147483647", "2147483648"},
			{"w", "100000", "100001"},
		};
		static const char *const bad[] = {
			"-1", "1.5", "0.0001", "\"5\"", "true", "[]", "{}", "1e400",
		};

		for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		{
			char		want[128];

			snprintf(want, sizeof(want),
					 "event 0: \"%s\" must be an integer between 0 and %s",
					 ints[i].key, ints[i].max);
			if (ONE(fmt(EV(",\"%s\":%s"), ints[i].key, ints[i].max), &list))
				es_beacon_list_free(&list);
			if (ONE(fmt(EV(",\"%s\":-0"), ints[i].key), &list))
				es_beacon_list_free(&list);
			REFUSES(fmt(EV(",\"%s\":%s"), ints[i].key, ints[i].over), 0, want);
			for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
				REFUSES(fmt(EV(",\"%s\":%s"), ints[i].key, bad[j]), 0, want);
		}
		REFUSES(EV(",\"sd\":-1e-400x"), -1, "not valid JSON");
	}
	REFUSES(EV(",\"sd\":100.5"), 0,
			"event 0: \"sd\" must be an integer between 0 and 100");
	REFUSES(EV(",\"w\":NaN"), -1, "not valid JSON");

	/* p: an object of at most 16 string values under 1..64-char keys */
	{
		char		props[4096];
		char	   *p;

		for (int n = 16; n <= 17; n++)
		{
			p = props;
			for (int i = 0; i < n; i++)
				p += sprintf(p, "%s\"k%d\":\"v\"", i ? "," : "", i);
			if (n == 16)
			{
				if (ONE(fmt(EV(",\"p\":{%s}"), props), &list))
				{
					CHECK_INT(cJSON_GetArraySize(b->props), 16);
					es_beacon_list_free(&list);
				}
			}
			else
				REFUSES(fmt(EV(",\"p\":{%s}"), props), 0,
						"event 0: \"p\" must have at most 16 keys");
		}
	}
	REFUSES(EV(",\"p\":[]"), 0, "event 0: \"p\" must be an object");
	REFUSES(EV(",\"p\":\"a=b\""), 0, "\"p\" must be an object");
	REFUSES(EV(",\"p\":{\"\":\"v\"}"), 0, "event 0: \"p\" keys must be 1 to 64 characters");
	if (ONE(fmt(EV(",\"p\":{\"%s\":\"v\"}"), repeat("\xc3\xa9", 64)), &list))
		es_beacon_list_free(&list);
	REFUSES(fmt(EV(",\"p\":{\"%s\":\"v\"}"), repeat("\xc3\xa9", 65)), 0,
			"\"p\" keys must be 1 to 64 characters");
	REFUSES(EV(",\"p\":{\"plan\":1}"), 0, "event 0: \"p\" value of \"plan\" must be a string");
	REFUSES(EV(",\"p\":{\"plan\":null}"), 0, "\"p\" value of \"plan\" must be a string");
	REFUSES(EV(",\"p\":{\"a\":\"b\",\"plan\":{}}"), 0, "\"p\" value of \"plan\" must be a string");
	if (ONE(fmt(EV(",\"p\":{\"k\":\"%s\"}"), repeat("\xe2\x82\xac", 256)), &list))
		es_beacon_list_free(&list);
	REFUSES(fmt(EV(",\"p\":{\"k\":\"%s\"}"), repeat("\xe2\x82\xac", 257)), 0,
			"event 0: \"p\" value of \"k\" must be at most 256 characters");
	/* a long key is cut in the message at a character, never mid-way */
	{
		EsBeaconError err;
		const char *body = fmt(EV(",\"p\":{\"%s\":1}"), repeat("\xe2\x82\xac", 60));

		CHECK(!es_beacon_parse(body, strlen(body), &list, &err));
		CHECKF(es_utf8_valid(err.message, strlen(err.message)),
			   "message not UTF-8: %s", err.message);
	}
	free(s);
}

/* "rv": revenue, normalised amount and ISO 4217 currency */
static void
test_revenue(void)
{
	EsBeaconList list;
	const EsBeacon *b = &list.items[0];
	static const struct
	{
		const char *amount;		/* as written in the body */
		const char *want;
	}			ok[] = {
		{"19.99", "19.99"},
		{"\"19.90\"", "19.9"},
		{"0", "0"},
		{"\"0\"", "0"},
		{"\"000\"", "0"},
		{"\"0.50\"", "0.5"},
		{"\"007.000\"", "7"},
		{"1200", "1200"},
		{"1.2e3", "1200"},
		{"0.1", "0.1"},
		{"0.0000004", "0"},		/* below a millionth: rounds away */
		{"0.0000005", "0.000001"},
		{"999999999.999999", "999999999.999999"},
		{"\"123456789012345.123456\"", "123456789012345.123456"},
		{"-0", "0"},
	};

	/* none: absent or null */
	if (ONE(EV(""), &list))
	{
		CHECK(!b->has_revenue);
		es_beacon_list_free(&list);
	}
	if (ONE(EV(",\"rv\":null"), &list))
	{
		CHECK(!b->has_revenue);
		es_beacon_list_free(&list);
	}
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
	{
		if (!ONE(fmt(EV(",\"rv\":{\"amount\":%s,\"currency\":\"EUR\"}"), ok[i].amount),
				 &list))
			continue;
		CHECKF(b->has_revenue && strcmp(b->revenue, ok[i].want) == 0,
			   "amount %s: got \"%s\", want \"%s\"", ok[i].amount,
			   b->revenue, ok[i].want);
		CHECK_STR(b->currency, "EUR");
		es_beacon_list_free(&list);
	}
	/* other keys of rv are ignored; any event may carry it (a pageview here) */
	if (ONE(EV(",\"rv\":{\"currency\":\"JPY\",\"amount\":1500,\"note\":[1]}"),
			&list))
	{
		CHECK(b->has_revenue && b->kind == ES_EVENT_PAGEVIEW);
		CHECK_STR(b->revenue, "1500");
		CHECK_STR(b->currency, "JPY");
		es_beacon_list_free(&list);
	}
	/* one event of an array with revenue, the other without */
	if (ACCEPTS("[" EV("") "," EV(",\"rv\":{\"amount\":\"5\",\"currency\":\"USD\"}") "]",
				&list))
	{
		CHECK(!list.items[0].has_revenue);
		CHECK(list.items[1].has_revenue && strcmp(list.items[1].revenue, "5") == 0);
		es_beacon_list_free(&list);
	}

	REFUSES(EV(",\"rv\":9.99"), 0, "event 0: \"rv\" must be an object like");
	REFUSES(EV(",\"rv\":[9.99,\"EUR\"]"), 0, "\"rv\" must be an object");
	REFUSES(EV(",\"rv\":{}"), 0, "event 0: \"rv.currency\" is required");
	REFUSES(EV(",\"rv\":{\"amount\":1}"), 0, "\"rv.currency\" is required");
	REFUSES(EV(",\"rv\":{\"amount\":1,\"currency\":null}"), 0, "\"rv.currency\" is required");
	REFUSES(EV(",\"rv\":{\"currency\":\"EUR\"}"), 0, "event 0: \"rv.amount\" is required");
	REFUSES(EV(",\"rv\":{\"amount\":null,\"currency\":\"EUR\"}"), 0, "\"rv.amount\" is required");
	for (int i = 0; i < 7; i++)
	{
		static const char *const bad[] = {"\"eur\"", "\"EURO\"", "\"EU\"", "\"\"",
		"978", "\"E1R\"", "\"\u00c9UR\""};

		REFUSES(fmt(EV(",\"rv\":{\"amount\":1,\"currency\":%s}"), bad[i]), 0,
				"event 0: \"rv.currency\" must be an ISO 4217 code of three upper-case letters");
	}
	for (int i = 0; i < 4; i++)
	{
		static const char *const bad[] = {"-1", "-0.01", "1e9", "1e400"};

		REFUSES(fmt(EV(",\"rv\":{\"amount\":%s,\"currency\":\"EUR\"}"), bad[i]), 0,
				"event 0: \"rv.amount\" must be a number from 0 to 999999999.999999");
	}
	for (int i = 0; i < 11; i++)
	{
		static const char *const bad[] = {"\"\"", "\"-1\"", "\"1,5\"", "\"1.\"",
			"\".5\"", "\"1e3\"", "\" 1\"", "\"1.2.3\"", "\"1.1234567\"",
		"\"1234567890123456\"", "\"NaN\""};

		REFUSES(fmt(EV(",\"rv\":{\"amount\":%s,\"currency\":\"EUR\"}"), bad[i]), 0,
				"event 0: \"rv.amount\" must be a non-negative decimal like \"19.90\", with at most 15 digits before the point and 6 after");
	}
	REFUSES(EV(",\"rv\":{\"amount\":true,\"currency\":\"EUR\"}"), 0,
			"\"rv.amount\" must be a number or a decimal string");
	REFUSES(EV(",\"rv\":{\"amount\":{},\"currency\":\"EUR\"}"), 0,
			"\"rv.amount\" must be a number or a decimal string");
	/* the message names the event of an array */
	REFUSES("[" EV("") "," EV(",\"rv\":{\"amount\":\"x\",\"currency\":\"EUR\"}") "]", 1,
			"event 1: \"rv.amount\"");
}

void
test_beacon(void)
{
	test_helpers();
	test_accept();
	test_arrays();
	test_body_errors();
	test_event_errors();
	test_revenue();
}
