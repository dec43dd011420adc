/*-------------------------------------------------------------------------
 *
 * useragent.c
 *	  Compact User-Agent classifier: bot, browser, OS and device class.
 *
 * This runs for every request, so it reads a lower-cased copy of the first
 * UA_SCAN_MAX bytes once (real User-Agents are a few hundred), looking up
 * every position in a small hash of the markers below by its first three
 * bytes: no regex, no allocation, no scan per marker.  A matching marker
 * sets what it stands for (a bot, a browser, an OS, a device hint); where
 * several browsers or OSes match, the one with the lowest rank wins.
 *
 * Bot: what no browser a person uses sends.  Every such browser's
 *	  User-Agent starts "Mozilla/5.0 (" (a bare "Mozilla/5.0" says nothing
 *	  either way and is let through), but for Opera before 15 ("Opera/9.80
 *	  (") and old Internet Explorer ("Mozilla/4.0 (compatible; MSIE ...").
 *	  Anything else is a bot: HTTP libraries, command-line tools, scripts,
 *	  most crawlers.  Among the rest, a bot says "compatible" without being
 *	  Internet Explorer or Konqueror (the crawlers' "Mozilla/5.0
 *	  (compatible; Name/1.0; +url)"), gives a URL, a domain name or an
 *	  e-mail address to be reached at (browsers never do; an app may name
 *	  its carrier), names what it does (crawl, spider, fetch, scan, check,
 *	  monitor, preview, headless, ...), or is one of the crawlers known by
 *	  name alone (bot_names).  "bot" counts anywhere but in the phone brand
 *	  Cubot.  A bot is not classified further (the pipeline drops it):
 *	  browser and OS are "Other" and the device comes from the viewport.
 * Browser: in-app browsers and apps first, since they carry their engine's
 *	  tokens too; then browsers built on Chromium before Chrome (Edge,
 *	  Opera, Samsung, Yandex, UC all say "Chrome/"); Firefox; Chrome; and
 *	  Safari last, as everything on WebKit says "Safari/" ("Version/" is
 *	  Safari's own).  A WebKit view on iOS or macOS that names no browser
 *	  (an app's WKWebView, Mail) renders as Safari: it is Safari.
 * OS: iPhone, iPad and iPod before Mac OS (iOS says "like Mac OS X");
 *	  Android before Linux (Android says "Linux"); Windows Phone before
 *	  both.  An iPad in desktop mode sends a Macintosh UA: it is macOS,
 *	  as nothing in the request tells the two apart.
 * Device: tablet for iPad, "Tablet", Kindle/Silk, or Android without
 *	  "Mobile" (Google's rule for Android tablets); mobile for "Mobi",
 *	  iPhone, iPod, Windows Phone; when the OS is unknown the viewport
 *	  width decides (< 768 mobile, < 1024 tablet); desktop otherwise.
 *
 * test/ua measures all of this against public corpora of real browsers'
 * and crawlers' User-Agents (`make -C test/ua`, `make -C test/ua bench`).
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <string.h>

#include "useragent.h"

#define UA_SCAN_MAX 1024

/*
 * Browsers by rank: where several match, the first wins.  Those before
 * BR_EDGE are apps, which show pages in their own views.
 */
typedef enum Browser
{
	BR_INSTAGRAM,
	BR_FACEBOOK,
	BR_WECHAT,
	BR_TIKTOK,
	BR_LINKEDIN,
	BR_SNAPCHAT,
	BR_GOOGLE_APP,
	BR_DUCKDUCKGO,
	BR_ECOSIA,
	BR_EDGE,
	BR_OPERA,
	BR_SAMSUNG,
	BR_YANDEX,
	BR_UC,
	BR_IE,
	BR_FIREFOX,
	BR_CHROME,
	BR_SAFARI,
	BR_OTHER
} Browser;

