// The dashboard against the real thing: a throwaway cluster with edgestat
// preloaded (test/js/cluster.mjs), its HTTP worker serving /dashboard/,
// /api/* and /live, beacons POSTed to /e through a trusted proxy with a
// GeoIP database (test/geoip/make-mmdb.pl), and headless Chromium.
//
// Needs root, `make install` of the extension, chromium, and perl's
// MaxMind::DB::Writer (libmaxmind-db-writer-perl).  Screenshots are left in
// dashboard/test/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';
import { startCluster, waitFor, edgestatInstalled } from '../../test/js/cluster.mjs';
import { launchChromium, DESKTOP_UA } from '../../test/js/browser.mjs';
import { scoreColor } from '../src/color.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const artifacts = join(here, 'artifacts');

// Addresses of test/geoip/make-mmdb.pl's networks (documentation ranges).
const BERLIN = '192.0.2.10';
const SAN_FRANCISCO = '198.51.100.20';
const TOKYO = '203.0.113.30';

let pg;
let browser;
let geoDir;
const tokens = {};

function beacon(site, n, extra = {}) {
  return { d: site, n, u: `http://${site}${extra.path || '/'}`, v: extra.v || randomUUID(), s: extra.s || randomUUID(), w: 1440, ...extra, path: undefined };
}

async function post(body, ip) {
  const res = await fetch(`${pg.baseUrl}/e`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': DESKTOP_UA, 'x-forwarded-for': ip },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  assert.equal(res.status, 204, `POST /e ${JSON.stringify(body)}`);
}

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(pg.baseUrl) && !r.url().startsWith('data:')) external.push(r.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.external = external;
  page.errors = errors;
  return page;
}

/** SQLSTATE raised by a statement, or null. */
async function sqlstate(sql) {
  const out = await pg.psql(`DO $t$ BEGIN PERFORM (${sql}); RAISE NOTICE 'no error'; EXCEPTION WHEN OTHERS THEN RAISE EXCEPTION 'SQLSTATE=%', SQLSTATE; END $t$`)
    .catch((e) => e.message);
  const m = /SQLSTATE=([0-9A-Z]{5})/.exec(out);
  return m ? m[1] : null;
}

before(async () => {
  assert.ok(edgestatInstalled(), 'edgestat is not installed: run make && make install first');
  mkdirSync(artifacts, { recursive: true });
  geoDir = mkdtempSync(join(tmpdir(), 'edgestat-dash-geo-'));
  chmodSync(geoDir, 0o755);
  const db = join(geoDir, 'test.mmdb');
  execFileSync('perl', [join(repo, 'test/geoip/make-mmdb.pl'), db]);
  chmodSync(db, 0o644);
  pg = await startCluster({
    settings: {
      'edgestat.geoip_database': db,
      'edgestat.trusted_proxies': '127.0.0.1/32',
      'edgestat.rate_limit': 0,
    },
  });
  for (const site of ['a.test', 'b.test', 'live.test']) {
    await pg.psql(`SELECT edgestat.add_site('${site}')`);
    tokens[site] = await pg.psql(`SELECT edgestat.dashboard_token('${site}')`);
  }
  browser = await launchChromium(chromium);
});

after(async () => {
  await browser?.close();
  await pg?.stop();
  if (geoDir) rmSync(geoDir, { recursive: true, force: true });
});

