// Plausible's official tracker (@plausible-analytics/tracker, in Chromium)
// and Umami's Node client (@umami/node) against edgestat's worker, with
// nothing changed but the endpoint: the rows they leave in PostgreSQL.
// docs/compat.md.  Run as root after `make install` (test/js/README.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Umami } from '@umami/node';
import { startCluster, startPageServer, launchChromium, DESKTOP_UA, waitFor } from '../js/index.mjs';

// the package's own file, as a site's bundler would take it
const plausibleJs = readFileSync(fileURLToPath(import.meta.resolve('@plausible-analytics/tracker')), 'utf8');

let pg, site, browser;
const routes = {
  '/plausible.js': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }).end(plausibleJs);
  },
};

before(async () => {
  site = await startPageServer(routes, { fallback: '/' });
  pg = await startCluster({ settings: { 'edgestat.rate_limit': 0 } });
  await pg.psql(`SELECT edgestat.add_site('compat.test', ARRAY['${site.origin}'])`);
  await pg.psql(`SELECT edgestat.add_site('umami.test')`);
  // A long page, so that scroll depth means something; the tracker as a
  // site bundles it, pointed at the worker.
  routes['/'] = `<!doctype html><html><head><title>compat</title></head>
<body style="margin:0"><div style="height:4000px">tall</div>
<script type="module">
  import { init, track } from '/plausible.js';
  init({ domain: 'compat.test', endpoint: '${pg.baseUrl}/api/event', captureOnLocalhost: true });
  window.trackAndWait = (name, opts = {}) =>
    new Promise((resolve) => track(name, { ...opts, callback: (r) => resolve(r && r.status) }));
  window.ready = true;
</script></body></html>`;
  browser = await launchChromium(chromium);
});

after(async () => {
  await browser?.close();
  await site?.stop();
  await pg?.stop();
});

const siteEvents = (domain, cols) =>
  pg.query(`SELECT ${cols} FROM edgestat.events e JOIN edgestat.sites s USING (site_id)
            WHERE s.domain = '${domain}' ORDER BY e.ts, e.seq`);

