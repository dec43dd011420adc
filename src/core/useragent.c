/*-------------------------------------------------------------------------
 *
 * useragent.c
 *	  Compact User-Agent classifier: bot, browser, OS and device class.
 *
 * This runs for every request, so it is a handful of substring scans over
 * a lower-cased copy of the first UA_SCAN_MAX bytes (real User-Agents are
 * a few hundred), with no regex and no allocation.  The first rule that
 * matches wins, so the order of each table below is the rule:
 *
 * Bot: an empty User-Agent (every browser sends one); "bot" anywhere
 *	  except in the phone brand "Cubot" (Googlebot, bingbot, GPTBot,
 *	  UptimeRobot, ...); or one of bot_markers: crawlers, monitors,
 *	  headless and scripted browsers, HTTP libraries, link previewers.
 *	  A bot is not classified further (the pipeline drops it): browser and
 *	  OS are "Other" and the device comes from the viewport alone.
 * Browser: in-app browsers first, since they carry their engine's tokens
 *	  too; then browsers built on Chromium before Chrome (Edge, Opera,
 *	  Samsung, Yandex, UC all say "Chrome/"); Firefox; Chrome; and Safari
 *	  last, as everything on WebKit says "Safari/" ("Version/" is Safari's
 *	  own).
 * OS: iPhone, iPad and iPod before Mac OS (iOS says "like Mac OS X");
 *	  Android before Linux (Android says "Linux"); Windows Phone before
 *	  both.  An iPad in desktop mode sends a Macintosh UA: it is macOS,
 *	  as nothing in the request tells the two apart.
 * Device: tablet for iPad, "Tablet", Kindle/Silk, or Android without
 *	  "Mobile" (Google's rule for Android tablets); mobile for "Mobi",
 *	  iPhone, iPod, Windows Phone; when the OS is unknown the viewport
 *	  width decides (< 768 mobile, < 1024 tablet); desktop otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "useragent.h"

#define UA_SCAN_MAX 1024

typedef struct UaText
{
	size_t		len;
	char		s[UA_SCAN_MAX];
} UaText;

typedef struct Rule
{
	const char *marker;			/* lower case */
	const char *name;
} Rule;

/* "bot" catches most crawlers; these are the ones that do not say it. */
static const char *const bot_markers[] = {
	"crawl", "spider", "slurp", "curl/", "wget/", "python-requests",
	"python-urllib", "go-http-client", "java/", "okhttp", "axios/",
	"node-fetch", "headless", "phantomjs", "lighthouse", "pingdom",
	"facebookexternalhit", "facebookcatalog", "httpclient", "libwww-perl",
	"scrapy", "aiohttp", "python-httpx", "postmanruntime", "insomnia/",
	"whatsapp/", "google-inspectiontool", "mediapartners-google",
	"apis-google", "feedfetcher", "gtmetrix", "ia_archiver", "anthropic-ai",
	"claude-web", "cohere-ai", "chatgpt-user", "site24x7", "statuscake",
	"synthetics", "prerender", "validator",
};

static const Rule browser_rules[] = {
	{"instagram", "Instagram"},
	{"fban/", "Facebook"},
	{"fbav/", "Facebook"},
	{"fb_iab/", "Facebook"},
	{"micromessenger/", "WeChat"},
	{"musical_ly", "TikTok"},
	{"bytedancewebview", "TikTok"},
	{"tiktok", "TikTok"},
	{"linkedinapp", "LinkedIn"},
	{"edg/", "Edge"},
	{"edga/", "Edge"},
	{"edgios/", "Edge"},
	{"edge/", "Edge"},
	{"opr/", "Opera"},
	{"opt/", "Opera"},
	{"opios/", "Opera"},
	{"opera", "Opera"},
	{"samsungbrowser/", "Samsung Internet"},
	{"yabrowser/", "Yandex"},
	{"yaapp_", "Yandex"},
	{"ucbrowser/", "UC Browser"},
	{"ucweb", "UC Browser"},
	{"trident/", "Internet Explorer"},
	{"msie ", "Internet Explorer"},
	{"firefox/", "Firefox"},
	{"fxios/", "Firefox"},
	{"crios/", "Chrome"},
	{"chrome/", "Chrome"},
	{"chromium/", "Chrome"},
};

