/*
 * test_url.c
 *	  URL splitting (host, path, utm_*), percent-decoding and host
 *	  normalization.
 */
#include <stdio.h>

#include "url.h"
#include "unit.h"

static bool
span_is(EsSpan span, const char *want)
{
	if (want == NULL)
		return span.ptr == NULL;
	return span.ptr != NULL && span.len == strlen(want) &&
		memcmp(span.ptr, want, span.len) == 0;
}

/* NULL in a want field: the part is absent */
typedef struct UrlCase
{
	const char *url;
	const char *host;
	const char *path;
	const char *source;
	const char *medium;
	const char *campaign;
} UrlCase;

static const UrlCase split_cases[] = {
	{"https://example.com", "example.com", "/", NULL, NULL, NULL},
	{"https://example.com/", "example.com", "/", NULL, NULL, NULL},
	{"HTTP://Example.COM/A/b.html", "Example.COM", "/A/b.html", NULL, NULL, NULL},
	{"https://example.com:8443/x", "example.com", "/x", NULL, NULL, NULL},
	{"https://example.com:/x", "example.com", "/x", NULL, NULL, NULL},
	{"https://user:pa:ss@example.com:8080/p?q=1#f", "example.com", "/p", NULL, NULL, NULL},
	{"https://a@b@example.com/", "example.com", "/", NULL, NULL, NULL},
	{"https://example.com?utm_source=x", "example.com", "/", "x", NULL, NULL},
	{"https://example.com#top", "example.com", "/", NULL, NULL, NULL},
	{"https://example.com/a#frag?utm_source=x", "example.com", "/a", NULL, NULL, NULL},
	{"https://example.com/a?#utm_source=x", "example.com", "/a", NULL, NULL, NULL},
	{"https://example.com/a;b=c/d?e", "example.com", "/a;b=c/d", NULL, NULL, NULL},
	{"http://[::1]/", "[::1]", "/", NULL, NULL, NULL},
	{"http://[2001:db8::7]:8080/p?utm_medium=m", "[2001:db8::7]", "/p", NULL, "m", NULL},
	{"http://user@[fe80::1]", "[fe80::1]", "/", NULL, NULL, NULL},
	{"http://127.0.0.1:80", "127.0.0.1", "/", NULL, NULL, NULL},
	{"https://example.com/landing?utm_source=news%20letter&utm_medium=e+mail"
		"&utm_campaign=spring%2Fsale&utm_source=second#utm_campaign=no",
		"example.com", "/landing", "news%20letter", "e+mail", "spring%2Fsale"},
	{"https://example.com/?a=1&utm_campaign=c&&utm_medium=&x", "example.com", "/",
		NULL, "", "c"},
	{"https://example.com/?utm_source", "example.com", "/", "", NULL, NULL},
	{"https://example.com/?UTM_SOURCE=a&utm_sourcex=b&xutm_source=c&utm_=d"
		"&utm_source%3D=e", "example.com", "/", NULL, NULL, NULL},
	{"https://example.com/?utm_source=a=b", "example.com", "/", "a=b", NULL, NULL},
};

static const char *const not_urls[] = {
	"", "h", "http", "http:", "http:/", "http://", "https://", "http:///path",
	"https://:443/", "https://user@/", "https://user@:80/", "ftp://example.com/",
	"mailto:a@example.com", "javascript:alert(1)", "file:///etc/passwd",
	"//example.com/", "example.com", " https://example.com", "https:/example.com",
	"https:\\\\example.com", "ws://example.com/", "httpx://example.com",
	"https://example.com:80a/", "https://example.com:1234567/",
	"https://[::1/", "https://[::1]x/", "https://exa mple.com/", "https://ex\tample/",
	"https://example.com\\@evil.com/",
};

static void
test_split(void)
{
	EsUrlParts parts;

	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++)
	{
		const UrlCase *c = &split_cases[i];

		if (!CHECKF(es_url_split(c->url, strlen(c->url), &parts),
					"refused %s", c->url))
			continue;
		CHECKF(span_is(parts.host, c->host), "host of %s: %.*s", c->url,
			   (int) parts.host.len, parts.host.ptr);
		CHECKF(span_is(parts.path, c->path), "path of %s: %.*s", c->url,
			   (int) parts.path.len, parts.path.ptr);
		CHECKF(span_is(parts.utm_source, c->source), "utm_source of %s", c->url);
		CHECKF(span_is(parts.utm_medium, c->medium), "utm_medium of %s", c->url);
		CHECKF(span_is(parts.utm_campaign, c->campaign), "utm_campaign of %s", c->url);
	}
	for (size_t i = 0; i < sizeof(not_urls) / sizeof(not_urls[0]); i++)
	{
		memset(&parts, 0x55, sizeof(parts));
		CHECKF(!es_url_split(not_urls[i], strlen(not_urls[i]), &parts),
			   "accepted %s", not_urls[i]);
		CHECKF(parts.host.ptr == NULL && parts.path.ptr == NULL &&
			   parts.utm_source.ptr == NULL, "not zeroed for %s", not_urls[i]);
	}

	/* the length bounds the URL, not a NUL */
	CHECK(es_url_split("https://example.com/a?utm_source=x", 19, &parts) &&
		  span_is(parts.path, "/") && parts.utm_source.ptr == NULL);
	CHECK(es_url_split("https://example.com/a?utm_source=xyz", 34, &parts) &&
		  span_is(parts.utm_source, "x"));
	CHECK(!es_url_split("https://example.com", 7, &parts));
}

