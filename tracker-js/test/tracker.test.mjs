// Tracker behaviour in real headless Chromium against a fake collector: the
// test page server serves dist/e.js and records every POST /e on the Node side.
// Needs no PostgreSQL; integration.test.mjs covers the real worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startPageServer } from '../../test/js/pages.mjs';
import { waitFor } from '../../test/js/cluster.mjs';
import { launch, page, STUB, UUID, DESKTOP_UA, scrollToDepth } from './helpers.mjs';

const JS = readFileSync(new URL('../dist/e.js', import.meta.url));
let srv, browser;
const beacons = []; // {b: parsed body, h: headers}
const routes = {
  '/e.js': (req, res) => res.writeHead(200, { 'content-type': 'application/javascript' }).end(JS),
  '/e': (req, res, body) => {
    for (const b of [].concat(JSON.parse(body))) beacons.push({ b, h: req.headers });
    res.writeHead(204, { 'access-control-allow-origin': '*' }).end();
  },
};

before(async () => {
  srv = await startPageServer(routes);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

let n = 0;
/** Register a page at a fresh path; returns that path. */
function addPage(opts, path = `/p${++n}`) {
  routes[path] = page({ src: srv.url('/e.js'), ...opts, attrs: { site: 'example.test', ...opts.attrs } });
  return path;
}
const pathOf = (b) => new URL(b.u).pathname;
const sent = (pred) => beacons.map((x) => x.b).filter(pred);
const waitSent = (pred, count = 1, message = 'beacons') =>
  waitFor(() => { const r = sent(pred); return r.length >= count && r; }, { message, timeout: 10000 });
async function newPage(ctxOpts = {}) {
  const ctx = await browser.newContext({ userAgent: DESKTOP_UA, ...ctxOpts });
  return { ctx, p: await ctx.newPage() };
}

test('pageview beacon carries every beacon key (docs/http.md), sent as text/plain without cookies', async () => {
  const path = addPage({});
  const { ctx, p } = await newPage({ viewport: { width: 1111, height: 700 } });
  await p.goto(srv.url(path + '?utm_source=news'), { referer: 'https://ref.example.org/x' });
  const [pv] = await waitSent((b) => b.n === 'pageview' && pathOf(b) === path);
  assert.equal(pv.d, 'example.test');
  assert.equal(pv.u, srv.url(path + '?utm_source=news'));
  assert.match(pv.v, UUID);
  assert.match(pv.s, UUID);
  assert.notEqual(pv.v, pv.s);
  assert.equal(pv.q, 0);
  assert.equal(pv.r, 'https://ref.example.org/x');
  assert.equal(pv.w, 1111);
  assert.equal(pv.et, 0);
  assert.equal(pv.ic, 0);
  assert.equal(pv.sd, 100); // short page: all of it is visible
  const h = beacons.find((x) => x.b === pv).h;
  assert.match(h['content-type'], /^text\/plain/);
  assert.equal(h.cookie, undefined);
  assert.equal(await p.evaluate(() => document.cookie), '');
  // ids are where README.md ("Identity") puts them
  const st = await p.evaluate(() => [localStorage.getItem('edgestat'), sessionStorage.getItem('edgestat')].map(JSON.parse));
  assert.equal(st[0].v, pv.v);
  assert.ok(Math.abs(st[0].t - Date.now()) < 60000);
  assert.equal(st[1].s, pv.s);
  assert.deepEqual(await ctx.cookies(), []);
  await ctx.close();
});

test('every request goes to the page origin only (no third parties)', async () => {
  const path = addPage({ before: STUB + ";edgestat('x')" });
  const { ctx, p } = await newPage();
  const urls = [];
  p.on('request', (r) => urls.push(r.url()));
  await p.goto(srv.url(path));
  await waitSent((b) => b.n === 'x' && pathOf(b) === path);
  await p.click('#btn');
  await waitSent((b) => b.n === 'interaction' && pathOf(b) === path);
  assert.ok(urls.length >= 3, urls.join(' '));
  for (const u of urls) assert.equal(new URL(u).origin, srv.origin, u);
  await ctx.close();
});

test('SPA: pushState/popstate send a pageview with q restarting at 0; same-path replaceState does not', async () => {
  const path = addPage({});
  routes[path + '/b'] = routes[path];
  const { ctx, p } = await newPage();
  await p.goto(srv.url(path));
  await waitSent((b) => b.n === 'pageview' && pathOf(b) === path);
  await p.evaluate((x) => { history.replaceState({}, '', x + '?filter=1'); history.pushState({}, '', x + '/b'); }, path);
  const [spa] = await waitSent((b) => b.n === 'pageview' && pathOf(b) === path + '/b');
  assert.equal(spa.q, 0);
  await p.goBack();
  await waitSent((b) => b.n === 'pageview' && pathOf(b) === path, 2, 'popstate pageview');
  // the ?filter=1 replaceState is the same page: no pageview of its own
  await p.evaluate(() => edgestat('barrier'));
  await waitSent((b) => b.n === 'barrier' && pathOf(b) === path);
  assert.equal(sent((b) => b.n === 'pageview' && b.u.includes('filter=1') && !b.u.endsWith('/b')).length, 1);
  await ctx.close();
});

test('hash routing only with data-hash', async () => {
  const plain = addPage({});
  const hashed = addPage({ attrs: { hash: true } });
  const { ctx, p } = await newPage();
  await p.goto(srv.url(plain));
  await p.evaluate(() => { location.hash = '#/a'; });
  await p.evaluate(() => edgestat('barrier'));
  await waitSent((b) => b.n === 'barrier' && pathOf(b) === plain);
  assert.equal(sent((b) => b.n === 'pageview' && pathOf(b) === plain).length, 1);

  await p.goto(srv.url(hashed));
  await waitSent((b) => b.n === 'pageview' && pathOf(b) === hashed);
  await p.evaluate(() => { location.hash = '#/a'; });
  const [hv] = await waitSent((b) => b.n === 'pageview' && b.u.endsWith(hashed + '#/a'));
  assert.equal(hv.q, 0);
  await ctx.close();
});

test('data-exclude globs: nothing from excluded paths, tracking resumes on SPA navigation out', async () => {
  const attrs = { exclude: '/private/*, /secret' };
  routes['/private/x'] = page({ src: srv.url('/e.js'), attrs: { site: 'example.test', ...attrs }, before: STUB + ";edgestat('early')" });
  routes['/secret'] = routes['/private/x'];
  const { ctx, p } = await newPage();
  await p.goto(srv.url('/private/x'));
  await p.click('#btn');
  await p.evaluate(() => history.pushState({}, '', '/secret'));
  await p.evaluate(() => history.pushState({}, '', '/public-after-private'));
  const [pv] = await waitSent((b) => pathOf(b) === '/public-after-private');
  assert.equal(pv.n, 'pageview');
  assert.equal(sent((b) => /^\/(private|secret)/.test(pathOf(b))).length, 0);
  await ctx.close();
});

test('custom goals: queued stub calls are sent after the pageview, props trimmed to 16 keys × 256 chars', async () => {
  const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'x'.repeat(300)]));
  const path = addPage({ before: `${STUB};edgestat('signup',{plan:'pro',n:3});edgestat('big',${JSON.stringify(many)})` });
  const { ctx, p } = await newPage();
  await p.goto(srv.url(path));
  const [big] = await waitSent((b) => b.n === 'big' && pathOf(b) === path);
  const seq = sent((b) => pathOf(b) === path).map((b) => `${b.q}:${b.n}`);
  assert.deepEqual(seq, ['0:pageview', '1:signup', '2:big']);
  const [su] = sent((b) => b.n === 'signup' && pathOf(b) === path);
  assert.deepEqual(su.p, { plan: 'pro', n: '3' });
  assert.equal(Object.keys(big.p).length, 16);
  assert.ok(Object.values(big.p).every((v) => v.length === 256));
  await p.evaluate(() => edgestat('after_load', { a: 'b' }));
  const [al] = await waitSent((b) => b.n === 'after_load' && pathOf(b) === path);
  assert.deepEqual(al.p, { a: 'b' });
  assert.equal(al.q, 3);
  await ctx.close();
});

