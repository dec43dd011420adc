// End to end: the tracker as installed by `make install` and served by the
// worker at GET /e.js, in headless Chromium, against a throwaway cluster;
// every assertion is on rows in PostgreSQL (edgestat.events, sessions, visitors).
//
// Needs root, `make && make install` done, and chromium installed.
// The browser context uses a desktop Chrome User-Agent: the worker drops
// "HeadlessChrome" as a bot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startCluster, waitFor } from '../../test/js/cluster.mjs';
import { startPageServer } from '../../test/js/pages.mjs';
import { launch, page, STUB, UUID, DESKTOP_UA, scrollToDepth } from './helpers.mjs';

const SITE = 'example.test';
let pg, srv, browser;
const routes = {};

before(async () => {
  srv = await startPageServer(routes, { fallback: '/__default' });
  pg = await startCluster();
  routes['/__default'] = page({ src: `${pg.baseUrl}/e.js`, attrs: { site: SITE } });
  await pg.psql(`SELECT edgestat.add_site('${SITE}', ARRAY['${srv.origin}'])`);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await srv?.stop();
  await pg?.stop();
});

/** Register a tracked page at `path` (extra options as in helpers.page()). */
function addPage(path, opts = {}) {
  routes[path] = page({ src: `${pg.baseUrl}/e.js`, ...opts, attrs: { site: SITE, ...opts.attrs } });
}
const lit = (s) => `'${String(s).replace(/'/g, "''")}'`;
/** Events whose path is `path` (optionally of event name `name`), oldest first. */
const events = (path, name) =>
  pg.query(`SELECT name, path, visitor_id, session_id, referrer_host, utm_source, utm_medium, utm_campaign,
              seq, scroll, engaged_ms, interactions, viewport, browser, os, device, props
            FROM edgestat.events WHERE path = ${lit(path)}${name ? ` AND name = ${lit(name)}` : ''}
            ORDER BY ts, seq`);
/** Poll until at least `count` such events are stored; returns them. */
const waitEvents = (path, name, count = 1, timeout = 15000) =>
  waitFor(async () => { const r = await events(path, name); return r.length >= count && r; },
    { timeout, interval: 150, message: `${count} × ${name || 'any'} event(s) on ${path}` });
const stat = async (name) => Number(await pg.psql(`SELECT value FROM edgestat.stats() WHERE name = ${lit(name)}`));
const newContext = (o = {}) => browser.newContext({ userAgent: DESKTOP_UA, viewport: { width: 1280, height: 720 }, ...o });

test('pageview: a row with its path (no query), referrer host and utm_* ', async () => {
  addPage('/pv/landing');
  const ctx = await newContext();
  const p = await ctx.newPage();
  await p.goto(srv.url('/pv/landing?utm_source=newsletter&utm_medium=email&utm_campaign=spring&x=1'),
    { referer: 'https://news.example.org/story/1' });
  const [row] = await waitEvents('/pv/landing', 'pageview');
  assert.equal(row.path, '/pv/landing');
  assert.equal(row.referrer_host, 'news.example.org');
  assert.equal(row.utm_source, 'newsletter');
  assert.equal(row.utm_medium, 'email');
  assert.equal(row.utm_campaign, 'spring');
  assert.equal(row.seq, 0);
  assert.equal(row.viewport, 1280);
  assert.match(row.browser ?? '', /chrome/i);
  const ids = await p.evaluate(() => [localStorage, sessionStorage].map((s) => JSON.parse(s.getItem('edgestat'))));
  assert.equal(row.visitor_id, ids[0].v);
  assert.equal(row.session_id, ids[1].s);
  const [sess] = await pg.query(`SELECT entry_page, referrer_host, pageviews FROM edgestat.sessions WHERE session_id = ${lit(row.session_id)}`);
  assert.deepEqual(sess, { entry_page: '/pv/landing', referrer_host: 'news.example.org', pageviews: 1 });
  await ctx.close();
});