static const char *const browser_names[] = {
	[BR_INSTAGRAM] = "Instagram",
	[BR_FACEBOOK] = "Facebook",
	[BR_WECHAT] = "WeChat",
	[BR_TIKTOK] = "TikTok",
	[BR_LINKEDIN] = "LinkedIn",
	[BR_SNAPCHAT] = "Snapchat",
	[BR_GOOGLE_APP] = "Google App",
	[BR_DUCKDUCKGO] = "DuckDuckGo",
	[BR_ECOSIA] = "Ecosia",
	[BR_EDGE] = "Edge",
	[BR_OPERA] = "Opera",
	[BR_SAMSUNG] = "Samsung Internet",
	[BR_YANDEX] = "Yandex",
	[BR_UC] = "UC Browser",
	[BR_IE] = "Internet Explorer",
	[BR_FIREFOX] = "Firefox",
	[BR_CHROME] = "Chrome",
	[BR_SAFARI] = "Safari",
	[BR_OTHER] = "Other",
};

/* OSes by rank, as browsers. */
typedef enum Os
{
	OS_WINDOWS_PHONE,
	OS_IOS,
	OS_ANDROID,
	OS_CHROMEOS,
	OS_WINDOWS,
	OS_MACOS,
	OS_LINUX,
	OS_OTHER
} Os;

static const char *const os_names[] = {
	[OS_WINDOWS_PHONE] = "Windows",
	[OS_IOS] = "iOS",
	[OS_ANDROID] = "Android",
	[OS_CHROMEOS] = "ChromeOS",
	[OS_WINDOWS] = "Windows",
	[OS_MACOS] = "macOS",
	[OS_LINUX] = "Linux",
	[OS_OTHER] = "Other",
};

/* What a marker says besides a browser or an OS. */
#define F_BOT		0x0001
#define F_MOBILE	0x0002
#define F_TABLET	0x0004
#define F_COMPAT_OK	0x0008		/* a browser that says "compatible" (IE) */
#define F_COMPAT	0x0010		/* "compatible" */
#define F_VERSION	0x0020		/* "Version/": Safari's own token */
#define F_SAFARI	0x0040
#define F_WEBKIT	0x0080
#define F_DOMAIN	0x0100		/* a domain name: a bot, unless an app's */

/* A condition on the bytes around a match. */
typedef enum Check
{
	CK_NONE,
	CK_NOT_CUBOT,				/* "bot", but not in the phone brand Cubot */
	CK_DOMAIN,					/* ".com" ends a host name: a name character
								 * before it, none after */
	CK_WORD_START				/* no letter right before it */
} Check;

typedef struct Marker
{
	const char *text;			/* lower case, at least 3 bytes */
	uint8_t		len;
	uint8_t		check;			/* Check */
	uint8_t		browser;		/* Browser, BR_OTHER for none */
	uint8_t		os;				/* Os, OS_OTHER for none */
	uint16_t	flags;
} Marker;

#define BOT(t)			{t, sizeof(t) - 1, CK_NONE, BR_OTHER, OS_OTHER, F_BOT}
#define BOT_IF(t, ck)	{t, sizeof(t) - 1, ck, BR_OTHER, OS_OTHER, F_BOT}
#define DOMAIN(t)		{t, sizeof(t) - 1, CK_DOMAIN, BR_OTHER, OS_OTHER, F_DOMAIN}
#define BROWSER(t, b)	{t, sizeof(t) - 1, CK_NONE, b, OS_OTHER, 0}
#define OS(t, o, f)		{t, sizeof(t) - 1, CK_NONE, BR_OTHER, o, f}
#define FLAG(t, f)		{t, sizeof(t) - 1, CK_NONE, BR_OTHER, OS_OTHER, f}

