/*
 * test_compat.c
 *	  Plausible and Umami bodies into beacons: every field form, and that
 *	  what comes out passes the beacon parser.
 */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "beacon.h"
#include "compat.h"
#include "unit.h"

static const uint8_t V[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t S[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

/* Translate, identify every item, print, and parse back as a beacon body. */
static char *
plausible(const char *body, EsBeaconList *list)
{
	EsCompatOut out;
	char		err[200];
	char	   *text;
	EsBeaconError berr;

	if (!CHECKF(es_compat_plausible(body, strlen(body), &out, err, sizeof(err)),
				"plausible(%s): %s", body, err))
		return NULL;
	for (int i = 0; i < out.count; i++)
		es_compat_identify(&out, i, V, S, 3, out.items[i].engaged_ms,
						   out.items[i].interactive ? 1 : -1);
	text = es_compat_print(&out);
	es_compat_free(&out);
	CHECKF(es_beacon_parse(text, strlen(text), list, &berr),
		   "beacon %s: %s", text, berr.message);
	return text;
}

static const char *
prop(const EsBeacon *b, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(b->props, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
refused(bool umami, const char *body, const char *want)
{
	EsCompatOut out;
	char		err[200] = "";
	bool		ok = umami ? es_compat_umami(body, strlen(body), &out, err, sizeof(err)) :
		es_compat_plausible(body, strlen(body), &out, err, sizeof(err));

	if (ok)
		es_compat_free(&out);
	return CHECKF(!ok && strstr(err, want) != NULL,
				  "%s refused with \"%s\", want \"%s\"", body, err, want);
}

static void
test_plausible(void)
{
	EsBeaconList list;
	char	   *text;
	cJSON	   *root;

	/* short names, props as object */
	text = plausible("{\"n\":\"pageview\",\"u\":\"https://a.com/x?utm_source=n\","
					 "\"d\":\"a.com\",\"r\":\"https://ref.org/\",\"p\":{\"k\":\"v\",\"n\":3}}",
					 &list);
	if (text)
	{
		CHECK_INT(list.count, 1);
		CHECK_STR(list.items[0].domain, "a.com");
		CHECK_STR(list.items[0].name, "pageview");
		CHECK_INT(list.items[0].kind, ES_EVENT_PAGEVIEW);
		CHECK_STR(list.items[0].url, "https://a.com/x?utm_source=n");
		CHECK_STR(list.items[0].referrer, "https://ref.org/");
		CHECK_STR(prop(&list.items[0], "k"), "v");
		CHECK_STR(prop(&list.items[0], "n"), "3");
		CHECK(memcmp(list.items[0].visitor, V, 16) == 0);
		CHECK(memcmp(list.items[0].session, S, 16) == 0);
		CHECK_INT(list.items[0].seq, 3);
		CHECK(!list.items[0].has_interactions);	/* a pageview is no interaction */
		es_beacon_list_free(&list);
		free(text);
	}

	/* long names, props as JSON text, revenue as $ text, null referrer */
	text = plausible("{\"name\":\"Purchase\",\"url\":\"https://a.com/buy\",\"domain\":\"a.com\","
					 "\"referrer\":null,\"props\":\"{\\\"plan\\\":\\\"pro\\\",\\\"ok\\\":true}\","
					 "\"$\":\"{\\\"amount\\\":\\\"12.50\\\",\\\"currency\\\":\\\"EUR\\\"}\"}",
					 &list);
	if (text)
	{
		CHECK_STR(list.items[0].name, "Purchase");
		CHECK_INT(list.items[0].kind, ES_EVENT_CUSTOM);
		CHECK(list.items[0].referrer == NULL);
		CHECK_STR(prop(&list.items[0], "plan"), "pro");
		CHECK_STR(prop(&list.items[0], "ok"), "true");
		CHECK_INT(list.items[0].interactions, 1);
		root = cJSON_Parse(text);
		CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "rv"), "amount")->valuestring,
				  "12.50");
		CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "rv"), "currency")->valuestring,
				  "EUR");
		cJSON_Delete(root);
		es_beacon_list_free(&list);
		free(text);
	}

	/* revenue as object under its long name, amount a number */
	text = plausible("{\"n\":\"Buy\",\"u\":\"https://a.com/\",\"d\":\"a.com\","
					 "\"revenue\":{\"amount\":9.99,\"currency\":\"USD\"}}", &list);
	if (text)
	{
		root = cJSON_Parse(text);
		CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "rv"), "amount")->valuedouble == 9.99);
		cJSON_Delete(root);
		es_beacon_list_free(&list);
		free(text);
	}

	/* non-interactive: not an interaction, still no pageview */
	text = plausible("{\"n\":\"Video Play\",\"u\":\"https://a.com/\",\"d\":\"a.com\",\"i\":false}",
					 &list);
	if (text)
	{
		CHECK_INT(list.items[0].kind, ES_EVENT_CUSTOM);
		CHECK(!list.items[0].has_interactions);
		es_beacon_list_free(&list);
		free(text);
	}

	/* engagement: a heartbeat with scroll depth and engaged time */
	text = plausible("{\"n\":\"engagement\",\"u\":\"https://a.com/p\",\"d\":\"a.com\","
					 "\"sd\":57,\"e\":4200}", &list);
	if (text)
	{
		CHECK_INT(list.items[0].kind, ES_EVENT_HEARTBEAT);
		CHECK_INT(list.items[0].scroll, 57);
		CHECK_INT(list.items[0].engaged_ms, 4200);
		CHECK(!list.items[0].has_interactions);
		es_beacon_list_free(&list);
		free(text);
	}

	/* hash mode keeps the fragment in the path */
	text = plausible("{\"n\":\"pageview\",\"u\":\"https://a.com/app?x=1#/settings\","
					 "\"d\":\"a.com\",\"h\":1}", &list);
	if (text)
	{
		CHECK_STR(list.items[0].url, "https://a.com/app%23/settings?x=1");
		es_beacon_list_free(&list);
		free(text);
	}
	text = plausible("{\"n\":\"pageview\",\"u\":\"https://a.com/app#/s\",\"d\":\"a.com\"}", &list);
	if (text)
	{
		CHECK_STR(list.items[0].url, "https://a.com/app#/s");
		es_beacon_list_free(&list);
		free(text);
	}

	/* several domains: one event each */
	text = plausible("{\"n\":\"pageview\",\"u\":\"https://a.com/\",\"d\":\"a.com, b.com\"}", &list);
	if (text)
	{
		CHECK_INT(list.count, 2);
		CHECK_STR(list.items[1].domain, "b.com");
		es_beacon_list_free(&list);
		free(text);
	}

	/* cut to fit: a long name, 20 props, a long value */
	{
		char		body[8000];
		int			n;

		n = snprintf(body, sizeof(body), "{\"n\":\"%0100d\",\"u\":\"https://a.com/\",\"d\":\"a.com\",\"p\":{", 7);
		for (int i = 0; i < 20; i++)
			n += snprintf(body + n, sizeof(body) - n, "%s\"k%d\":\"%0300d\"", i ? "," : "", i, i);
		snprintf(body + n, sizeof(body) - n, "}}");
		text = plausible(body, &list);
		if (text)
		{
			CHECK_INT(strlen(list.items[0].name), ES_MAX_NAME_CHARS);
			CHECK_INT(cJSON_GetArraySize(list.items[0].props), ES_MAX_PROPS);
			CHECK_INT(strlen(prop(&list.items[0], "k0")), ES_MAX_PROP_VALUE_CHARS);
			es_beacon_list_free(&list);
			free(text);
		}
	}

	refused(false, "", "empty");
	refused(false, "[1]", "JSON object");
	refused(false, "{\"u\":\"https://a.com/\",\"d\":\"a.com\"}", "name is required");
	refused(false, "{\"n\":\"x\",\"d\":\"a.com\"}", "url is required");
	refused(false, "{\"n\":\"x\",\"u\":\"https://a.com/\"}", "domain is required");
	refused(false, "{\"n\":\"x\",\"u\":\"https://a.com/\",\"d\":\" , \"}", "at least one site");
	refused(false, "{\"n\":\"x\",\"u\":\"https://a.com/\",\"d\":\"a.com\",\"p\":[1]}", "props");
	refused(false, "{\"n\":\"x\",\"u\":\"https://a.com/\",\"d\":\"a.com\",\"$\":{\"amount\":1}}",
			"revenue");
}