test('single-page-app navigation (pushState) stores a pageview of the new path in the same session', async () => {
  addPage('/spa/one');
  const ctx = await newContext();
  const p = await ctx.newPage();
  await p.goto(srv.url('/spa/one'));
  const [first] = await waitEvents('/spa/one', 'pageview');
  await p.evaluate(() => history.pushState({}, '', '/spa/two?tab=2'));
  const [second] = await waitEvents('/spa/two', 'pageview');
  assert.equal(second.session_id, first.session_id);
  assert.equal(second.visitor_id, first.visitor_id);
  assert.equal(second.seq, 0);
  await ctx.close();
});

test('scroll milestones: rows with scroll 25, 50, 75, 100', async () => {
  addPage('/scroll/tall', { tall: true });
  const ctx = await newContext();
  const p = await ctx.newPage();
  await p.goto(srv.url('/scroll/tall'));
  await waitEvents('/scroll/tall', 'pageview');
  for (const pct of [20, 35, 60, 90, 100]) {
    await scrollToDepth(p, pct);
    await p.waitForTimeout(30); // let each scroll event fire on its own
  }
  const rows = await waitEvents('/scroll/tall', 'scroll', 4);
  assert.deepEqual(rows.map((r) => r.scroll).sort((a, b) => a - b), [25, 50, 75, 100]);
  const [sess] = await pg.query(`SELECT max_scroll FROM edgestat.sessions WHERE session_id = ${lit(rows[0].session_id)}`);
  assert.equal(sess.max_scroll, 100);
  await ctx.close();
});

test('heartbeats at data-heartbeat=1 while active, engaged_ms growing', async () => {
  addPage('/hb/page', { attrs: { heartbeat: 1 } });
  const ctx = await newContext();
  const p = await ctx.newPage();
  await p.goto(srv.url('/hb/page'));
  await p.click('#btn');
  let i = 0;
  const rows = await waitFor(async () => {
    await p.mouse.move(10 + (i++ % 50), 20); // simulated activity
    const r = await events('/hb/page', 'heartbeat');
    return r.length >= 3 && r;
  }, { timeout: 20000, interval: 250, message: '3 heartbeats' });
  const ms = rows.map((r) => Number(r.engaged_ms)).sort((a, b) => a - b);
  assert.ok(ms[0] >= 1000, `engaged_ms ${ms}`);
  assert.ok(ms[2] > ms[0], `engaged_ms ${ms}`);
  const [ia] = await events('/hb/page', 'interaction');
  assert.equal(Number(ia.interactions), 1);
  // On a loaded machine the click may come after the first 1 s heartbeat:
  // the heartbeats after the interaction carry it, those before do not.
  const shown = JSON.stringify(rows.map((r) => [r.seq, r.interactions, r.engaged_ms]));
  assert.ok(rows.filter((r) => r.seq > ia.seq).length >= 1, shown);
  assert.ok(rows.every((r) => Number(r.interactions) === (r.seq > ia.seq ? 1 : 0)), shown);
  await ctx.close();
});

test('leave: on navigating away and on closing the tab', async () => {
  addPage('/leave/first', { tall: true });
  addPage('/leave/second');
  const ctx = await newContext();
  const p = await ctx.newPage();
  await p.goto(srv.url('/leave/first'));
  await waitEvents('/leave/first', 'pageview');
  await scrollToDepth(p, 60);
  await p.goto(srv.url('/leave/second'));
  const [lv] = await waitEvents('/leave/first', 'leave');
  assert.equal(lv.scroll, 60);
  await waitEvents('/leave/second', 'pageview');
  await p.close({ runBeforeUnload: true });
  const [lv2] = await waitEvents('/leave/second', 'leave');
  assert.equal(lv2.session_id, lv.session_id);
  await ctx.close();
});

