// Outbound links, file downloads (dist/e.ext.js, opt-in by data-outbound and
// data-downloads), revenue (both builds) and the 404 pattern, in real headless
// Chromium against a fake collector that records every POST /e body.
// integration.test.mjs checks the same beacons stored by the real worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startPageServer } from '../../test/js/pages.mjs';
import { waitFor } from '../../test/js/cluster.mjs';
import { launch, page, DESKTOP_UA } from './helpers.mjs';

const CORE = readFileSync(new URL('../dist/e.js', import.meta.url));
const EXT = readFileSync(new URL('../dist/e.ext.js', import.meta.url));
let srv, browser;
const beacons = []; // {b: parsed body, raw: body text}
const js = (code) => (req, res) => res.writeHead(200, { 'content-type': 'application/javascript' }).end(code);
const routes = {
  '/e.js': js(CORE),
  '/e.ext.js': js(EXT),
  '/e': (req, res, body) => {
    for (const b of [].concat(JSON.parse(body))) beacons.push({ b, raw: body });
    res.writeHead(204, { 'access-control-allow-origin': '*' }).end();
  },
  '/landing': '<!doctype html><title>landing</title>landing',
};

before(async () => {
  srv = await startPageServer(routes, { fallback: '/landing' });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await srv?.stop();
});

const LONG = '/out/' + 'x'.repeat(400);
let n = 0;
/**
 * A page at a fresh path with links: an outbound one (localhost is another
 * host than 127.0.0.1, served by the same server), a PDF, a CSV, a same-host
 * page, an outbound one longer than 256 characters, and an outbound SVG link.
 */
function addPage({ script = '/e.ext.js', attrs = {}, before = '' } = {}) {
  const path = `/x${++n}`;
  const other = `http://localhost:${srv.port}`;
  routes[path] = page({
    src: srv.url(script),
    attrs: { site: 'example.test', ...attrs },
    before,
    body: `<a id="out" href="${other}/landing?from=${path}"><span id="out-inner">elsewhere</span></a>
<a id="pdf" href="/files/report.pdf?v=2">pdf</a>
<a id="csv" href="/files/data.CSV">csv</a>
<a id="ext-pdf" href="${other}/files/remote.pdf">remote pdf</a>
<a id="same" href="/landing">same host</a>
<a id="long" href="${other}${LONG}">long</a>
<a id="mail" href="mailto:someone@example.test">mail</a>
<svg width="20" height="20"><a id="svg" href="${other}/svg-target"><rect width="20" height="20"/></a></svg>`,
  });
  return path;
}
const onPage = (path) => (b) => new URL(b.u).pathname === path;
const sent = (pred) => beacons.map((x) => x.b).filter(pred);
const waitSent = (pred, count = 1, message = 'beacons') =>
  waitFor(() => { const r = sent(pred); return r.length >= count && r; }, { message, timeout: 10000 });

async function open(path) {
  const ctx = await browser.newContext({ userAgent: DESKTOP_UA });
  const p = await ctx.newPage();
  await p.goto(srv.url(path));
  await waitSent((b) => b.n === 'pageview' && onPage(path)(b), 1, `pageview of ${path}`);
  return { ctx, p };
}
/**
 * Click a link in a fresh page and let it navigate: the beacon must survive
 * the page going away.  Waits for the new page, since closing a context in
 * the middle of a navigation can hang.
 */
async function clickIn(path, selector, target) {
  const { ctx, p } = await open(path);
  await Promise.all([p.waitForURL(target), p.click(selector)]);
  return ctx;
}
const custom = (path) => (b) => onPage(path)(b) && !['pageview', 'heartbeat', 'scroll', 'interaction', 'leave'].includes(b.n);

test('data-outbound: a click on a link to another host sends "Outbound Link: Click" with the URL in props', async () => {
  const path = addPage({ attrs: { outbound: true } });
  const ctx = await clickIn(path, '#out-inner', /^http:\/\/localhost:\d+\/landing/); // the click lands on a child of the link
  const [ev] = await waitSent((b) => b.n === 'Outbound Link: Click' && onPage(path)(b));
  assert.deepEqual(ev.p, { url: `http://localhost:${srv.port}/landing?from=${path}` });
  assert.equal(ev.d, 'example.test');
  assert.equal(ev.u, srv.url(path)); // the page the link was on
  await ctx.close();

  // A same-host link, a mailto: link and an SVG link are not outbound; a middle click is.
  const { ctx: ctx3, p } = await open(path);
  await p.evaluate(() => document.addEventListener('click', (e) => e.preventDefault())); // stay on the page
  await p.click('#same', { noWaitAfter: true });
  await p.click('#mail', { noWaitAfter: true });
  await p.click('#svg', { noWaitAfter: true, force: true });
  await p.click('#out', { button: 'middle', noWaitAfter: true });
  const outs = await waitSent((b) => b.n === 'Outbound Link: Click' && onPage(path)(b), 2);
  await p.waitForTimeout(300);
  assert.equal(sent((b) => b.n === 'Outbound Link: Click' && onPage(path)(b)).length, 2, 'only the two clicks on #out');
  assert.ok(outs.every((b) => b.p.url.startsWith(`http://localhost:${srv.port}/landing?from=`)));
  assert.deepEqual(sent((b) => b.n === 'File Download' && onPage(path)(b)), [], 'no downloads without data-downloads');
  await ctx3.close();
});