static EsSpan
span_of(const char *s)
{
	EsSpan		span = {s, strlen(s)};

	return span;
}

#define DECODE(in, size) es_url_decode(span_of(in), out, (size))
#define NORM(in, size) es_host_normalize(span_of(in), out, (size))

static void
test_decode(void)
{
	char		out[64];
	EsSpan		span;


	CHECK_INT(DECODE("news%20letter", sizeof(out)), 11);
	CHECK_STR(out, "news letter");
	CHECK_INT(DECODE("e+mail", sizeof(out)), 6);
	CHECK_STR(out, "e mail");
	CHECK_INT(DECODE("%2b%2F%41a", sizeof(out)), 4);
	CHECK_STR(out, "+/Aa");
	CHECK_INT(DECODE("caf%C3%A9", sizeof(out)), 5);
	CHECK_STR(out, "caf\xc3\xa9");
	CHECK_INT(DECODE("caf\xc3\xa9", sizeof(out)), 5);
	/* invalid escapes stay as they are */
	CHECK_INT(DECODE("100%", sizeof(out)), 4);
	CHECK_STR(out, "100%");
	CHECK_INT(DECODE("%zz%4", sizeof(out)), 5);
	CHECK_STR(out, "%zz%4");
	CHECK_INT(DECODE("%%41", sizeof(out)), 2);
	CHECK_STR(out, "%A");
	CHECK_INT(DECODE("", sizeof(out)), 0);
	CHECK_STR(out, "");
	span.ptr = NULL;
	span.len = 0;
	CHECK_INT(es_url_decode(span, out, sizeof(out)), 0);
	/* NUL and invalid UTF-8 are refused */
	CHECK_INT(DECODE("a%00b", sizeof(out)), -1);
	CHECK_INT(DECODE("%ff", sizeof(out)), -1);
	CHECK_INT(DECODE("%C0%AF", sizeof(out)), -1);
	CHECK_INT(DECODE("%ED%A0%80", sizeof(out)), -1);
	CHECK_INT(DECODE("%C3", sizeof(out)), -1);
	/* truncation keeps whole characters and always terminates */
	CHECK_INT(DECODE("abcdef", 4), 3);
	CHECK_STR(out, "abc");
	CHECK_INT(DECODE("a%C3%A9", 3), 1);
	CHECK_STR(out, "a");
	CHECK_INT(DECODE("a%C3%A9", 4), 3);
	CHECK_INT(DECODE("%F0%9F%98%80%F0%9F%98%80", 8), 4);
	CHECK_STR(out, "\xf0\x9f\x98\x80");
	CHECK_INT(DECODE("%F0%9F%98%80", 4), 0);
	CHECK_INT(DECODE("abc", 1), 0);
	CHECK_STR(out, "");
	CHECK_INT(DECODE("abc", 0), -1);
	/* the span's length, not a NUL, ends the input */
	span.ptr = "%41%42";
	span.len = 4;
	CHECK_INT(es_url_decode(span, out, sizeof(out)), 2);
	CHECK_STR(out, "A%");
}

static void
test_host(void)
{
	char		out[32];
	EsSpan		span;


	CHECK_INT(NORM("WWW.Example.COM", sizeof(out)), 11);
	CHECK_STR(out, "example.com");
	CHECK_INT(NORM("news.Example.com", sizeof(out)), 16);
	CHECK_STR(out, "news.example.com");
	CHECK_INT(NORM("wwwx.com", sizeof(out)), 8);
	CHECK_STR(out, "wwwx.com");
	CHECK_INT(NORM("www.www.a", sizeof(out)), 5);
	CHECK_STR(out, "www.a");
	CHECK_INT(NORM("[2001:DB8::1]", sizeof(out)), 13);
	CHECK_STR(out, "[2001:db8::1]");
	CHECK_INT(NORM("\xc3\x89t\xc3\xa9.fr", sizeof(out)), 8);
	CHECK_STR(out, "\xc3\x89t\xc3\xa9.fr");
	CHECK_INT(NORM("example.com", 12), 11);
	CHECK_INT(NORM("example.com", 11), -1);
	CHECK_INT(NORM("www.example.com", 12), 11);
	span.ptr = NULL;
	span.len = 0;
	CHECK_INT(es_host_normalize(span, out, sizeof(out)), -1);
}

void
test_url(void)
{
	test_split();
	test_decode();
	test_host();
}