test('custom goal with props, including a call queued by the stub before the script loaded', async () => {
  addPage('/goal/page', { before: `${STUB};edgestat('signup',{plan:'pro',seats:3})` });
  const ctx = await newContext();
  const p = await ctx.newPage();
  await p.goto(srv.url('/goal/page'));
  const [g] = await waitEvents('/goal/page', 'signup');
  assert.deepEqual(g.props, { plan: 'pro', seats: '3' });
  assert.equal(g.seq, 1);
  await p.evaluate(() => edgestat('download', { file: 'report.pdf' }));
  const [d] = await waitEvents('/goal/page', 'download');
  assert.deepEqual(d.props, { file: 'report.pdf' });
  const [v] = await pg.query(`SELECT goals FROM edgestat.visitors WHERE visitor_id = ${lit(g.visitor_id)}`);
  assert.equal(v.goals, 2);
  await ctx.close();
});

test('visitor_id kept across reloads and tabs; session_id per tab', async () => {
  for (const x of ['a', 'b', 'c']) addPage(`/id/${x}`);
  const ctx = await newContext();
  const p1 = await ctx.newPage();
  await p1.goto(srv.url('/id/a'));
  const [a] = await waitEvents('/id/a', 'pageview');
  assert.match(a.visitor_id, UUID);
  assert.match(a.session_id, UUID);
  await p1.reload(); // its pageview repeats q=0 within 5 s: deduplicated; a goal shows the ids
  await p1.evaluate(() => edgestat('after_reload'));
  const [r] = await waitEvents('/id/a', 'after_reload');
  await p1.goto(srv.url('/id/b'));
  const [b] = await waitEvents('/id/b', 'pageview');
  const p2 = await ctx.newPage();
  await p2.goto(srv.url('/id/c'));
  const [c] = await waitEvents('/id/c', 'pageview');
  assert.equal(r.visitor_id, a.visitor_id);
  assert.equal(r.session_id, a.session_id);
  assert.equal(b.visitor_id, a.visitor_id);
  assert.equal(b.session_id, a.session_id);
  assert.equal(c.visitor_id, a.visitor_id);
  assert.notEqual(c.session_id, a.session_id);
  const [v] = await pg.query(`SELECT count(*)::int AS n FROM edgestat.sessions WHERE visitor_id = ${lit(a.visitor_id)}`);
  assert.equal(v.n, 2);
  // a new context is a new browser profile: a new visitor
  const ctx2 = await newContext();
  const q = await ctx2.newPage();
  await q.goto(srv.url('/id/c?other'));
  const rows = await waitEvents('/id/c', 'pageview', 2);
  assert.notEqual(rows[1].visitor_id, a.visitor_id);
  await ctx2.close();
  await ctx.close();
});

test('data-storage="none": nothing in localStorage, sessionStorage or cookies; the server\'s ids stitch the visit', async () => {
  for (const x of ['a', 'b']) addPage(`/nostore/${x}`, { attrs: { storage: 'none' } });
  const ctx = await newContext();
  const p = await ctx.newPage();
  const bodies = [];
  p.on('request', (r) => { if (r.url().endsWith('/e') && r.method() === 'POST') bodies.push(r.postData()); });
  await p.goto(srv.url('/nostore/a'));
  const [a] = await waitEvents('/nostore/a', 'pageview');
  await p.goto(srv.url('/nostore/b'));
  const [b] = await waitEvents('/nostore/b', 'pageview');
  // the beacons carry no ids
  assert.ok(bodies.length >= 2);
  for (const body of bodies) {
    const ev = JSON.parse(body);
    assert.equal(ev.v, undefined);
    assert.equal(ev.s, undefined);
  }
  // nothing stored in the browser
  assert.deepEqual(await p.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]), [0, 0, '']);
  assert.deepEqual(await ctx.cookies(), []);
  // the server made the ids (keyed hashes, not random v4 UUIDs): one
  // visitor, one session for both pages
  assert.match(a.visitor_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(b.visitor_id, a.visitor_id);
  assert.equal(b.session_id, a.session_id);
  const [s] = await pg.query(`SELECT pageviews FROM edgestat.sessions WHERE session_id = ${lit(a.session_id)}`);
  assert.equal(Number(s.pageviews), 2);
  await ctx.close();
});