test('data-outbound: a URL over 256 characters is cut to 256 in props', async () => {
  const path = addPage({ attrs: { outbound: true } });
  const ctx = await clickIn(path, '#long', /\/out\/x+$/);
  const [ev] = await waitSent((b) => b.n === 'Outbound Link: Click' && onPage(path)(b));
  const full = `http://localhost:${srv.port}${LONG}`;
  assert.equal(ev.p.url.length, 256);
  assert.equal(ev.p.url, full.slice(0, 256));
  await ctx.close();
});

test('data-downloads: a click on a file link sends "File Download" (default extensions, any case, query ignored)', async () => {
  const path = addPage({ attrs: { downloads: true } });
  const { ctx, p } = await open(path);
  await p.evaluate(() => document.addEventListener('click', (e) => e.preventDefault())); // stay on the page
  await p.click('#pdf');
  await p.click('#csv');
  await p.click('#ext-pdf');
  await p.click('#out'); // outbound, but data-outbound is off
  const evs = await waitSent((b) => b.n === 'File Download' && onPage(path)(b), 3);
  assert.deepEqual(evs.map((b) => b.p), [
    { url: srv.url('/files/report.pdf?v=2') },
    { url: srv.url('/files/data.CSV') },
    { url: `http://localhost:${srv.port}/files/remote.pdf` },
  ]);
  await p.waitForTimeout(300);
  assert.deepEqual(sent((b) => b.n === 'Outbound Link: Click' && onPage(path)(b)), []);
  await ctx.close();
});

test('data-downloads="pdf" replaces the default list; with data-outbound a remote file is a download, not outbound', async () => {
  const path = addPage({ attrs: { downloads: 'pdf', outbound: true } });
  const { ctx, p } = await open(path);
  await p.evaluate(() => document.addEventListener('click', (e) => e.preventDefault()));
  await p.click('#csv');
  await p.click('#ext-pdf');
  await p.click('#pdf');
  const evs = await waitSent((b) => b.n === 'File Download' && onPage(path)(b), 2);
  assert.deepEqual(evs.map((b) => b.p.url), [`http://localhost:${srv.port}/files/remote.pdf`, srv.url('/files/report.pdf?v=2')]);
  await p.waitForTimeout(300);
  assert.deepEqual(sent((b) => b.n === 'Outbound Link: Click' && onPage(path)(b)), [], 'the remote pdf is not also outbound');
  assert.equal(sent(custom(path)).length, 2, 'the csv click sends nothing');
  await ctx.close();
});

test('nothing is sent for clicks without the opt-in attributes, nor by the core build with them', async () => {
  for (const opts of [{}, { script: '/e.js', attrs: { outbound: true, downloads: true } }]) {
    const path = addPage(opts);
    const { ctx, p } = await open(path);
    await p.evaluate(() => document.addEventListener('click', (e) => e.preventDefault()));
    for (const sel of ['#out', '#pdf', '#csv', '#ext-pdf', '#long']) await p.click(sel);
    await p.evaluate(() => edgestat('marker')); // sent after the clicks: once it is here, they would be too
    await waitSent((b) => b.n === 'marker' && onPage(path)(b));
    assert.deepEqual(sent(custom(path)).map((b) => b.n), ['marker'], JSON.stringify(opts));
    assert.ok(sent((b) => b.n === 'interaction' && onPage(path)(b)).length >= 1, 'the clicks did reach the page');
    await ctx.close();
  }
});

test('revenue: edgestat(name, props, {revenue}) sends rv = {amount, currency}, in both builds and through the stub', async () => {
  for (const script of ['/e.js', '/e.ext.js']) {
    const path = addPage({
      script,
      before: "window.edgestat=window.edgestat||function(){(edgestat.q=edgestat.q||[]).push(arguments)};"
        + "edgestat('Early', null, {revenue: {amount: '5.50', currency: 'USD'}})",
    });
    const { ctx, p } = await open(path);
    await p.evaluate(() => {
      edgestat('Purchase', { plan: 'pro' }, { revenue: { amount: 19.99, currency: 'EUR', note: 'dropped' } });
      edgestat('No revenue', { plan: 'free' });
      edgestat('Empty options', null, {});
    });
    const evs = await waitSent(custom(path), 4, `${script}: 4 goals`);
    const by = Object.fromEntries(evs.map((b) => [b.n, b]));
    assert.deepEqual(by.Early.rv, { amount: '5.50', currency: 'USD' }, script);
    assert.equal(by.Early.p, undefined);
    assert.deepEqual(by.Purchase.rv, { amount: 19.99, currency: 'EUR' }, script);
    assert.deepEqual(by.Purchase.p, { plan: 'pro' });
    // On the wire: the key is rv, exactly as docs/analytics.md names it.
    const raw = beacons.find((x) => x.b === by.Purchase).raw;
    assert.match(raw, /"rv":\{"amount":19\.99,"currency":"EUR"\}/);
    assert.equal('rv' in by['No revenue'], false);
    assert.equal('rv' in by['Empty options'], false);
    assert.equal(sent((b) => b.n === 'pageview' && onPage(path)(b))[0].rv, undefined);
    await ctx.close();
  }
});

test('404 pattern: edgestat("404", {path: location.pathname}) on the not-found page', async () => {
  const path = `/no/such/page-${++n}`;
  routes[path] = page({
    src: srv.url('/e.js'),
    attrs: { site: 'example.test' },
    body: '<h1>Not found</h1><script>window.edgestat=window.edgestat||function(){(edgestat.q=edgestat.q||[]).push(arguments)};'
      + "edgestat('404', {path: location.pathname})</script>",
  });
  const { ctx } = await open(path);
  const [ev] = await waitSent((b) => b.n === '404' && onPage(path)(b));
  assert.deepEqual(ev.p, { path });
  await ctx.close();
});