static const Marker markers[] = {
	/*
	 * Bots that name what they do.  No real browser of test/ua says any of
	 * these; words an app's name may hold ("download", "feed", "reader")
	 * are left out.
	 */
	BOT_IF("bot", CK_NOT_CUBOT),
	BOT("crawl"), BOT("spider"), BOT("slurp"), BOT("scrap"), BOT("fetch"),
	BOT("scan"), BOT("check"), BOT("monitor"), BOT("archiv"), BOT("preview"),
	BOT("proxy"), BOT("valid"), BOT("analy"), BOT("audit"), BOT("inspect"),
	BOT("verif"), BOT("optimiz"), BOT("screenshot"), BOT("thumbnail"),
	BOT("favicon"), BOT("sitemap"), BOT("agent"),
	BOT_IF("test", CK_WORD_START),
	/* Google's agents, but not an app's "Channel/googleplay" */
	BOT("googleother"), BOT("google-"), BOT("-google"), BOT("google "),
	/* automated and headless browsers, speed and uptime tools */
	BOT("headless"), BOT("phantomjs"), BOT("selenium"), BOT("puppeteer"),
	BOT("playwright"), BOT("webdriver"), BOT("lighthouse"), BOT("pagespeed"),
	BOT("gtmetrix"), BOT("pingdom"), BOT("uptime"), BOT("ptst/"),
	/* HTTP stacks and languages (most also fail the "Mozilla/5.0 (" test) */
	BOT("http"), BOT("curl"), BOT("wget"), BOT("python"), BOT("java"),
	BOT("perl"), BOT("ruby"), BOT("php"), BOT("okhttp"), BOT("axios"),
	BOT("node-fetch"), BOT("undici"), BOT("urllib"), BOT("libwww"),
	/*
	 * A contact address: a URL, or a domain name ("example.com/about").
	 * In-app browsers may name a carrier ("FBCR/Vodafone.de"); a package
	 * name ("jp.co.yahoo.app") is not a domain name.
	 */
	BOT("www."),
	DOMAIN(".com"), DOMAIN(".net"),
	DOMAIN(".org"), DOMAIN(".io"),
	DOMAIN(".co"), DOMAIN(".ai"),
	DOMAIN(".de"), DOMAIN(".fr"),
	DOMAIN(".ru"), DOMAIN(".uk"),
	DOMAIN(".jp"), DOMAIN(".cn"),
	DOMAIN(".nl"), DOMAIN(".eu"),
	DOMAIN(".info"),

	/* browsers, apps first */
	BROWSER("instagram", BR_INSTAGRAM),
	BROWSER("fban/", BR_FACEBOOK),
	BROWSER("fbav/", BR_FACEBOOK),
	BROWSER("fb_iab/", BR_FACEBOOK),
	BROWSER("micromessenger/", BR_WECHAT),
	BROWSER("musical_ly", BR_TIKTOK),
	BROWSER("bytedancewebview", BR_TIKTOK),
	BROWSER("tiktok", BR_TIKTOK),
	BROWSER("linkedinapp", BR_LINKEDIN),
	BROWSER("snapchat", BR_SNAPCHAT),
	BROWSER("gsa/", BR_GOOGLE_APP),
	BROWSER("duckduckgo/", BR_DUCKDUCKGO),
	BROWSER("ddg/", BR_DUCKDUCKGO),
	BROWSER("ecosia", BR_ECOSIA),
	BROWSER("edg/", BR_EDGE),
	BROWSER("edga/", BR_EDGE),
	BROWSER("edgios/", BR_EDGE),
	BROWSER("edge/", BR_EDGE),
	BROWSER("opr/", BR_OPERA),
	BROWSER("opt/", BR_OPERA),
	BROWSER("opios/", BR_OPERA),
	BROWSER("opera", BR_OPERA),
	BROWSER("samsungbrowser/", BR_SAMSUNG),
	BROWSER("yabrowser/", BR_YANDEX),
	BROWSER("yaapp_", BR_YANDEX),
	BROWSER("ucbrowser/", BR_UC),
	BROWSER("ucweb", BR_UC),
	{"trident/", 8, CK_NONE, BR_IE, OS_OTHER, F_COMPAT_OK},
	{"msie ", 5, CK_NONE, BR_IE, OS_OTHER, F_COMPAT_OK},
	BROWSER("firefox/", BR_FIREFOX),
	BROWSER("fxios/", BR_FIREFOX),
	BROWSER("crios/", BR_CHROME),
	BROWSER("chrome/", BR_CHROME),
	BROWSER("chromium/", BR_CHROME),

	/* OSes, and the device they imply */
	OS("windows phone", OS_WINDOWS_PHONE, F_MOBILE),
	OS("iphone", OS_IOS, F_MOBILE),
	OS("ipad", OS_IOS, F_TABLET),
	OS("ipod", OS_IOS, F_MOBILE),
	OS("android", OS_ANDROID, 0),
	OS("cros ", OS_CHROMEOS, 0),
	OS("windows", OS_WINDOWS, 0),
	OS("macintosh", OS_MACOS, 0),
	OS("mac os x", OS_MACOS, 0),
	OS("linux", OS_LINUX, 0),
	OS("x11", OS_LINUX, 0),

	/* device hints and the tokens the rules above look at */
	FLAG("mobi", F_MOBILE),
	FLAG("tablet", F_TABLET),
	FLAG("kindle", F_TABLET),
	FLAG("silk/", F_TABLET),
	FLAG("playbook", F_TABLET),
	FLAG("compatible", F_COMPAT),
	FLAG("konqueror/", F_COMPAT_OK),
	FLAG("version/", F_VERSION),
	FLAG("safari/", F_SAFARI),
	FLAG("applewebkit/", F_WEBKIT),
};