test('dashboard_api: tokens are hashed, one site each, bad ones raise 28000', async () => {
  const va = randomUUID();
  const vb = randomUUID();
  await post(beacon('a.test', 'pageview', { v: va, path: '/a-page' }), BERLIN);
  await post(beacon('b.test', 'pageview', { v: vb, path: '/b-secret' }), TOKYO);
  await waitFor(async () => (await pg.psql(`SELECT count(*) FROM edgestat.events WHERE path IN ('/a-page', '/b-secret')`)) === '2',
    { message: 'both events stored' });

  // Only the sha256 is stored, never the token itself.
  const stored = await pg.psql(`SELECT count(*) FROM edgestat.dashboard_tokens WHERE token_sha256 = sha256(convert_to('${tokens['a.test']}', 'UTF8'))`);
  assert.equal(stored, '1');
  const plain = await pg.psql(`SELECT count(*) FROM edgestat.dashboard_tokens t WHERE encode(t.token_sha256, 'hex') = '${tokens['a.test']}'`);
  assert.equal(plain, '0');
  assert.match(tokens['a.test'], /^[0-9a-f]{64}$/);
  assert.notEqual(tokens['a.test'], tokens['b.test']);

  const api = async (tok, ep, params = '{}') => JSON.parse(await pg.psql(`SELECT edgestat.dashboard_api('${tok}', '${ep}', '${params}')`));
  assert.equal((await api(tokens['a.test'], 'site')).domain, 'a.test');
  assert.equal((await api(tokens['b.test'], 'site')).domain, 'b.test');

  const recentA = await api(tokens['a.test'], 'recent');
  assert.ok(recentA.some((e) => e.path === '/a-page'));
  assert.ok(!recentA.some((e) => e.path === '/b-secret' || e.v === vb), 'a.test token sees a b.test event');
  const liveA = await api(tokens['a.test'], 'live');
  assert.ok(liveA.visitors.some((x) => x.v === va));
  assert.ok(!liveA.visitors.some((x) => x.v === vb), 'a.test token sees a b.test visitor');
  const pagesA = await api(tokens['a.test'], 'breakdown', '{"dimension":"page"}');
  assert.ok(!pagesA.some((r) => r.value === '/b-secret'));
  const liveB = await api(tokens['b.test'], 'live');
  assert.ok(liveB.visitors.some((x) => x.v === vb && x.country === 'JP'));
  assert.ok(!liveB.visitors.some((x) => x.v === va));

  const bad = `'${'0'.repeat(64)}'`;
  assert.equal(await sqlstate(`edgestat.dashboard_api(${bad}, 'site', '{}')`), '28000');
  assert.equal(await sqlstate(`edgestat.dashboard_api(NULL, 'site', '{}')`), '28000');
  assert.equal(await sqlstate(`edgestat.dashboard_api('', 'live', '{}')`), '28000');
  assert.equal(await sqlstate(`edgestat.dashboard_api('${tokens['a.test']}', 'nope', '{}')`), '22023');
  assert.equal(await sqlstate(`edgestat.dashboard_api('${tokens['a.test']}', 'summary', '{"since":"yesterday-ish"}')`), '22007');
  assert.equal(await sqlstate(`edgestat.dashboard_api('${tokens['a.test']}', 'breakdown', '{"dimension":"password"}')`), '22023');

  // A revoked token stops working.
  const extra = await pg.psql(`SELECT edgestat.dashboard_token('a.test')`);
  assert.equal((await api(extra, 'site')).domain, 'a.test');
  assert.equal(await pg.psql(`SELECT edgestat.dashboard_revoke('${extra}')`), 't');
  assert.equal(await sqlstate(`edgestat.dashboard_api('${extra}', 'site', '{}')`), '28000');
});