test('blocked storage still counts, with in-memory ids', async () => {
  const path = addPage({});
  const { ctx, p } = await newPage();
  await p.addInitScript(() => {
    for (const k of ['localStorage', 'sessionStorage']) {
      Object.defineProperty(window, k, { get() { throw new DOMException('blocked', 'SecurityError'); } });
    }
  });
  await p.goto(srv.url(path));
  const [pv] = await waitSent((b) => b.n === 'pageview' && pathOf(b) === path);
  assert.match(pv.v, UUID);
  assert.match(pv.s, UUID);
  await p.click('#btn');
  const [ia] = await waitSent((b) => b.n === 'interaction' && pathOf(b) === path);
  assert.equal(ia.v, pv.v);
  assert.equal(ia.s, pv.s);
  assert.equal(ia.ic, 1);
  await ctx.close();
});

test('visitor id is renewed after 365 days, kept before', async () => {
  const path = addPage({});
  const { ctx, p } = await newPage();
  await p.goto(srv.url('/e.js')); // same origin, no tracker: seed localStorage
  const old = '11111111-1111-4111-8111-111111111111';
  const young = '22222222-2222-4222-8222-222222222222';
  await p.evaluate((v) => localStorage.setItem('edgestat', JSON.stringify({ v, t: Date.now() - 366 * 864e5 })), old);
  await p.goto(srv.url(path));
  const [pv] = await waitSent((b) => b.n === 'pageview' && pathOf(b) === path);
  assert.notEqual(pv.v, old);
  assert.match(pv.v, UUID);
  await p.evaluate((v) => localStorage.setItem('edgestat', JSON.stringify({ v, t: Date.now() - 364 * 864e5 })), young);
  await p.goto(srv.url(path + '?again'));
  const [pv2] = await waitSent((b) => b.n === 'pageview' && b.u.endsWith('?again'));
  assert.equal(pv2.v, young);
  await ctx.close();
});