/*
 * Crawlers known by name alone: they do not say what they are, and are too
 * common to let through.
 */
static const char *const bot_names[] = {
	"teoma", "jeeves", "gigablast", "biglotron", "findlinks", "yacy",
	"facebookexternal", "facebookcatalog", "whatsapp", "embedly", "vkshare",
	"qwantify", "outbrain", "datanyze", "dareboost", "hotjar", "cookiehub",
	"hardenize", "silktide", "collapsify", "sindup", "linktiger", "marketgoo",
	"rigor", "foregenix", "splash", "watchtowr", "geedoshop", "newsai",
	"manus-user", "nikto", "zgrab", "openvas", "anthropic-ai", "claude-web",
	"cohere-ai", "chatgpt-user", "site24x7", "statuscake", "synthetics",
	"postmanruntime", "insomnia/", "appinsights", "newsnow", "readable/",
	"securityheaders",
};

#define lengthof(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The markers and bot names hashed by their first three bytes.  Built once,
 * on first use, from the constant tables (the backend is single-threaded; a
 * second thread would build the same bytes).
 */
#define HASH_BITS 10
#define NMARKERS (lengthof(markers) + lengthof(bot_names))

typedef struct MarkerIndex
{
	bool		built;
	uint16_t	start[(1 << HASH_BITS) + 1];	/* bucket b: order[start[b]..] */
	uint16_t	order[NMARKERS];
	Marker		all[NMARKERS];
} MarkerIndex;

static MarkerIndex idx;

static inline unsigned
head_hash(const unsigned char *p)
{
	unsigned	h = (p[0] * 961u) ^ (p[1] * 31u) ^ p[2] ^ (p[2] >> 5);

	return h & ((1u << HASH_BITS) - 1);
}

static void
build_index(void)
{
	uint16_t	count[1 << HASH_BITS] = {0};
	uint16_t	fill[1 << HASH_BITS];
	size_t		n = 0;

	for (size_t i = 0; i < lengthof(markers); i++)
		idx.all[n++] = markers[i];
	for (size_t i = 0; i < lengthof(bot_names); i++)
	{
		Marker	   *m = &idx.all[n++];

		m->text = bot_names[i];
		m->len = (uint8_t) strlen(bot_names[i]);
		m->check = CK_NONE;
		m->browser = BR_OTHER;
		m->os = OS_OTHER;
		m->flags = F_BOT;
	}
	for (size_t i = 0; i < n; i++)
		count[head_hash((const unsigned char *) idx.all[i].text)]++;
	idx.start[0] = 0;
	for (size_t b = 0; b < (1u << HASH_BITS); b++)
	{
		idx.start[b + 1] = idx.start[b] + count[b];
		fill[b] = idx.start[b];
	}
	for (size_t i = 0; i < n; i++)
	{
		unsigned	b = head_hash((const unsigned char *) idx.all[i].text);

		idx.order[fill[b]++] = (uint16_t) i;
	}
	idx.built = true;
}

static inline bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* The extra condition of m matching s[at..] (n bytes in all). */
static bool
check_ok(const Marker *m, const unsigned char *s, size_t n, size_t at)
{
	switch ((Check) m->check)
	{
		case CK_NONE:
			return true;
		case CK_NOT_CUBOT:
			return at < 2 || s[at - 2] != 'c' || s[at - 1] != 'u';
		case CK_DOMAIN:
			return at > 0 && (is_alnum(s[at - 1]) || s[at - 1] == '-') &&
				(at + m->len == n ||
				 (!is_alnum(s[at + m->len]) && s[at + m->len] != '.'));
		case CK_WORD_START:
			return at == 0 || !(s[at - 1] >= 'a' && s[at - 1] <= 'z');
	}
	return true;
}

