/*
 * edgestat tracker: the readable source of dist/e.js (served at GET /e.js).
 *
 *   <script defer src="https://HOST/e.js" data-site="example.com"></script>
 *
 * The beacon's keys and limits are in docs/http.md; the identity rules are
 * in tracker-js/README.md ("Identity").
 * No cookies, no fingerprinting, no third-party requests: the only request
 * it makes is POST ${data-api}/e with a text/plain JSON body.
 *
 * Size matters (budget: 1.5 KB gzipped, see README.md): prefer short code
 * paths over generality, and let the minifier rename everything local.
 *
 * Two builds come from this file (scripts/build.mjs): dist/e.js, the core,
 * with EXT defined false, and dist/e.ext.js with EXT true, which adds the
 * outbound-link and file-download clicks (data-outbound, data-downloads).
 * They do not fit the core's budget, and most sites do not want them.
 */
(function (w, d) {
  var script = d.currentScript || d.querySelector('script[data-site]');
  var real = w.edgestat;
  // Loaded twice on one page: keep the first instance.
  if (!script || (real && real.es)) return;

  var attr = (k) => script.getAttribute('data-' + k);
  var on = (t, e, f) => t.addEventListener(e, f, { capture: true, passive: true });
  var now = Date.now;
  var nav = navigator;
  var loc = location;
  var site = attr('site');
  var api = (attr('api') || new URL(script.src).origin).replace(/\/+$/, '') + '/e';
  // Heartbeat every `hb` engaged seconds (data-heartbeat, default 15).
  var hb = Math.max(1, Math.round(attr('heartbeat')) || 15);
  var hashNav = attr('hash') != null;
  var IDLE = 30000; // no input for this long: not engaged; next click is a new "interaction"
  // data-exclude="/admin/*,/preview": globs over location.pathname, * = any run of characters.
  var exclude = (attr('exclude') || '').split(',').filter((g) => g.trim())
    .map((g) =>
      RegExp('^' + g.trim().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$'));
  var queued = (real && real.q) || [];

  // data-respect-dnt: honour Do Not Track and Global Privacy Control. Nothing
  // is stored and nothing is sent; edgestat() stays callable as a no-op.
  if (!site || (attr('respect-dnt') != null && (nav.doNotTrack == '1' || nav.globalPrivacyControl))) {
    w.edgestat = () => {};
    w.edgestat.es = 1;
    return;
  }

  var uuid = () => {
    var c = crypto;
    // randomUUID() needs a secure context; elsewhere build the same v4 UUID.
    return c.randomUUID ? c.randomUUID() : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (x) =>
      (x ^ (c.getRandomValues(new Uint8Array(1))[0] & (15 >> (x / 4)))).toString(16));
  };
  // Storage that may throw (blocked storage, some private modes): then the
  // ids live in memory only and the page view is still counted.
  // data-storage="none": no storage at all and no ids; the server derives
  // them from a daily salt (docs/compat.md).
  var none = attr('storage') == 'none';
  var load = (kind) => {
    try { return none || JSON.parse(w[kind].getItem('edgestat')); } catch (e) {}
  };
  var save = (kind, val) => {
    try { none || w[kind].setItem('edgestat', JSON.stringify(val)); } catch (e) {}
  };

  // Visitor: {v: uuid, t: created ms} in localStorage, renewed after 365 days.
  var visitor = load('localStorage');
  if (!visitor || !visitor.v || !(now() - visitor.t < 31536e6)) {
    save('localStorage', visitor = { v: none ? void 0 : uuid(), t: now() });
  }
  // Session: {s: uuid, e: engaged ms, i: interactions} in sessionStorage (per tab).
  var session = load('sessionStorage');
  if (!session || !session.s) session = { s: none ? void 0 : uuid(), e: 0, i: 0 };

  var q = 0;           // sequence within the page view
  var sd = 0;          // deepest scroll on this page view, percent
  var mark = 0;        // highest scroll milestone sent (25/50/75/100)
  var page;            // what identifies the current page view (path, + hash with data-hash)
  var skip;            // current page is excluded
  var lastAct = now(); // last sign of life (input, mouse, scroll, visibility)
  var lastInput = 0;   // last click/key/touch
  var tick = now();
  var ticks = 0;

  var send = (n, props, depth, rv) => {
    if (skip) return;
    deepest(); // the scroll event of a last-moment scroll may not have fired yet (leave)
    var body = {
      d: site, n: n, u: loc.href, v: visitor.v, s: session.s, q: q++,
      sd: depth || sd, et: Math.round(session.e), ic: session.i, w: innerWidth
    };
    if (n == 'pageview' && d.referrer) body.r = d.referrer;
    if (props) body.p = props;
    // Revenue of a goal (docs/analytics.md): only the two keys the server reads.
    if (rv) body.rv = { amount: rv.amount, currency: rv.currency };
    save('sessionStorage', session);
    body = JSON.stringify(body);
    // sendBeacon sends text/plain: a simple request, no CORS preflight.
    try { if (nav.sendBeacon(api, body)) return; } catch (e) {}
    try { fetch(api, { method: 'POST', body: body, keepalive: true, mode: 'no-cors', credentials: 'omit' }).catch(() => {}); } catch (e) {}
  };

  // Deepest scroll of this page view so far, in percent; a page that fits is 100.
  var deepest = () => {
    var x = Math.min(100, Math.round((scrollY + innerHeight) / d.documentElement.scrollHeight * 100)) || 0;
    return sd = x > sd ? x : sd;
  };

  var pageview = () => {
    var id = loc.pathname + (hashNav ? loc.hash : '');
    if (id == page) return; // replaceState/pushState to the same page
    page = id;
    skip = exclude.some((re) => re.test(loc.pathname));
    q = mark = sd = 0;
    send('pageview');
  };

  var active = () => { lastAct = now(); };

  // Scroll: one event per newly crossed milestone, carrying that milestone.
  on(w, 'scroll', () => {
    active();
    for (var x = mark + 25; x <= deepest(); x += 25) send('scroll', 0, mark = x);
  });

  // Input: count every click, tap or key press (pointerdown covers mouse, touch and
  // pen once each); the first after a quiet spell is an "interaction".
  ['pointerdown', 'keydown'].forEach((t) =>
    on(d, t, () => {
      var t0 = now();
      session.i++;
      if (t0 - lastInput > IDLE) send('interaction');
      lastInput = lastAct = t0;
    }));
  ['mousemove', 'wheel', 'visibilitychange'].forEach((t) => on(d, t, active));

  // Engaged time and heartbeats: counted only while visible and recently active.
  setInterval(() => {
    var t = now();
    if (!d.hidden && t - lastAct < IDLE) {
      session.e += Math.min(t - tick, 2000);
      if (++ticks % hb == 0) send('heartbeat');
    }
    tick = t;
  }, 1000);

  on(w, 'pagehide', () => send('leave'));

  if (EXT) {
    // data-outbound: a click on a link to another host is "Outbound Link: Click";
    // data-downloads[="pdf,zip"]: a click on a link whose path ends in one of
    // these extensions (default: the list below) is "File Download". Both carry
    // the link in props.url (cut to 256 chars). Plausible's names, so its goals
    // carry over. Middle clicks (auxclick) count too; a download wins over outbound.
    let outbound = attr('outbound') != null;
    let files = attr('downloads');
    files = files != null && RegExp('\\.(' + ((files || 'pdf,xlsx,xls,docx,doc,txt,rtf,csv,exe,key,pps,ppt,pptx,7z,pkg,rar,gz,zip,avi,mov,mp4,mpeg,mpg,wmv,midi,mid,mp3,wav,wma,dmg,iso,msi')
      .match(/\w+/g) || []).join('|') + ')$', 'i');
    ['click', 'auxclick'].forEach((t) =>
      on(d, t, (e) => {
        var a = e.target.closest && e.target.closest('a'), u = a && a.href;
        if (typeof u != 'string' || !u) return; // no link, or an SVG <a>
        u = { url: u.slice(0, 256) };
        if (files && files.test(a.pathname)) send('File Download', u);
        else if (outbound && /^https?:$/.test(a.protocol) && a.host != loc.host) send('Outbound Link: Click', u);
      }));
  }
  // Back/forward cache restore: a new page view of the same URL.
  on(w, 'pageshow', (e) => { if (e.persisted) { page = 0; pageview(); } });

  // Single-page apps: History API, and hash changes with data-hash.
  ['pushState', 'replaceState'].forEach((f) => {
    var orig = history[f];
    history[f] = function () {
      var r = orig.apply(this, arguments);
      pageview();
      return r;
    };
  });
  on(w, 'popstate', pageview);
  if (hashNav) on(w, 'hashchange', pageview);

  // Custom goals: edgestat(name, props, {revenue: {amount, currency}});
  // props: at most 16 keys, string values ≤ 256 chars.
  w.edgestat = (name, props, o) => {
    var p, k, i = 0;
    if (props) {
      p = {};
      for (k in props) if (i++ < 16) p[k] = String(props[k]).slice(0, 256);
    }
    send(String(name).slice(0, 64), p, 0, o && o.revenue);
  };
  w.edgestat.es = 1;

  pageview();
  // Calls made through the stub before this script loaded.
  queued.forEach((a) => w.edgestat.apply(0, a));
})(window, document);