test('no cookies: document.cookie empty, no Set-Cookie from the worker, served e.js is the committed build', async () => {
  addPage('/cookie/page');
  const ctx = await newContext();
  const p = await ctx.newPage();
  const workerResponses = [];
  p.on('response', (r) => { if (r.url().startsWith(pg.baseUrl)) workerResponses.push(r); });
  await p.goto(srv.url('/cookie/page'));
  await waitEvents('/cookie/page', 'pageview');
  assert.equal(await p.evaluate(() => document.cookie), '');
  assert.deepEqual(await ctx.cookies(), []);
  assert.ok(workerResponses.length >= 1);
  for (const r of workerResponses) assert.equal(await r.headerValue('set-cookie'), null, r.url());

  const js = await fetch(`${pg.baseUrl}/e.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  assert.equal(js.headers.get('set-cookie'), null);
  assert.equal(await js.text(), readFileSync(new URL('../dist/e.js', import.meta.url), 'utf8'));
  const body = JSON.stringify({ d: SITE, n: 'pageview', u: srv.url('/cookie/node'), v: randomUUID(), s: randomUUID(), q: 0 });
  const post = await fetch(`${pg.baseUrl}/e`, {
    method: 'POST', body, headers: { 'content-type': 'text/plain', origin: srv.origin, 'user-agent': DESKTOP_UA },
  });
  assert.equal(post.status, 204);
  assert.equal(post.headers.get('set-cookie'), null);
  const pre = await fetch(`${pg.baseUrl}/e`, { method: 'OPTIONS', headers: { origin: srv.origin, 'access-control-request-method': 'POST' } });
  assert.equal(pre.headers.get('set-cookie'), null);
  await ctx.close();
});

test('a reload within 5 s is deduplicated: one pageview row', async () => {
  addPage('/dedup/page');
  const ctx = await newContext();
  const p = await ctx.newPage();
  await p.goto(srv.url('/dedup/page'));
  await waitEvents('/dedup/page', 'pageview');
  const dups = await stat('duplicates');
  await p.reload();
  await waitEvents('/dedup/page', 'leave'); // the first load's leave (seq 1) is stored
  await waitFor(async () => (await stat('duplicates')) > dups, { message: 'duplicates counter to grow' });
  const rows = await events('/dedup/page', 'pageview');
  assert.equal(rows.length, 1);
  await ctx.close();
});

for (const prop of ['doNotTrack', 'globalPrivacyControl']) {
  test(`data-respect-dnt with navigator.${prop} set: nothing sent, nothing stored`, async () => {
    const path = `/dnt/${prop}`;
    addPage(path, { attrs: { 'respect-dnt': true }, tall: true, before: `${STUB};edgestat('early')` });
    addPage(`${path}/control`); // same browser, no data-respect-dnt: counted
    const ctx = await newContext();
    await ctx.addInitScript((prop) => {
      Object.defineProperty(Navigator.prototype, prop, { get: () => (prop === 'doNotTrack' ? '1' : true) });
    }, prop);
    const p = await ctx.newPage();
    const posts = [];
    p.on('request', (r) => { if (r.method() === 'POST') posts.push(new URL(r.url()).pathname + ' from ' + p.url()); });
    await p.goto(srv.url(path));
    await p.mouse.click(5, 5);
    await scrollToDepth(p, 100);
    await p.evaluate(() => edgestat('goal'));
    await p.goto(srv.url(`${path}/control`));
    await waitEvents(`${path}/control`, 'pageview');
    assert.deepEqual(await events(path), []);
    assert.deepEqual(posts.filter((x) => !x.includes('/control')), []);
    await ctx.close();
  });
}

test('e.ext.js (data-outbound, data-downloads, data-api to the worker): clicks stored with props.url; revenue goal stored', async () => {
  routes['/e.ext.js'] = (req, res) => res.writeHead(200, { 'content-type': 'application/javascript' })
    .end(readFileSync(new URL('../dist/e.ext.js', import.meta.url)));
  const other = `http://localhost:${srv.port}`;
  const long = `${other}/out/${'y'.repeat(300)}`;
  for (const [path, attrs] of [['/ext/on', { outbound: true, downloads: true }], ['/ext/off', {}]]) {
    routes[path] = page({
      src: srv.url('/e.ext.js'),
      attrs: { site: SITE, api: pg.baseUrl, ...attrs },
      body: `<a id="out" href="${other}/landing">out</a><a id="pdf" href="/files/report.pdf">pdf</a><a id="long" href="${long}">long</a>`,
    });
  }
  const ctx = await newContext();
  const p = await ctx.newPage();
  const bodies = []; // what the browser POSTed to the worker
  p.on('request', (r) => { if (r.url() === `${pg.baseUrl}/e` && r.postData()) bodies.push(r.postData()); });
  await p.goto(srv.url('/ext/on'));
  await waitEvents('/ext/on', 'pageview');
  await p.evaluate(() => document.addEventListener('click', (e) => e.preventDefault()));
  await p.click('#out');
  await p.click('#pdf');
  await p.click('#long');
  await p.evaluate(() => edgestat('Purchase', { plan: 'pro' }, { revenue: { amount: 42.5, currency: 'EUR' } }));
  const outs = await waitEvents('/ext/on', 'Outbound Link: Click', 2);
  assert.deepEqual(outs.map((r) => r.props), [{ url: `${other}/landing` }, { url: long.slice(0, 256) }]);
  const [dl] = await waitEvents('/ext/on', 'File Download');
  assert.deepEqual(dl.props, { url: srv.url('/files/report.pdf') });
  const [buy] = await waitEvents('/ext/on', 'Purchase');
  assert.deepEqual(buy.props, { plan: 'pro' });
  // The worker got rv as docs/analytics.md names it.
  const sentBuy = bodies.map((b) => JSON.parse(b)).flat().find((b) => b.n === 'Purchase');
  assert.deepEqual(sentBuy?.rv, { amount: 42.5, currency: 'EUR' }, bodies.join('\n'));
  // Stored as the SQL pipeline stores it: when edgestat.ingest() keeps the
  // revenue of a beacon, the browser's goal row has the same.
  const probe = JSON.stringify({ d: SITE, n: 'rv-probe', u: srv.url('/ext/probe'), v: randomUUID(), s: randomUUID(),
    rv: { amount: 42.5, currency: 'EUR' } });
  await pg.psql(`SELECT edgestat.ingest(${lit(probe)}, NULL, ${lit(DESKTOP_UA)})`);
  const cols = (await pg.query(`SELECT column_name AS c FROM information_schema.columns
    WHERE table_schema = 'edgestat' AND table_name = 'events' AND column_name IN ('revenue', 'currency')`)).map((r) => r.c);
  if (cols.length === 2) {
    const [ref] = await pg.query(`SELECT revenue::text, currency FROM edgestat.events WHERE name = 'rv-probe'`);
    const [row] = await pg.query(`SELECT revenue::text, currency FROM edgestat.events WHERE path = '/ext/on' AND name = 'Purchase'`);
    assert.deepEqual(row, ref);
    if (ref.revenue != null) assert.deepEqual([Number(row.revenue), row.currency], [42.5, 'EUR']);
    else console.log('# the server does not store rv yet: checked on the wire only');
  }

  // Without the attributes the same build sends nothing for these clicks.
  await p.goto(srv.url('/ext/off'));
  await waitEvents('/ext/off', 'pageview');
  await p.evaluate(() => document.addEventListener('click', (e) => e.preventDefault()));
  await p.click('#out');
  await p.click('#pdf');
  await p.evaluate(() => edgestat('marker'));
  await waitEvents('/ext/off', 'marker');
  const names = (await events('/ext/off')).map((r) => r.name);
  assert.ok(!names.includes('Outbound Link: Click') && !names.includes('File Download'), names.join(','));
  await ctx.close();
});
