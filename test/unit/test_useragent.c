/*
 * test_useragent.c
 *	  The User-Agent classifier over real User-Agent strings.
 */
#include <stdio.h>

#include "useragent.h"
#include "unit.h"

typedef struct UaCase
{
	const char *ua;
	bool		bot;
	const char *browser;
	const char *os;
	const char *device;
} UaCase;

#define BOT(ua) {ua, true, "Other", "Other", "desktop"}

static const UaCase cases[] = {
	/* desktop */
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	false, "Chrome", "Windows", "desktop"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	false, "Chrome", "macOS", "desktop"},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	false, "Chrome", "Linux", "desktop"},
	{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	false, "Chrome", "ChromeOS", "desktop"},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/37.0.2062.94 Chrome/37.0.2062.94 Safari/537.36",
	false, "Chrome", "Linux", "desktop"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
	false, "Firefox", "Windows", "desktop"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
	false, "Firefox", "macOS", "desktop"},
	{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
	false, "Firefox", "Linux", "desktop"},
	{"Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
	false, "Firefox", "Linux", "desktop"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
	false, "Safari", "macOS", "desktop"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
	false, "Edge", "Windows", "desktop"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
	false, "Edge", "macOS", "desktop"},
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0",
	false, "Edge", "Linux", "desktop"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582",
	false, "Edge", "Windows", "desktop"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
	false, "Opera", "Windows", "desktop"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
	false, "Opera", "macOS", "desktop"},
	{"Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18",
	false, "Opera", "Windows", "desktop"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 YaBrowser/23.11.0.0 Safari/537.36",
	false, "Yandex", "Windows", "desktop"},
	{"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
	false, "Internet Explorer", "Windows", "desktop"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Vivaldi/6.5.3206.48",
	false, "Chrome", "Windows", "desktop"},

	/* iOS */
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
	false, "Safari", "iOS", "mobile"},
	{"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
	false, "Safari", "iOS", "tablet"},
	/* iPadOS asks for desktop sites with a Mac's User-Agent */
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
	false, "Safari", "macOS", "desktop"},
	{"Mozilla/5.0 (iPod touch; CPU iPhone OS 12_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1",
	false, "Safari", "iOS", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
	false, "Chrome", "iOS", "mobile"},
	{"Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
	false, "Chrome", "iOS", "tablet"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
	false, "Firefox", "iOS", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/120.2210.150 Mobile/15E148 Safari/605.1.15",
	false, "Edge", "iOS", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 OPiOS/16.0.14.122053 Mobile/15E148 Safari/9537.53",
	false, "Opera", "iOS", "mobile"},

	/* Android */
	{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
	false, "Chrome", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
	false, "Chrome", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	false, "Chrome", "Android", "tablet"},
	{"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
	false, "Samsung Internet", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X906B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/22.0 Chrome/111.0.5563.116 Safari/537.36",
	false, "Samsung Internet", "Android", "tablet"},
	{"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
	false, "Firefox", "Android", "mobile"},
	{"Mozilla/5.0 (Android 13; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0",
	false, "Firefox", "Android", "tablet"},
	{"Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 OPR/79.0.4195.76497",
	false, "Opera", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.2210.84",
	false, "Edge", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; U; Android 10; en-US; RMX1911 Build/QKQ1.200209.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/13.4.0.1306 Mobile Safari/537.36",
	false, "UC Browser", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; arm_64; Android 12; SM-G991B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.5993.112 YaBrowser/23.11.1.88.00 SA/3 Mobile Safari/537.36",
	false, "Yandex", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.3.1 like Chrome/120.0.6099.230 Safari/537.36",
	false, "Chrome", "Android", "tablet"},
	{"Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36",
	false, "Chrome", "Android", "mobile"},
	/* the phone brand Cubot is not a bot */
	{"Mozilla/5.0 (Linux; Android 9; CUBOT_X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/117.0.0.0 Mobile Safari/537.36",
	false, "Chrome", "Android", "mobile"},
	{"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
	false, "Edge", "Windows", "mobile"},
	{"Mozilla/5.0 (Mobile; Nokia_8110_4G; rv:48.0) Gecko/48.0 Firefox/48.0 KAIOS/2.5",
	false, "Firefox", "Other", "mobile"},

	/* in-app browsers */
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1.2;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
	false, "Facebook", "iOS", "mobile"},
	{"Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/444.0.0.0.110;]",
	false, "Facebook", "Android", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 309.1.0.28.110 (iPhone13,2; iOS 17_1; en_US; en; scale=3.00; 1170x2532; 541635890)",
	false, "Instagram", "iOS", "mobile"},
	{"Mozilla/5.0 (Linux; Android 12; SM-A525F Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.193 Mobile Safari/537.36 Instagram 310.0.0.37.328 Android (31/12; 450dpi; 1080x2190; samsung; SM-A525F; a52q; qcom; en_US; 541635890)",
	false, "Instagram", "Android", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 musical_ly_32.5.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/en Region/US ByteFullLocale/en RevealType/Dialog isDarkMode/0 WKWebView/1 BytedanceWebview/d8a21c6",
	false, "TikTok", "iOS", "mobile"},
	{"Mozilla/5.0 (Linux; Android 12; SM-G973F Build/SP1A.210812.016; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 trill_310503 JsSdk/1.0 NetType/WIFI Channel/googleplay AppName/musical_ly app_version/31.5.3 ByteLocale/en ByteFullLocale/en Region/US BytedanceWebview/d8a21c6",
	false, "TikTok", "Android", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x1800282a) NetType/WIFI Language/zh_CN",
	false, "WeChat", "iOS", "mobile"},
	{"Mozilla/5.0 (Linux; Android 12; V2134A Build/SP1A.210812.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20230405 MMWEBID/1234 MicroMessenger/8.0.35.2360(0x2800233D) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64",
	false, "WeChat", "Android", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.6590",
	false, "LinkedIn", "iOS", "mobile"},
	/* the Google Search app: no "Version/", but it names itself */
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/292.0.574844035 Mobile/15E148 Safari/604.1",
	false, "Google App", "iOS", "mobile"},
	{"Mozilla/5.0 (iPad; CPU OS 18_6_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/439.4.980558000 Mobile/15E148 Safari/604.1",
	false, "Google App", "iOS", "tablet"},
	/* an app's WebKit view names no browser and has no "Safari/": Safari */
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	false, "Safari", "iOS", "mobile"},
	{"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	false, "Safari", "iOS", "tablet"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
	false, "Safari", "macOS", "desktop"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.6 Mobile/15E148 Safari/604.1 Ddg/26.6",
	false, "DuckDuckGo", "iOS", "mobile"},
	{"Mozilla/5.0 (Linux; Android 17) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/153.0.0.0 Mobile DuckDuckGo/5 Safari/537.36",
	false, "DuckDuckGo", "Android", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.6.1 Mobile/15E148 Snapchat/14.25.0.48 (like Safari/8624.5.1.10.3, panda)",
	false, "Snapchat", "iOS", "mobile"},
	/* an e-mail-like version and a package name are not contact addresses */
	{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/150.0.0.0 Mobile Safari/537.36 (Ecosia android@150.0.0.0)",
	false, "Ecosia", "Android", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 YJApp-IOS jp.co.yahoo.ipn.appli/4.52.0",
	false, "Safari", "iOS", "mobile"},
	/* a carrier that looks like a domain, in Facebook's browser */
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.1.2;FBSS/3;FBCR/Vodafone.de;FBID/phone;FBLC/de_DE;FBOP/5]",
	false, "Facebook", "iOS", "mobile"},
	/* apps and devices whose words look like a bot's, but are people's */
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Twitter for iPhone/10.17",
	false, "Safari", "iOS", "mobile"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 NAVER(inapp; search; 2000; 12.1.5; 14PROMAX)",
	false, "Safari", "iOS", "mobile"},
	{"Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.193 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/444.0.0.33.118;FBDM/{density=3.0,width=1080,height=2340};FBLC/de_DE;FBRV/0;FBCR/Telekom.de;FBMF/samsung;FBBD/samsung;FBPN/com.facebook.katana;FBDV/SM-S918B;FBSV/14;FBOP/1;FBCA/arm64-v8a:;]",
	false, "Facebook", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36 [Pinterest/Android]",
	false, "Chrome", "Android", "mobile"},
	{"Mozilla/5.0 (Linux; Android 13; SM-S911N Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36;KAKAOTALK 2410420",
	false, "Chrome", "Android", "mobile"},
	{"Mozilla/5.0 (Windows; U; Windows NT 10.0; en-US; Valve Steam Client/default/1700000000; ) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.183 Safari/537.36",
	false, "Chrome", "Windows", "desktop"},
	{"Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15",
	false, "Safari", "Other", "desktop"},
	{"Mozilla/5.0 (compatible; Konqueror/4.5; Linux) KHTML/4.5.5 (like Gecko)",
	false, "Other", "Linux", "desktop"},
	/* Electron apps are people's desktop apps */
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) obsidian/1.11.7 Chrome/142.0.7444.265 Electron/39.5.1 Safari/537.36",
	false, "Chrome", "Windows", "desktop"},
	{"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
	false, "Internet Explorer", "Windows", "desktop"},

	/* crawlers, monitors, tools, libraries */
	BOT("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
	BOT("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
	BOT("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
	BOT("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)"),
	BOT("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"),
	BOT("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"),
	BOT("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"),
	BOT("Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)"),
	BOT("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"),
	BOT("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"),
	BOT("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)"),
	BOT("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"),
	BOT("CCBot/2.0 (https://commoncrawl.org/faq/)"),
	BOT("Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)"),
	BOT("Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)"),
	BOT("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
	BOT("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko; compatible; Google-InspectionTool/1.0)"),
	BOT("curl/8.4.0"),
	BOT("Wget/1.21.3"),
	BOT("python-requests/2.31.0"),
	BOT("Python-urllib/3.11"),
	BOT("Go-http-client/1.1"),
	BOT("Java/17.0.9"),
	BOT("okhttp/4.12.0"),
	BOT("axios/1.6.2"),
	BOT("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"),
	BOT("Apache-HttpClient/4.5.14 (Java/17.0.9)"),
	BOT("PostmanRuntime/7.36.0"),
	BOT("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36"),
	BOT("Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse"),
	BOT("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1"),
	BOT("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)"),
	BOT("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"),
	BOT("WhatsApp/2.23.20.0 A"),
	/* what the old rules let through */
	BOT("GoogleOther"),
	BOT("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 Mobile Safari/537.36 (compatible; GoogleOther)"),
	BOT("httpunit/1.x"),
	BOT("Mozilla/2.0 (compatible; Ask Jeeves/Teoma; +http://about.ask.com/en/docs/about/webmasters.shtml)"),
	BOT("GigablastOpenSource/1.0"),
	BOT("BIGLOTRON (Beta 2;GNU/Linux)"),
	BOT("findlinks/1.1.6-beta1 (+http://wortschatz.uni-leipzig.de/findlinks/)"),
	BOT("Mozilla/4.5 (compatible; HTTrack 3.0x; Windows 98)"),
	BOT("Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0; AppInsights)"),
	BOT("Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b"),
	BOT("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; Google Web Preview) Chrome/27.0.1453 Safari/537.36"),
	BOT("Mozilla/5.0 AppleWebKit/537.36 Chrome/139.0.7258.127 Safari/537.36 Google-Ads-Conversions"),
	BOT("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Playwright/1.40.0"),
	BOT("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.0 Safari/537.36 Criticalcss.com/2.0.0"),
	BOT("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:103.0) Gecko/20100101 Firefox/103.0 abuse.xmco.fr"),
	BOT("Mozilla/5.0 (compatible; SomeCrawler/1.0; mailto:crawler@example.org)"),
	BOT("Mozilla/5.0/Firefox/42.0 - nbertaupete95(at)gmail.com"),
	BOT("Mozilla/5.0 zgrab/0.x"),
	BOT("Mozilla/4.0"),
	BOT("Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)"),
	BOT(""),
};

static void
test_table(void)
{
	int			bots = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const UaCase *c = &cases[i];
		EsUserAgent ua;

		es_classify_user_agent(c->ua, strlen(c->ua), 0, &ua);
		CHECKF(ua.bot == c->bot && strcmp(ua.browser, c->browser) == 0 &&
			   strcmp(ua.os, c->os) == 0 && strcmp(ua.device, c->device) == 0,
			   "%s: got %s/%s/%s/%s, want %s/%s/%s/%s", c->ua,
			   ua.bot ? "bot" : "human", ua.browser, ua.os, ua.device,
			   c->bot ? "bot" : "human", c->browser, c->os, c->device);
		bots += c->bot;
	}
	CHECKF(sizeof(cases) / sizeof(cases[0]) >= 50 + 12 && bots >= 12,
		   "the table has too few cases");
}

static void
test_viewport(void)
{
	static const char *const vague[] = {"", "Mozilla/5.0", "SomeBrowser/1.0 (Unknown)"};
	static const struct
	{
		int			width;
		const char *device;
	}			widths[] = {
		{0, "desktop"}, {-5, "desktop"}, {1, "mobile"}, {375, "mobile"},
		{767, "mobile"}, {768, "tablet"}, {1023, "tablet"}, {1024, "desktop"},
		{100000, "desktop"},
	};
	const char *win = cases[0].ua;
	const char *iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1";
	EsUserAgent ua;

	/* when the User-Agent says nothing, the viewport decides */
	for (size_t v = 0; v < sizeof(vague) / sizeof(vague[0]); v++)
	{
		for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++)
		{
			es_classify_user_agent(vague[v], strlen(vague[v]), widths[i].width, &ua);
			CHECKF(strcmp(ua.device, widths[i].device) == 0 &&
				   strcmp(ua.os, "Other") == 0,
				   "\"%s\" at %d: %s", vague[v], widths[i].width, ua.device);
		}
	}
	es_classify_user_agent("Mozilla/5.0", 11, 375, &ua);
	CHECK(!ua.bot && !ua.device_from_ua);
	CHECK_STR(es_device_from_width(375), "mobile");
	CHECK_STR(es_device_from_width(800), "tablet");
	CHECK_STR(es_device_from_width(1400), "desktop");
	CHECK_STR(es_device_from_width(0), "desktop");
	es_classify_user_agent(NULL, 0, 375, &ua);
	CHECK(ua.bot && strcmp(ua.device, "mobile") == 0);

	/* ... and not when it is decisive */
	es_classify_user_agent(win, strlen(win), 375, &ua);
	CHECK_STR(ua.device, "desktop");
	CHECK(ua.device_from_ua);
	es_classify_user_agent(iphone, strlen(iphone), 1400, &ua);
	CHECK_STR(ua.device, "mobile");
	CHECK(ua.device_from_ua);

	/* the length bounds the scan: no NUL needed, nothing read past it */
	es_classify_user_agent("Mozilla/5.0 (Windows NT 10.0) Firefox/121.0 curl/8.4.0", 43, 0, &ua);
	CHECK(!ua.bot && strcmp(ua.browser, "Firefox") == 0);
	es_classify_user_agent("Mozilla/5.0 curl/8", 11, 0, &ua);
	CHECK(!ua.bot);

	/* a huge User-Agent is classified on its head */
	{
		static char huge[20000];

		memset(huge, 'x', sizeof(huge));
		memcpy(huge, win, strlen(win));
		memcpy(huge + sizeof(huge) - 4, "bot", 3);
		es_classify_user_agent(huge, sizeof(huge), 0, &ua);
		CHECK(!ua.bot && strcmp(ua.browser, "Chrome") == 0);
	}
}

void
test_useragent(void)
{
	test_table();
	test_viewport();
}