static void
test_umami(void)
{
	EsCompatOut out;
	char		err[200];
	const char *body;
	char	   *text;
	EsBeaconList list;
	EsBeaconError berr;
	char		uuid[37];

	body = "{\"type\":\"event\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\","
		"\"hostname\":\"a.com\",\"language\":\"en-US\",\"referrer\":\"https://ref.org/x\","
		"\"screen\":\"390x844\",\"title\":\"Home\",\"url\":\"/blog?utm_medium=m\","
		"\"name\":\"signup\",\"data\":{\"plan\":\"pro\",\"seats\":5}}}";
	if (CHECKF(es_compat_umami(body, strlen(body), &out, err, sizeof(err)), "umami: %s", err))
	{
		es_uuid_format(out.website, uuid);
		CHECK_STR(uuid, "0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a");
		CHECK(out.items[0].domain == NULL);
		es_compat_set_domain(&out, "a.com");
		es_compat_identify(&out, 0, V, S, 0, -1, -1);
		text = es_compat_print(&out);
		es_compat_free(&out);
		if (CHECKF(es_beacon_parse(text, strlen(text), &list, &berr), "%s: %s", text, berr.message))
		{
			CHECK_STR(list.items[0].domain, "a.com");
			CHECK_STR(list.items[0].name, "signup");
			CHECK_STR(list.items[0].url, "https://a.com/blog?utm_medium=m");
			CHECK_STR(list.items[0].referrer, "https://ref.org/x");
			CHECK_INT(list.items[0].width, 390);
			CHECK_STR(prop(&list.items[0], "seats"), "5");
			CHECK(!list.items[0].has_engaged);
			es_beacon_list_free(&list);
		}
		free(text);
	}

	/* a pageview: no name; absolute url; empty referrer */
	body = "{\"type\":\"event\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\","
		"\"url\":\"https://b.com/\",\"referrer\":\"\"}}";
	if (CHECKF(es_compat_umami(body, strlen(body), &out, err, sizeof(err)), "umami: %s", err))
	{
		CHECK_INT(out.items[0].kind, ES_COMPAT_PAGEVIEW);
		CHECK(cJSON_GetObjectItem(out.items[0].beacon, "r") == NULL);
		CHECK_STR(cJSON_GetObjectItem(out.items[0].beacon, "n")->valuestring, "pageview");
		es_compat_free(&out);
	}

	body = "{\"type\":\"identify\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\"}}";
	if (CHECK(es_compat_umami(body, strlen(body), &out, err, sizeof(err))))
	{
		CHECK(out.nothing);
		CHECK_INT(out.count, 0);
		es_compat_free(&out);
	}

	refused(true, "{\"payload\":{}}", "type");
	refused(true, "{\"type\":\"event\",\"payload\":{\"website\":\"nope\",\"url\":\"/\"}}",
			"public_id");
	refused(true, "{\"type\":\"event\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\","
			"\"url\":\"/x\",\"hostname\":\"a.com/x\"}}", "hostname");
	refused(true, "{\"type\":\"event\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\","
			"\"url\":5}}", "url");

	/* no hostname, no url (@umami/node's track(name, data)): the site's domain */
	body = "{\"type\":\"event\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\","
		"\"name\":\"x\"}}";
	if (CHECK(es_compat_umami(body, strlen(body), &out, err, sizeof(err))))
	{
		es_compat_set_domain(&out, "c.org");
		CHECK_STR(cJSON_GetObjectItem(out.items[0].beacon, "u")->valuestring, "https://c.org/");
		es_compat_free(&out);
	}
	body = "{\"type\":\"event\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\","
		"\"url\":\"docs?a=1\"}}";
	if (CHECK(es_compat_umami(body, strlen(body), &out, err, sizeof(err))))
	{
		es_compat_set_domain(&out, "c.org");
		CHECK_STR(cJSON_GetObjectItem(out.items[0].beacon, "u")->valuestring, "https://c.org/docs?a=1");
		es_compat_free(&out);
	}
	refused(true, "{\"type\":\"event\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\","
			"\"url\":\"/x\",\"hostname\":\"a.com\",\"name\":5}}", "name");
	refused(true, "{\"type\":\"other\",\"payload\":{\"website\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\"}}",
			"type");
}