/*
 * A contact e-mail address: a name character, '@', a letter (an Android
 * app's "android@150.0" is a version, not an address).
 */
static bool
has_email(const unsigned char *s, size_t n)
{
	const unsigned char *at = memchr(s, '@', n);

	while (at != NULL)
	{
		size_t		i = at - s;

		if (i > 0 && is_alnum(s[i - 1]) && i + 1 < n &&
			s[i + 1] >= 'a' && s[i + 1] <= 'z')
			return true;
		at = memchr(at + 1, '@', n - i - 1);
	}
	return false;
}

static bool
starts_with(const unsigned char *s, size_t n, const char *prefix)
{
	size_t		plen = strlen(prefix);

	return n >= plen && memcmp(s, prefix, plen) == 0;
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
	unsigned char s[UA_SCAN_MAX];
	size_t		n;
	unsigned	browser = BR_OTHER;
	unsigned	os = OS_OTHER;
	unsigned	flags = 0;
	bool		old_mozilla = false;
	size_t		from = 0;		/* no marker in "Mozilla/5.0 (" */

	out->bot = true;
	out->browser = "Other";
	out->os = "Other";
	out->device = es_device_from_width(viewport_width);
	out->device_from_ua = false;
	if (ua == NULL || len == 0)
		return;

	n = len < UA_SCAN_MAX ? len : UA_SCAN_MAX;
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) ua[i];

		s[i] = (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
	}

	/* a bare "Mozilla/5.0" names nothing: the viewport decides */
	if (n == 11 && memcmp(s, "mozilla/5.0", 11) == 0)
	{
		out->bot = false;
		return;
	}
	if (starts_with(s, n, "mozilla/5.0 ("))
		from = 13;
	else if (starts_with(s, n, "mozilla/"))
	{
		/* before 5.0 only Internet Explorer, checked below, is a browser */
		if (n < 12 || s[8] < '1' || s[8] > '4' || s[9] != '.' ||
			memchr(s + 10, '(', n - 10 < 4 ? n - 10 : 4) == NULL)
			return;
		old_mozilla = true;
	}
	else if (!starts_with(s, n, "opera/"))
		return;
	if (has_email(s, n))
		return;

	if (!idx.built)
		build_index();
	for (size_t i = from; i + 2 < n; i++)
	{
		unsigned	b = head_hash(s + i);

		for (unsigned k = idx.start[b]; k < idx.start[b + 1]; k++)
		{
			const Marker *m = &idx.all[idx.order[k]];

			if (m->text[0] != s[i] || m->text[1] != s[i + 1] ||
				m->len > n - i || memcmp(s + i, m->text, m->len) != 0 ||
				!check_ok(m, s, n, i))
				continue;
			if (m->flags & F_BOT)
				return;
			flags |= m->flags;
			if (m->browser < browser)
				browser = m->browser;
			if (m->os < os)
				os = m->os;
		}
	}
	if ((flags & F_COMPAT) && !(flags & F_COMPAT_OK))
		return;					/* "Mozilla/5.0 (compatible; Crawler/1.0)" */
	if (old_mozilla && !(flags & F_COMPAT_OK))
		return;
	if ((flags & F_DOMAIN) && browser >= BR_EDGE)
		return;

	out->bot = false;
	if (browser == BR_OTHER)
	{
		if ((flags & F_SAFARI) && (flags & F_VERSION))
			browser = BR_SAFARI;
		else if ((flags & F_WEBKIT) && (os == OS_IOS || os == OS_MACOS))
			browser = BR_SAFARI;	/* an app's WebKit view */
	}
	out->browser = browser_names[browser];
	out->os = os_names[os];

	out->device_from_ua = true;
	if (flags & F_TABLET)
		out->device = "tablet";
	else if (flags & F_MOBILE)
		out->device = "mobile";
	else if (os == OS_ANDROID)
		out->device = "tablet";
	else if (os != OS_OTHER)
		out->device = "desktop";
	else
		out->device_from_ua = false;	/* the viewport decides */
}