static const Rule os_rules[] = {
	{"windows phone", "Windows"},
	{"iphone", "iOS"},
	{"ipad", "iOS"},
	{"ipod", "iOS"},
	{"android", "Android"},
	{"cros ", "ChromeOS"},
	{"windows", "Windows"},
	{"macintosh", "macOS"},
	{"mac os x", "macOS"},
	{"linux", "Linux"},
	{"x11", "Linux"},
};

static const char *const tablet_markers[] = {
	"ipad", "tablet", "kindle", "silk/", "playbook",
};

static const char *const mobile_markers[] = {
	"mobi", "iphone", "ipod", "windows phone",
};

#define lengthof(a) (sizeof(a) / sizeof((a)[0]))

/* Offset of needle in ua at or after from, or -1. */
static long
find(const UaText *ua, size_t from, const char *needle)
{
	size_t		nlen = strlen(needle);
	const char *s = ua->s + from;
	size_t		left = from < ua->len ? ua->len - from : 0;

	while (left >= nlen)
	{
		const char *p = memchr(s, needle[0], left - nlen + 1);

		if (p == NULL)
			return -1;
		if (memcmp(p, needle, nlen) == 0)
			return (long) (p - ua->s);
		left -= p + 1 - s;
		s = p + 1;
	}
	return -1;
}

static bool
has(const UaText *ua, const char *needle)
{
	return find(ua, 0, needle) >= 0;
}

static bool
has_any(const UaText *ua, const char *const *markers, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		if (has(ua, markers[i]))
			return true;
	}
	return false;
}

static const char *
first_rule(const UaText *ua, const Rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		if (has(ua, rules[i].marker))
			return rules[i].name;
	}
	return "Other";
}

static bool
is_bot(const UaText *ua)
{
	long		at = 0;

	while ((at = find(ua, (size_t) at, "bot")) >= 0)
	{
		if (at < 2 || memcmp(ua->s + at - 2, "cu", 2) != 0)
			return true;
		at++;
	}
	return has_any(ua, bot_markers, lengthof(bot_markers));
}

const char *
es_device_from_width(int viewport_width)
{
	if (viewport_width <= 0)
		return "desktop";
	if (viewport_width < 768)
		return "mobile";
	if (viewport_width < 1024)
		return "tablet";
	return "desktop";
}

void
es_classify_user_agent(const char *ua, size_t len, int viewport_width,
					   EsUserAgent *out)
{
	UaText		text;

	out->bot = true;
	out->browser = "Other";
	out->os = "Other";
	out->device = es_device_from_width(viewport_width);
	out->device_from_ua = false;
	if (ua == NULL || len == 0)
		return;

	text.len = len < UA_SCAN_MAX ? len : UA_SCAN_MAX;
	for (size_t i = 0; i < text.len; i++)
	{
		char		c = ua[i];

		text.s[i] = (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
	}
	if (is_bot(&text))
		return;

	out->bot = false;
	out->browser = first_rule(&text, browser_rules, lengthof(browser_rules));
	if (strcmp(out->browser, "Other") == 0 &&
		has(&text, "safari/") && has(&text, "version/"))
		out->browser = "Safari";
	out->os = first_rule(&text, os_rules, lengthof(os_rules));

	out->device_from_ua = true;
	if (has_any(&text, tablet_markers, lengthof(tablet_markers)))
		out->device = "tablet";
	else if (has_any(&text, mobile_markers, lengthof(mobile_markers)))
		out->device = "mobile";
	else if (strcmp(out->os, "Android") == 0)
		out->device = "tablet";
	else if (strcmp(out->os, "Other") != 0)
		out->device = "desktop";
	else
		out->device_from_ua = false;	/* the viewport decides */
}