test('data-respect-dnt: nothing sent with DNT or GPC, edgestat() is a harmless no-op', async () => {
  for (const prop of ['doNotTrack', 'globalPrivacyControl']) {
    const path = addPage({ attrs: { 'respect-dnt': true }, before: STUB + ";edgestat('early')" });
    const control = addPage({});
    const { ctx, p } = await newPage();
    await p.addInitScript((prop) => {
      Object.defineProperty(Navigator.prototype, prop, { get: () => (prop === 'doNotTrack' ? '1' : true) });
    }, prop);
    await p.goto(srv.url(path));
    await p.click('#btn');
    await scrollToDepth(p, 100);
    assert.equal(await p.evaluate(() => typeof edgestat), 'function');
    await p.evaluate(() => edgestat('late'));
    assert.equal(await p.evaluate(() => localStorage.getItem('edgestat')), null);
    await p.goto(srv.url(control)); // control page: DNT set but not respected -> counted
    await waitSent((b) => b.n === 'pageview' && pathOf(b) === control);
    assert.equal(sent((b) => pathOf(b) === path).length, 0, prop);
    await ctx.close();
  }
});

test('scroll milestones are sent once each, carrying the milestone; sd tracks the deepest point', async () => {
  const path = addPage({ tall: true });
  const { ctx, p } = await newPage({ viewport: { width: 800, height: 600 } });
  await p.goto(srv.url(path));
  const [pv] = await waitSent((b) => b.n === 'pageview' && pathOf(b) === path);
  assert.equal(pv.sd, 10); // 600 of 6000 px visible
  for (const pct of [30, 20, 60, 80, 100, 50, 100]) {
    await scrollToDepth(p, pct);
    await p.waitForTimeout(50);
  }
  const sc = await waitSent((b) => b.n === 'scroll' && pathOf(b) === path, 4);
  assert.deepEqual(sc.map((b) => b.sd), [25, 50, 75, 100]);
  await p.evaluate(() => edgestat('after'));
  const [a] = await waitSent((b) => b.n === 'after' && pathOf(b) === path);
  assert.equal(a.sd, 100);
  assert.equal(sent((b) => b.n === 'scroll' && pathOf(b) === path).length, 4);
  await ctx.close();
});