test('HTTP: /api and /live answer 401 without a valid token, and stay within the token\'s site', async () => {
  for (const q of ['', '?token=', `?token=${'f'.repeat(64)}`]) {
    const r = await fetch(`${pg.baseUrl}/api/summary${q}`);
    await r.arrayBuffer();
    assert.equal(r.status, 401, `/api/summary${q}`);
    const l = await fetch(`${pg.baseUrl}/live${q}`);
    await l.body?.cancel();
    assert.equal(l.status, 401, `/live${q}`);
  }
  const r = await fetch(`${pg.baseUrl}/api/recent?token=${tokens['b.test']}`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  const events = await r.json();
  assert.ok(events.some((e) => e.path === '/b-secret'));
  assert.ok(!events.some((e) => e.path === '/a-page'));
  const bad = await fetch(`${pg.baseUrl}/api/breakdown?token=${tokens['b.test']}&dimension=password`);
  await bad.arrayBuffer();
  assert.equal(bad.status, 400);
});

test('HTTP: /live is a clean event stream of the token\'s site only', async () => {
  const ctl = new AbortController();
  const res = await fetch(`${pg.baseUrl}/live?token=${tokens['b.test']}`, { signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let raw = '';
  const readUntil = async (re) => {
    const end = Date.now() + 10000;
    while (!re.test(raw)) {
      if (Date.now() > end) throw new Error(`no ${re} in ${JSON.stringify(raw)}`);
      const { value, done } = await Promise.race([reader.read(), new Promise((r) => setTimeout(() => r({ value: new Uint8Array() }), 200))]);
      if (done) throw new Error('stream closed');
      raw += dec.decode(value, { stream: true });
    }
  };
  await new Promise((r) => setTimeout(r, 200));
  const va = randomUUID();
  const vb = randomUUID();
  await post(beacon('a.test', 'pageview', { v: va, path: '/a-stream' }), BERLIN);
  await post(beacon('b.test', 'pageview', { v: vb, path: '/b-stream' }), TOKYO);
  await readUntil(/\/b-stream[^\n]*\n\n/);
  ctl.abort();
  // A stray byte (a NUL after the greeting, say) would make EventSource drop
  // the next message, so the first event after connecting would be lost.
  assert.ok(!raw.includes('\0'), `NUL byte in the SSE stream: ${JSON.stringify(raw.slice(0, 80))}`);
  const messages = raw.split('\n\n').filter((m) => m.startsWith('data: ')).map((m) => JSON.parse(m.slice(6)));
  assert.ok(messages.length >= 1);
  assert.ok(messages.every((m) => m.site === 'b.test'), JSON.stringify(messages));
  const m = messages.find((x) => x.v === vb);
  for (const k of ['site', 'v', 'n', 'path', 'country', 'city', 'lat', 'lon', 'score', 'live']) assert.ok(k in m, `SSE payload lacks ${k}`);
  assert.equal(m.path, '/b-stream');
  assert.equal(m.country, 'JP');
  assert.ok(Math.abs(m.lat - 35.6762) < 0.01 && Math.abs(m.lon - 139.6503) < 0.01);
  assert.ok(!raw.includes(va) && !raw.includes('/a-stream'), 'b.test stream carries an a.test event');
});

test('the page refuses to show anything without a valid token', async () => {
  for (const q of ['', `?token=${'e'.repeat(64)}`, '#token=nonsense-token-value']) {
    const page = await newPage();
    await page.goto(`${pg.baseUrl}/dashboard/${q}`);
    await page.locator('#auth-error').waitFor({ state: 'visible' });
    assert.match(await page.locator('#auth-error h1').textContent(), /invalid or missing token/i);
    const text = await page.locator('body').innerText();
    for (const leak of ['a.test', 'b.test', 'live.test', '/a-page', '/b-secret', 'Live visitors']) {
      assert.ok(!text.includes(leak), `401 screen shows "${leak}"`);
    }
    assert.equal(await page.locator('#markers circle').count(), 0);
    assert.deepEqual(page.external, []);
    if (q === '') await page.screenshot({ path: join(artifacts, 'no-token.png') });
    await page.context().close();
  }
});

test('a token of site A shows nothing of site B, not even live', async () => {
  const page = await newPage();
  await page.goto(`${pg.baseUrl}/dashboard/?token=${tokens['a.test']}`);
  await page.locator('#site-domain').filter({ hasText: 'a.test' }).waitFor();
  await page.locator('#top-pages td.name').first().waitFor();
  assert.ok((await page.locator('#top-pages').innerText()).includes('/a-page'));
  await page.waitForFunction(() => document.querySelector('#conn')?.classList.contains('ok'));

  // While it is open, b.test gets traffic, then a.test does.
  const vb = randomUUID();
  await post(beacon('b.test', 'pageview', { v: vb, path: '/b-live-secret' }), SAN_FRANCISCO);
  await post(beacon('a.test', 'pageview', { path: '/a-live' }), BERLIN);
  await page.locator('#feed').filter({ hasText: '/a-live' }).waitFor();
  const text = await page.locator('body').innerText();
  for (const leak of ['b.test', '/b-secret', '/b-live-secret', 'San Francisco', 'Tokyo']) {
    assert.ok(!text.includes(leak), `a.test dashboard shows "${leak}"`);
  }
  assert.equal(await page.locator(`#markers circle[data-v="${vb}"]`).count(), 0);
  assert.deepEqual(page.external, [], 'the dashboard made a request to another origin');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('live count, feed and map markers update over SSE without a reload', async (t) => {
  const page = await newPage();
  await page.goto(`${pg.baseUrl}/dashboard/?token=${tokens['live.test']}`);
  await page.locator('#site-domain').filter({ hasText: 'live.test' }).waitFor();
  await page.waitForFunction(() => document.querySelector('#conn')?.classList.contains('ok'));
  await page.waitForFunction(() => document.querySelector('#live-count').textContent.trim() === '0');
  assert.equal(await page.locator('#markers circle.marker').count(), 0);
  await page.evaluate(() => { window.__sameDocument = true; });

  const latencies = [];
  const visitors = [
    { v: randomUUID(), ip: BERLIN, city: 'Berlin' },
    { v: randomUUID(), ip: TOKYO, city: 'Tokyo' },
    { v: randomUUID(), ip: SAN_FRANCISCO, city: 'San Francisco' },
  ];
  for (const [i, vis] of visitors.entries()) {
    const before = await page.evaluate(() => window.edgestat.events);
    const t0 = Date.now();
    await post(beacon('live.test', 'pageview', { v: vis.v, path: `/p${i}` }), vis.ip);
    await page.waitForFunction((n) => document.querySelector('#live-count').textContent.trim() === String(n), i + 1, { polling: 'raf' });
    latencies.push(Date.now() - t0);
    await page.waitForFunction((n) => document.querySelectorAll('#markers circle.marker').length === n, i + 1);
    assert.ok(await page.evaluate(() => window.edgestat.events) > before);
    await page.locator('#feed').filter({ hasText: vis.city }).waitFor();
  }
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page reloaded');

  // Each marker is placed at its visitor's location and coloured by score.
  const scores = Object.fromEntries((await pg.query(
    `SELECT visitor_id::text AS v, score FROM edgestat.visitors WHERE site_id = (SELECT site_id FROM edgestat.sites WHERE domain = 'live.test')`))
    .map((r) => [r.v, r.score]));
  const pos = {};
  for (const vis of visitors) {
    const m = page.locator(`#markers circle.marker[data-v="${vis.v}"]`);
    assert.equal(await m.count(), 1);
    assert.ok(Number.isInteger(scores[vis.v]), `score of ${vis.city}`);
    assert.equal(await m.getAttribute('fill'), scoreColor(scores[vis.v]), `fill of ${vis.city} (score ${scores[vis.v]})`);
    pos[vis.city] = { x: Number(await m.getAttribute('cx')), y: Number(await m.getAttribute('cy')) };
  }
  assert.ok(pos.Tokyo.x > pos.Berlin.x && pos.Berlin.x > pos['San Francisco'].x, JSON.stringify(pos));
  assert.ok(pos.Berlin.y < pos.Tokyo.y && pos.Tokyo.y < 470 / 2, JSON.stringify(pos));

  // An engaged visitor's score rises and its marker is recoloured live.
  const berlin = visitors[0];
  const s = randomUUID();
  let q = 1;
  for (const sd of [25, 50, 75, 100]) {
    await post(beacon('live.test', 'scroll', { v: berlin.v, s, q: q++, sd, et: sd * 400, ic: sd / 25, path: '/p0' }), BERLIN);
  }
  await post(beacon('live.test', 'signup', { v: berlin.v, s, q: q++, et: 60000, ic: 6, path: '/p0' }), BERLIN);
  const newScore = await waitFor(async () => {
    const [r] = await pg.query(`SELECT score FROM edgestat.visitors WHERE visitor_id = '${berlin.v}'`);
    return r.score !== scores[berlin.v] ? r.score : null;
  }, { message: 'the Berlin visitor\'s score to change' });
  await page.waitForFunction(([v, fill]) => document.querySelector(`#markers circle[data-v="${v}"]`)?.getAttribute('fill') === fill,
    [berlin.v, scoreColor(newScore)]);
  assert.equal(await page.locator('#live-count').textContent(), '3');
  assert.equal(await page.locator('#markers circle.marker').count(), 3);

  // The reports come from /api: reload the range and see the pages.
  await page.locator('.range button[data-range="7d"]').click();
  await page.locator('#top-pages').filter({ hasText: '/p2' }).waitFor();
  await page.locator('#top-countries').filter({ hasText: 'Japan' }).waitFor();
  await page.waitForTimeout(1300); // let the ripples fade for the screenshot
  await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
  assert.deepEqual(page.external, []);
  assert.deepEqual(page.errors, []);
  latencies.sort((a, b) => a - b);
  console.log(`# beacon POST -> DOM update over SSE: ${latencies.join(', ')} ms`);
  t.diagnostic(`SSE latency ms (POST /e -> DOM): ${latencies.join(', ')}`);
  assert.ok(latencies[latencies.length - 1] < 2000, `SSE update took ${latencies} ms`);
  await page.context().close();
});