test('Plausible tracker: pageview, props, revenue, non-interactive, engagement, one session, no storage', async (t) => {
  const ctx = await browser.newContext({ userAgent: DESKTOP_UA });
  const page = await ctx.newPage();
  await page.goto(site.url('/'));
  await page.waitForFunction(() => window.ready === true);
  await waitFor(async () => (await siteEvents('compat.test', 'name')).some((r) => r.name === 'pageview'),
    { message: 'the automatic pageview' });

  assert.equal(await page.evaluate(() => window.trackAndWait('Signup', { props: { plan: 'pro', seats: 3 } })), 202,
    'custom event with props: 202 after commit');
  assert.equal(await page.evaluate(() => window.trackAndWait('Purchase', { revenue: { amount: 15.99, currency: 'USD' } })), 202,
    'revenue: 202');
  assert.equal(await page.evaluate(() => window.trackAndWait('Autoplay', { interactive: false })), 202,
    'non-interactive: 202');
  // 202 means committed: the rows are there now, no waiting
  const names = (await siteEvents('compat.test', 'name')).map((r) => r.name);
  assert.deepEqual(names.filter((n) => n !== 'heartbeat'), ['pageview', 'Signup', 'Purchase', 'Autoplay']);

  // scroll to the bottom, then an SPA navigation: the tracker reports the
  // engagement of the page it leaves, then the new pageview
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.waitForTimeout(200);
  await page.evaluate(() => history.pushState({}, '', '/next'));
  const rows = await waitFor(async () => {
    const r = await siteEvents('compat.test', 'name, path, scroll, engaged_ms, interactions, props, visitor_id, session_id');
    return r.some((x) => x.path === '/next') && r.some((x) => x.name === 'heartbeat') && r;
  }, { message: 'the engagement and the second pageview' });

  const beat = rows.find((r) => r.name === 'heartbeat');
  assert.equal(beat.path, '/');
  assert.ok(beat.scroll >= 90, `engagement scroll depth ${beat.scroll}`);
  assert.ok(beat.engaged_ms > 0, `engagement time ${beat.engaged_ms}`);
  const signup = rows.find((r) => r.name === 'Signup');
  assert.deepEqual(signup.props, { plan: 'pro', seats: '3' });
  assert.equal(signup.interactions, 1, 'an interactive event counts as an interaction');
  assert.equal(rows.find((r) => r.name === 'Autoplay').interactions, null, 'a non-interactive one does not');
  assert.equal(new Set(rows.map((r) => r.visitor_id)).size, 1, 'one visitor');
  assert.equal(new Set(rows.map((r) => r.session_id)).size, 1, 'one session');

  const [sess] = await pg.query(`SELECT pageviews, goals, max_scroll FROM edgestat.sessions s
                                 JOIN edgestat.sites USING (site_id) WHERE domain = 'compat.test'`);
  assert.equal(sess.pageviews, 2);
  assert.equal(sess.goals, 3);
  assert.ok(sess.max_scroll >= 90);

  // the beacon parser checks "rv" (a bad one is a 400, so the 202 above
  // says it passed); the amount is asserted where the writer stores it
  const [hasRevenue] = await pg.query(`SELECT count(*) > 0 AS yes FROM pg_attribute
    WHERE attrelid = 'edgestat.events'::regclass AND attname = 'revenue' AND NOT attisdropped`);
  if (hasRevenue.yes) {
    const [rv] = await pg.query(`SELECT revenue::text AS amount, currency FROM edgestat.events WHERE name = 'Purchase'`);
    if (rv.amount !== null) assert.deepEqual(rv, { amount: '15.99', currency: 'USD' });
    else t.diagnostic('events.revenue exists but the writer does not store "rv" yet');
  }

  const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
  assert.deepEqual(storage, { local: 0, session: 0, cookie: '' }, 'nothing stored in the browser');
  assert.deepEqual(await ctx.cookies(), []);
  await ctx.close();
});

test('@umami/node: pageview and event to /api/send, 200 with a JSON object', async () => {
  const websiteId = await pg.psql(`SELECT public_id FROM edgestat.sites WHERE domain = 'umami.test'`);
  const umami = new Umami({ websiteId, hostUrl: pg.baseUrl, userAgent: DESKTOP_UA });

  let res = await umami.track({
    hostname: 'umami.test', url: '/pricing?utm_source=mail', title: 'Pricing',
    referrer: 'https://news.example/story', language: 'en-US', screen: '1440x900',
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.match(body.sessionId, /^[0-9a-f-]{36}$/);

  res = await umami.track('signup', { plan: 'team', seats: 5 });
  assert.equal(res.status, 200);
  res = await umami.identify({ plan: 'team' });
  assert.equal(res.status, 200, 'identify is answered, nothing stored');

  const rows = await siteEvents('umami.test', 'name, path, referrer_host, utm_source, viewport, props, session_id');
  assert.equal(rows.length, 2, '200 means committed');
  assert.deepEqual(rows.map((r) => [r.name, r.path]), [['pageview', '/pricing'], ['signup', '/']]);
  assert.equal(rows[0].referrer_host, 'news.example');
  assert.equal(rows[0].utm_source, 'mail');
  assert.equal(rows[0].viewport, 1440);
  assert.deepEqual(rows[1].props, { plan: 'team', seats: '5' });
  assert.equal(rows[0].session_id, body.sessionId, 'the answer names the session');
  assert.equal(rows[1].session_id, rows[0].session_id, 'one session');

  res = await new Umami({ websiteId: '00000000-0000-4000-8000-000000000000', hostUrl: pg.baseUrl, userAgent: DESKTOP_UA })
    .track({ hostname: 'umami.test', url: '/' });
  assert.equal(res.status, 404, 'unknown website');
});