test('heartbeat every data-heartbeat engaged seconds; et and ic cumulative in the session; pause when idle', async () => {
  const path = addPage({ attrs: { heartbeat: 2 } });
  const { ctx, p } = await newPage();
  await p.clock.install();
  await p.goto(srv.url(path));
  await waitSent((b) => b.n === 'pageview' && pathOf(b) === path);
  await p.click('#btn'); // ic 1, interaction
  await p.keyboard.press('a'); // ic 2, no new interaction (not quiet)
  for (let i = 0; i < 6; i++) {
    await p.mouse.move(10 + i, 10);
    await p.clock.runFor(1000);
  }
  const hbs = await waitSent((b) => b.n === 'heartbeat' && pathOf(b) === path, 3);
  assert.deepEqual(hbs.map((b) => b.et), [2000, 4000, 6000]);
  assert.ok(hbs.every((b) => b.ic === 2));
  assert.equal(sent((b) => b.n === 'interaction' && pathOf(b) === path).length, 1);
  // idle: engagement stops 30 s after the last activity (mouse at ~5 s), heartbeats with it
  await p.clock.runFor(60000);
  await p.evaluate(() => edgestat('barrier'));
  const [bar] = await waitSent((b) => b.n === 'barrier' && pathOf(b) === path);
  assert.ok(bar.et >= 33000 && bar.et <= 37000, String(bar.et));
  // one heartbeat per 2 engaged seconds, none after (beacons may arrive out of order: wait for them)
  const expected = Math.floor(bar.et / 2000);
  await waitSent((b) => b.n === 'heartbeat' && pathOf(b) === path, expected);
  await p.clock.runFor(60000);
  await p.evaluate(() => edgestat('barrier2'));
  const [bar2] = await waitSent((b) => b.n === 'barrier2' && pathOf(b) === path);
  assert.equal(bar2.et, bar.et); // no engaged tick while idle, hence no heartbeat
  assert.equal(sent((b) => b.n === 'heartbeat' && pathOf(b) === path).length, expected);
  // the first click after the quiet spell is a new interaction
  await p.click('#btn');
  const ia = await waitSent((b) => b.n === 'interaction' && pathOf(b) === path, 2);
  assert.equal(ia[1].ic, 3);
  // next page view in the same tab keeps the session's et and ic
  await p.goto(srv.url(path + '?2'));
  const [pv2] = await waitSent((b) => b.n === 'pageview' && b.u.endsWith('?2'));
  assert.equal(pv2.s, bar.s);
  assert.equal(pv2.ic, 3);
  assert.ok(pv2.et >= bar.et);
  await ctx.close();
});

test('leave on pagehide with the final state', async () => {
  const path = addPage({ tall: true });
  const { ctx, p } = await newPage({ viewport: { width: 800, height: 600 } });
  await p.goto(srv.url(path));
  await waitSent((b) => b.n === 'pageview' && pathOf(b) === path);
  await scrollToDepth(p, 55);
  await p.mouse.click(5, 5); // not p.click(): that would scroll the button into view
  await waitSent((b) => b.n === 'interaction' && pathOf(b) === path);
  await p.close({ runBeforeUnload: true });
  const [lv] = await waitSent((b) => b.n === 'leave' && pathOf(b) === path);
  assert.equal(lv.sd, 55);
  assert.equal(lv.ic, 1);
  assert.equal(lv.q, sent((b) => pathOf(b) === path).length - 1);
  await ctx.close();
});

test('data-api sends beacons to another origin; the script is idempotent when loaded twice', async () => {
  const other = await startPageServer({
    '/e': (req, res, body) => { other.got.push(JSON.parse(body)); res.writeHead(204).end(); },
  });
  other.got = [];
  const path = `/p${++n}`;
  routes[path] = page({ src: srv.url('/e.js'), attrs: { site: 'example.test', api: other.origin + '/' } })
    .replace('</body>', `<script src="${srv.url('/e.js')}" data-site="example.test" data-api="${other.origin}"></script></body>`);
  const { ctx, p } = await newPage();
  await p.goto(srv.url(path));
  await waitFor(() => other.got.some((b) => b.n === 'pageview'), { message: 'pageview at data-api' });
  await p.evaluate(() => edgestat('one'));
  await waitFor(() => other.got.some((b) => b.n === 'one'), { message: 'goal at data-api' });
  assert.equal(other.got.filter((b) => b.n === 'pageview').length, 1);
  assert.equal(other.got.filter((b) => b.n === 'one').length, 1);
  assert.equal(sent((b) => pathOf(b) === path).length, 0);
  await ctx.close();
  await other.stop();
});

test('a tap counts once (pointerdown), key presses count, both only one interaction per burst', async () => {
  const path = addPage({});
  const { ctx, p } = await newPage({ hasTouch: true });
  await p.goto(srv.url(path));
  await waitSent((b) => b.n === 'pageview' && pathOf(b) === path);
  await p.tap('#btn');
  await p.keyboard.press('x');
  await p.evaluate(() => edgestat('barrier'));
  const [bar] = await waitSent((b) => b.n === 'barrier' && pathOf(b) === path);
  assert.equal(bar.ic, 2);
  const ia = sent((b) => b.n === 'interaction' && pathOf(b) === path);
  assert.equal(ia.length, 1);
  assert.equal(ia[0].ic, 1);
  await ctx.close();
});
