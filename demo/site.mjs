// The demo site: a few pages of a made-up product, each with the edgestat
// tracker snippet, served by a tiny node http server on 127.0.0.1.
//
//   const site = await startDemoSite({ port: 0, trackerOrigin: 'http://127.0.0.1:8080', domain: 'demo.test' });
//   site.origin; await site.stop();
import { createServer } from 'node:http';

const NAV = [['/', 'Home'], ['/features', 'Features'], ['/pricing', 'Pricing'], ['/blog', 'Blog'], ['/docs', 'Docs']];

const lorem = [
  'edgestat writes every beacon in the same PostgreSQL backend that parsed it: no application server, no queue, no second database.',
  'Reports read rollups maintained at ingest, so a dashboard over a year of traffic answers in milliseconds.',
  'Visitors are counted without cookies: a random id in localStorage, a random session id in sessionStorage, nothing else.',
  'The live map is fed by LISTEN/NOTIFY: a committed batch becomes a Server-Sent Event a few milliseconds later.',
  'Each visitor carries a value score between 0 and 100, a logistic model over engagement whose weights live in a table you can change.',
  'Geolocation happens at ingest from the client address, which is never stored.',
];
const para = (i) => `<p>${lorem[i % lorem.length]} ${lorem[(i + 2) % lorem.length]}</p>`;
const paras = (n, k = 0) => Array.from({ length: n }, (_, i) => para(i + k)).join('\n');

const PAGES = {
  '/': ['Analytics that live in your database', `<p class="lead">Drop one script tag in your pages; see visitors on a world map as they arrive.</p>
    <p><a class="btn" href="/signup">Start free</a> <a class="btn ghost" href="/features">How it works</a></p>${paras(6)}`],
  '/features': ['Features', `<ul class="cards"><li><b>Inside PostgreSQL</b>Beacons are committed by a background worker of the postmaster.</li>
    <li><b>Live</b>Server-Sent Events from LISTEN/NOTIFY, under 50 ms from commit to screen.</li>
    <li><b>Private</b>No cookies, no fingerprinting, no stored IP addresses.</li></ul>${paras(8, 1)}`],
  '/pricing': ['Pricing', `<ul class="cards"><li><b>Free</b>One site, 30 days of history.</li><li><b>Pro · $9</b>Ten sites, a year of history.</li>
    <li><b>Team · $29</b>Unlimited sites, SSO.</li></ul>
    <p><button class="btn" onclick="window.edgestat && edgestat('cta_click', {plan: 'pro'}); this.textContent='Thanks!'">Choose Pro</button></p>${paras(4, 2)}`],
  '/blog': ['Blog', `<ul class="posts"><li><a href="/blog/postgres-inside">Why we put the web server inside PostgreSQL</a></li>
    <li><a href="/blog/live-maps">Drawing live maps without a tile server</a></li>
    <li><a href="/blog/no-cookies">Counting visitors without cookies</a></li></ul>`],
  '/blog/postgres-inside': ['Why we put the web server inside PostgreSQL', paras(16, 3)],
  '/blog/live-maps': ['Drawing live maps without a tile server', paras(12, 4)],
  '/blog/no-cookies': ['Counting visitors without cookies', paras(10, 5)],
  '/docs': ['Documentation', `<ul class="posts"><li><a href="/docs/install">Install</a></li><li><a href="/docs/api">SQL API</a></li></ul>${paras(3)}`],
  '/docs/install': ['Install', `<pre>make &amp;&amp; make install
shared_preload_libraries = 'edgestat'
CREATE EXTENSION edgestat;
SELECT edgestat.add_site('example.com');</pre>
    <p><button class="btn ghost" onclick="window.edgestat && edgestat('copy_snippet'); this.textContent='Copied'">Copy snippet</button></p>${paras(8, 1)}`],
  '/docs/api': ['SQL API', `<pre>SELECT * FROM edgestat.summary('example.com', now() - interval '7 days', now());</pre>${paras(9, 2)}`],
  '/signup': ['Create your account', `<form onsubmit="event.preventDefault(); window.edgestat && edgestat('signup', {plan: this.plan.value}); this.innerHTML='<p>Welcome aboard!</p>'">
    <label>Email <input type="email" name="email" placeholder="you@example.com" required></label>
    <label>Plan <select name="plan"><option>free</option><option>pro</option><option>team</option></select></label>
    <button class="btn">Sign up</button></form>`],
};

function page(path, title, body, trackerOrigin, domain) {
  const nav = NAV.map(([h, t]) => `<a href="${h}"${h === path ? ' class="on"' : ''}>${t}</a>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Acme Analytics (edgestat demo)</title>
<link rel="icon" href="data:,">
<script defer src="${trackerOrigin}/e.js" data-site="${domain}"></script>
<style>
body{margin:0;font:16px/1.6 system-ui,sans-serif;color:#1d2433;background:#fafbfc}
header{display:flex;gap:24px;align-items:center;padding:14px 32px;background:#fff;border-bottom:1px solid #e6e9ef;position:sticky;top:0}
header b{font-size:18px;margin-right:16px}header a{color:#4a5570;text-decoration:none}header a.on{color:#1d2433;font-weight:600}
main{max-width:760px;margin:40px auto;padding:0 24px}h1{font-size:34px;line-height:1.2}.lead{font-size:20px;color:#4a5570}
.btn{display:inline-block;background:#2563eb;color:#fff;border:0;border-radius:8px;padding:10px 18px;font:inherit;text-decoration:none;cursor:pointer}
.btn.ghost{background:#e8eefc;color:#2563eb}.cards{list-style:none;padding:0;display:grid;grid-template-columns:repeat(3,1fr);gap:12px}
.cards li{background:#fff;border:1px solid #e6e9ef;border-radius:10px;padding:14px}.cards b{display:block}
pre{background:#0f172a;color:#e2e8f0;padding:14px;border-radius:8px;overflow:auto}
label{display:block;margin:10px 0}input,select{font:inherit;padding:6px 8px;margin-left:8px}
footer{color:#8a93a8;text-align:center;padding:40px}
</style></head>
<body><header><b>Acme Analytics</b>${nav}<a href="/signup">Sign up</a></header>
<main><h1>${title}</h1>${body}</main>
<footer>A demo site for edgestat: every page view, scroll and click here is a beacon committed inside PostgreSQL.</footer>
</body></html>`;
}

export async function startDemoSite({ port = 0, trackerOrigin, domain = 'demo.test' }) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname.replace(/\/+$/, '') || '/';
    const p = PAGES[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (!p) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' })
        .end(page(path, 'Not found', '<p><a href="/">Back home</a></p>', trackerOrigin, domain));
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(page(path, p[0], p[1], trackerOrigin, domain));
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = server.address().port;
  return {
    port: actual,
    origin: `http://127.0.0.1:${actual}`,
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