static void
test_edgestat(void)
{
	EsCompatOut out;
	const char *body;
	char	   *text;
	EsBeaconList list;
	EsBeaconError berr;

	/* ids present, or not a body the parser takes: left alone */
	body = "{\"d\":\"a.com\",\"n\":\"pageview\",\"u\":\"https://a.com/\","
		"\"v\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\",\"s\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\"}";
	CHECK(!es_compat_edgestat(body, strlen(body), &out));
	CHECK(!es_compat_edgestat("{\"n\":1", 6, &out));
	CHECK(!es_compat_edgestat("[1]", 3, &out));
	CHECK(!es_compat_edgestat("{\"n\":\"pageview\"}", 16, &out));	/* no d */

	/* one event without ids */
	body = "{\"d\":\"a.com\",\"n\":\"pageview\",\"u\":\"https://a.com/x\",\"q\":2,\"w\":1200}";
	if (CHECK(es_compat_edgestat(body, strlen(body), &out)))
	{
		CHECK_INT(out.count, 1);
		CHECK(out.items[0].needs_ids);
		CHECK_STR(out.items[0].domain, "a.com");
		es_compat_identify(&out, 0, V, S, -1, -1, -1);
		text = es_compat_print(&out);
		es_compat_free(&out);
		if (CHECKF(es_beacon_parse(text, strlen(text), &list, &berr), "%s: %s", text, berr.message))
		{
			CHECK(memcmp(list.items[0].visitor, V, 16) == 0);
			CHECK_INT(list.items[0].seq, 2);
			CHECK_INT(list.items[0].width, 1200);
			es_beacon_list_free(&list);
		}
		free(text);
	}

	/* an array: only the events without ids get them */
	body = "[{\"d\":\"a.com\",\"n\":\"pageview\",\"u\":\"https://a.com/\"},"
		"{\"d\":\"b.com\",\"n\":\"x\",\"u\":\"https://b.com/\","
		"\"v\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\",\"s\":\"0f6e3f0a-8a4c-4d7e-9a43-6c1f2d3e4b5a\"}]";
	if (CHECK(es_compat_edgestat(body, strlen(body), &out)))
	{
		CHECK_INT(out.count, 2);
		CHECK(out.items[0].needs_ids);
		CHECK(!out.items[1].needs_ids);
		es_compat_identify(&out, 0, V, S, -1, -1, -1);
		text = es_compat_print(&out);
		es_compat_free(&out);
		if (CHECKF(es_beacon_parse(text, strlen(text), &list, &berr), "%s: %s", text, berr.message))
		{
			CHECK_INT(list.count, 2);
			CHECK(memcmp(list.items[0].session, S, 16) == 0);
			CHECK_STR(list.items[1].domain, "b.com");
			CHECK(list.items[1].visitor[0] == 0x0f);
			es_beacon_list_free(&list);
		}
		free(text);
	}
}

void
test_compat(void)
{
	CHECK_INT(es_compat_clip("h\xc3\xa9llo", 2), 3);
	CHECK_INT(es_compat_clip("abc", 5), 3);
	test_plausible();
	test_umami();
	test_edgestat();
}
