// The analytics panels (goals, funnel, retention, journeys, comparison,
// alerts) and filter-by-click against the real worker: a throwaway cluster
// (test/js/cluster.mjs), a scripted data set POSTed to /e through a trusted
// proxy with the test GeoIP database, and headless Chromium.  Every figure
// on screen is checked against the SQL function of docs/analytics.md called
// with the range and filters the page used.
//
// Needs root, `make install`, chromium and libmaxmind-db-writer-perl.
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

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const artifacts = join(here, 'artifacts');
const SITE = 'an.test';

// Addresses of test/geoip/make-mmdb.pl's networks (documentation ranges).
const BERLIN = '192.0.2.10';
const SAN_FRANCISCO = '198.51.100.20';
const TOKYO = '203.0.113.30';

let pg;
let browser;
let geoDir;
let token;
const lit = (s) => `'${String(s).replace(/'/g, "''")}'`;

async function post(body, ip) {
  const res = await fetch(`${pg.baseUrl}/e`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': DESKTOP_UA, 'x-forwarded-for': ip },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  assert.equal(res.status, 204, `POST /e ${JSON.stringify(body)}`);
}

/** One visit: a session of a visitor, its events in order ([name, path, extra]). */
let posted = 0;
async function visit(ip, v, events) {
  posted += events.length;
  const s = randomUUID();
  let q = 0;
  for (const [n, path, extra = {}] of events) {
    await post({ d: SITE, n, u: `http://${SITE}${path}`, v, s, q: q++, w: 1440, ...extra }, ip);
  }
  return s;
}

/*
 * The data set (all in the current hour):
 *   v1 Berlin   /  -> /pricing, signup, purchase 19.99 EUR
 *   v2 Tokyo    /  -> /pricing, signup
 *   v3 SF       /blog
 *   v4 Berlin   /  -> /  -> /docs            (a repeated page, folded in journeys)
 *   v5 Tokyo    /pricing, purchase 5 USD     (purchase without signup: funnel step 2 not reached)
 *   v6 Berlin   /docs, now; and a first visit 30 hours ago (its session and
 *               first_seen moved back by the test): a returning cohort for
 *               retention, and a visit in the period before the last 24 h
 * Goals: Signup (event signup), Purchase (event purchase), Pricing (page /pricing).
 */
const V = Object.fromEntries(['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v6old'].map((k) => [k, randomUUID()]));

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
  await pg.psql(`SELECT edgestat.add_site('${SITE}')`);
  token = await pg.psql(`SELECT edgestat.dashboard_token('${SITE}')`);
  await pg.psql(`SELECT edgestat.add_goal('${SITE}', 'Signup', event => 'signup')`);
  await pg.psql(`SELECT edgestat.add_goal('${SITE}', 'Purchase', event => 'purchase')`);
  await pg.psql(`SELECT edgestat.add_goal('${SITE}', 'Pricing', page => '/pricing')`);

  await visit(BERLIN, V.v1, [['pageview', '/'], ['pageview', '/pricing'], ['signup', '/pricing'],
    ['purchase', '/pricing', { rv: { amount: 19.99, currency: 'EUR' } }]]);
  await visit(TOKYO, V.v2, [['pageview', '/'], ['pageview', '/pricing'], ['signup', '/pricing']]);
  await visit(SAN_FRANCISCO, V.v3, [['pageview', '/blog']]);
  await visit(BERLIN, V.v4, [['pageview', '/'], ['pageview', '/'], ['pageview', '/docs']]);
  await visit(TOKYO, V.v5, [['pageview', '/pricing'], ['purchase', '/pricing', { rv: { amount: '5', currency: 'USD' } }]]);
  const old = await visit(BERLIN, V.v6, [['pageview', '/docs']]);
  await waitFor(async () => (await pg.psql(`SELECT count(*) FROM edgestat.events WHERE site_id = (SELECT site_id FROM edgestat.sites WHERE domain = '${SITE}')`)) === String(posted),
    { message: 'the data set stored' });
  // v6 first came 30 hours ago: its first session and first_seen move back.
  await pg.psql(`UPDATE edgestat.sessions SET started_at = started_at - interval '30 hours' WHERE session_id = ${lit(old)}`);
  await pg.psql(`UPDATE edgestat.visitors SET first_seen = first_seen - interval '30 hours' WHERE visitor_id = ${lit(V.v6)}`);
  await visit(BERLIN, V.v6, [['pageview', '/docs']]);
  await waitFor(async () => (await pg.psql(`SELECT count(*) FROM edgestat.sessions WHERE visitor_id = ${lit(V.v6)}`)) === '2',
    { message: 'v6\'s second session' });

  await pg.psql(`SELECT edgestat.add_alert('${SITE}', 'pageviews', 3, '1 hour')`);
  await pg.psql(`SELECT edgestat.add_alert('${SITE}', 'Signup', 100, '1 day')`);
  browser = await launchChromium(chromium);
});

after(async () => {
  await browser?.close();
  await pg?.stop();
  if (geoDir) rmSync(geoDir, { recursive: true, force: true });
});

async function openDashboard() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const apiErrors = [];
  page.on('response', (r) => { if (r.url().includes('/api/') && r.status() !== 200) apiErrors.push(`${r.status()} ${r.url()}`); });
  page.errors = errors;
  page.apiErrors = apiErrors;
  await page.goto(`${pg.baseUrl}/dashboard/?token=${token}`);
  await page.locator('#site-domain').filter({ hasText: SITE }).waitFor();
  await settled(page, 1);
  return page;
}

/** Wait until `n` report refreshes in all have been applied and none is under way; returns the params used. */
async function settled(page, n) {
  await page.waitForFunction((n) => {
    const s = window.edgestat.state;
    return s.refreshed >= n && s.lastParams && s.pending === 0;
  }, n);
  return page.evaluate(() => window.edgestat.state.lastParams);
}
/** Do something that refreshes the reports, then wait for that refresh. */
async function refreshAfter(page, action) {
  const n = await page.evaluate(() => window.edgestat.state.refreshed);
  await action();
  return settled(page, n + 1);
}

/** The SQL arguments (site, since, until) of the page's last refresh, and its filters. */
const args = (p) => `${lit(SITE)}, ${lit(p.since)}::timestamptz, ${lit(p.until)}::timestamptz`;
const filt = (p) => `${lit(p.filters || '{}')}::jsonb`;

async function goalsOnScreen(page) {
  return page.$$eval('#goals tr[data-goal]', (trs) => trs.map((tr) => ({
    goal: tr.dataset.goal,
    visitors: tr.querySelector('.visitors').textContent,
    events: tr.querySelector('.events').textContent,
    cr: tr.querySelector('.cr').textContent,
    revenue: [...tr.querySelectorAll('.money')].map((m) => `${Number(m.dataset.amount)} ${m.dataset.currency}`).sort(),
  })));
}
/** goals() rows as the panel shows them: one line per goal, revenues per currency. */
async function goalsFromSql(p) {
  const rows = await pg.query(`SELECT * FROM edgestat.goals(${args(p)}, ${filt(p)})`);
  const out = [];
  for (const r of rows) {
    let g = out.find((x) => x.goal === r.goal);
    if (!g) {
      g = { goal: r.goal, visitors: String(r.visitors), events: String(r.events), cr: `${Number(r.conversion_rate).toFixed(2)}%`, revenue: [] };
      out.push(g);
    }
    if (r.revenue != null) g.revenue.push(`${Number(r.revenue)} ${r.currency}`);
  }
  for (const g of out) g.revenue.sort();
  return out;
}

test('dashboard_api: the 1.0 endpoints answer as the 1.0 functions; the new ones as theirs; bad parameters are 400', async () => {
  const api = async (ep, params = {}) => JSON.parse(await pg.psql(`SELECT edgestat.dashboard_api(${lit(token)}, ${lit(ep)}, ${lit(JSON.stringify(params))})`));
  const until = new Date().toISOString();
  const since = new Date(Date.now() - 86400e3).toISOString();
  const r = { since, until };
  const A = `${lit(SITE)}, ${lit(since)}::timestamptz, ${lit(until)}::timestamptz`;
  const one = async (sql) => JSON.parse(await pg.psql(sql));

  assert.deepEqual(await api('summary', r), await one(`SELECT row_to_json(x) FROM edgestat.summary(${A}) x`));
  assert.deepEqual(await api('timeseries', r), await one(`SELECT json_agg(x ORDER BY x.bucket) FROM edgestat.timeseries(${A}, '1 hour') x`));
  assert.deepEqual(await api('breakdown', { ...r, dimension: 'country' }),
    await one(`SELECT json_agg(x) FROM edgestat.breakdown(${lit(SITE)}, 'country', ${lit(since)}, ${lit(until)}, 10) x`));
  // filters: JSON text in the query string.
  const de = { ...r, filters: '{"country":"DE"}' };
  assert.deepEqual(await api('summary', de), await one(`SELECT row_to_json(x) FROM edgestat.summary(${A}, '{"country":"DE"}') x`));
  assert.deepEqual(await api('timeseries', de), await one(`SELECT json_agg(x ORDER BY x.bucket) FROM edgestat.timeseries(${A}, '1 hour', '{"country":"DE"}') x`));
  assert.deepEqual(await api('breakdown', { ...de, dimension: 'page' }),
    await one(`SELECT json_agg(x) FROM edgestat.breakdown(${lit(SITE)}, 'page', ${lit(since)}, ${lit(until)}, 10, '{"country":"DE"}') x`));
  assert.equal((await api('summary', de)).visitors, 3, 'v1, v4, v6 are in Berlin');
  assert.deepEqual(await api('goals', de), await one(`SELECT json_agg(x) FROM edgestat.goals(${A}, '{"country":"DE"}') x`));
  assert.deepEqual(await api('funnel', { ...r, steps: '["Signup","Purchase"]' }),
    await one(`SELECT json_agg(x ORDER BY x.step) FROM edgestat.funnel(${lit(SITE)}, ARRAY['Signup','Purchase'], ${lit(since)}, ${lit(until)}) x`));
  assert.deepEqual(await api('journeys', r), await one(`SELECT json_agg(x) FROM edgestat.journeys(${A}, 3, 20) x`));
  assert.deepEqual(await api('compare', { ...r, against: 'year' }), await one(`SELECT json_agg(x) FROM edgestat.compare(${A}, 'year') x`));
  assert.deepEqual(await api('retention', { ...r, unit: 'day' }), await one(`SELECT json_agg(x ORDER BY x.cohort, x.period) FROM edgestat.retention(${A}, 'day') x`));
  const alerts = await api('alerts');
  assert.deepEqual(alerts.alerts, await one(`SELECT json_agg(a) FROM edgestat.alerts(${lit(SITE)}) a`));

  // Errors reach the browser as HTTP 400 (class 22 / 42), never 500.
  for (const [ep, q] of [
    ['summary', 'filters=%7B%22password%22%3A%22x%22%7D'],   // unknown dimension
    ['summary', 'filters=not-json'],
    ['breakdown', 'filters=%5B1%5D'],                         // not an object
    ['funnel', ''],                                           // no steps
    ['funnel', 'steps=%5B%22Nope%22%5D'],                     // unknown goal
    ['funnel', 'steps=%22Signup%22'],                         // not an array
    ['retention', 'unit=fortnight'],
    ['compare', 'against=tomorrow'],
  ]) {
    const res = await fetch(`${pg.baseUrl}/api/${ep}?token=${token}&${q}`);
    const body = await res.json();
    assert.equal(res.status, 400, `${ep}?${q}: ${JSON.stringify(body)}`);
    assert.ok(body.error && body.sqlstate, JSON.stringify(body));
  }
  const ok = await fetch(`${pg.baseUrl}/api/goals?token=${token}&filters=${encodeURIComponent('{"page":"/pricing"}')}`);
  assert.equal(ok.status, 200);
});

test('goals, journeys, retention and alerts panels show what the SQL functions return', async () => {
  const page = await openDashboard();
  let p = await page.evaluate(() => window.edgestat.state.lastParams);

  // Goals: visitors, events, conversion rate, revenue per currency.
  const goals = await goalsFromSql(p);
  assert.equal(goals.length, 3);
  assert.deepEqual(await goalsOnScreen(page), goals);
  const signup = goals.find((g) => g.goal === 'Signup');
  assert.deepEqual([signup.visitors, signup.events], ['2', '2']);
  const [revCount] = await pg.query(`SELECT count(*)::int AS n FROM edgestat.events WHERE revenue IS NOT NULL`).catch(() => [{ n: 0 }]);
  if (revCount.n) {
    // The writer stores rv: Purchase shows its two currencies.
    assert.deepEqual(goals.find((g) => g.goal === 'Purchase').revenue, ['19.99 EUR', '5 USD']);
    assert.match(await page.locator('#goals tr[data-goal="Purchase"] .rev').innerText(), /€19\.99[\s\S]*\$5\.00/);
  }

  // Journeys: first three pages of each visit, repeats folded.
  const journeys = await pg.query(`SELECT * FROM edgestat.journeys(${args(p)}, 3, 10, ${filt(p)})`);
  const shown = await page.$$eval('#journeys tr[data-journey]', (trs) => trs.map((tr) => ({
    journey: JSON.parse(tr.dataset.journey), visits: Number(tr.querySelector('.visits').textContent),
  })));
  assert.deepEqual(shown, journeys.map((j) => ({ journey: j.journey, visits: j.visits })));
  assert.ok(shown.some((j) => JSON.stringify(j.journey) === '["/","/docs"]'), 'v4\'s / -> / -> /docs folds to / -> /docs');

  // Retention over 7 days, by day: v6's cohort (30 h ago) came back today.
  p = await refreshAfter(page, () => page.locator('.range button[data-range="7d"]').click());
  assert.equal(await page.locator('#retention-unit').inputValue(), 'day');
  const ret = await pg.query(`SELECT cohort::text, visitors, period, retained, rate FROM edgestat.retention(${args(p)}, 'day', ${filt(p)}) ORDER BY 1, 3`);
  const cells = await page.$$eval('#retention td.cell', (tds) => tds.map((td) => ({
    cohort: td.closest('tr').dataset.cohort, period: Number(td.dataset.period),
    retained: Number(td.dataset.retained), rate: td.textContent,
  })));
  assert.deepEqual(cells, ret.map((r) => ({ cohort: r.cohort, period: r.period, retained: r.retained, rate: `${Number(r.rate).toFixed(2)}%` })));
  const sizes = await page.$$eval('#retention tr[data-cohort]', (trs) => trs.map((tr) => [tr.dataset.cohort, tr.querySelector('.size').textContent]));
  assert.deepEqual(sizes, [...new Map(ret.map((r) => [r.cohort, String(r.visitors)]))]);
  const first = await pg.psql(`SELECT (first_seen AT TIME ZONE 'UTC')::date FROM edgestat.visitors WHERE visitor_id = ${lit(V.v6)}`);
  const back = (Date.parse(new Date().toISOString().slice(0, 10)) - Date.parse(first)) / 86400e3; // 1 or 2 days
  const c6 = ret.filter((r) => r.cohort === first);
  assert.deepEqual(c6.map((r) => [r.period, r.retained]), [[0, 1], [1, back === 1 ? 1 : 0], ...(back === 2 ? [[2, 1]] : [])], JSON.stringify(ret));
  // By week: one column per week.
  p = await refreshAfter(page, () => page.selectOption('#retention-unit', 'week'));
  const weekly = await pg.query(`SELECT cohort::text, period, rate FROM edgestat.retention(${args(p)}, 'week', ${filt(p)}) ORDER BY 1, 2`);
  assert.deepEqual(await page.$$eval('#retention td.cell', (tds) => tds.map((td) => [td.closest('tr').dataset.cohort, Number(td.dataset.period), td.textContent])),
    weekly.map((r) => [r.cohort, r.period, `${Number(r.rate).toFixed(2)}%`]));

  // Alerts: the rules; the pageviews one fires when the alerts are checked.
  await pg.psql('SELECT edgestat.check_alerts()');
  const rules = await pg.query(`SELECT * FROM edgestat.alerts(${lit(SITE)})`);
  assert.deepEqual(rules.map((r) => [r.metric, r.fired]), [['pageviews', 1], ['Signup', 0]]);
  await refreshAfter(page, () => page.locator('.range button[data-range="24h"]').click());
  const alertRows = await page.$$eval('#alerts tr[data-alert]', (trs) => trs.map((tr) => ({
    alert: Number(tr.dataset.alert), metric: tr.querySelector('.name').textContent,
    above: tr.querySelector('.above').textContent, fired: Number(tr.querySelector('.fired').textContent),
    never: tr.querySelector('.last').textContent === 'never',
  })));
  assert.deepEqual(alertRows, rules.map((r) => ({ alert: r.alert, metric: r.metric, above: String(r.above), fired: r.fired, never: r.last_fired == null })));
  const [fired] = await pg.query(`SELECT alert_id, value FROM edgestat.alert_log`);
  assert.equal(await page.locator(`#alert-log li[data-alert="${fired.alert_id}"] .value`).textContent(), String(fired.value));

  await page.screenshot({ path: join(artifacts, 'analytics.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.apiErrors, []);
  await page.context().close();
});

test('funnel: steps chosen from the goals, figures from funnel()', async () => {
  const page = await openDashboard();
  assert.match(await page.locator('#funnel').innerText(), /Add goals as steps/);
  assert.deepEqual((await page.$$eval('#funnel-add option', (os) => os.map((o) => o.value))).sort(), ['', 'Pricing', 'Purchase', 'Signup']);
  await refreshAfter(page, () => page.selectOption('#funnel-add', 'Pricing'));
  await refreshAfter(page, () => page.selectOption('#funnel-add', 'Signup'));
  const p = await refreshAfter(page, () => page.selectOption('#funnel-add', 'Purchase'));
  assert.deepEqual(await page.$$eval('#funnel-steps .step-chip', (cs) => cs.map((c) => c.dataset.goal)), ['Pricing', 'Signup', 'Purchase']);
  const sql = await pg.query(`SELECT * FROM edgestat.funnel(${lit(SITE)}, ARRAY['Pricing','Signup','Purchase'], ${lit(p.since)}, ${lit(p.until)}, '1 day', ${filt(p)}) ORDER BY step`);
  const shown = await page.$$eval('#funnel .step', (ds) => ds.map((d) => ({
    step: Number(d.dataset.step), goal: d.dataset.goal,
    visitors: d.querySelector('.visitors').textContent, cr: d.querySelector('.cr').textContent,
    dropoff: d.querySelector('.dropoff')?.textContent ?? null,
  })));
  assert.deepEqual(shown, sql.map((r) => ({
    step: r.step, goal: r.goal, visitors: String(r.visitors), cr: `${Number(r.conversion_rate).toFixed(2)}%`,
    dropoff: r.step > 1 ? String(r.dropoff) : null,
  })));
  // Pricing: v1, v2, v5; then Signup: v1, v2; then Purchase: v1 (v5 bought without signing up).
  assert.deepEqual(sql.map((r) => r.visitors), [3, 2, 1]);
  // Removing a step asks again; so does another window.
  await refreshAfter(page, () => page.locator('#funnel-steps .step-chip[data-goal="Signup"] .remove').click());
  const p2 = await refreshAfter(page, () => page.selectOption('#funnel-within', '1 hour'));
  const two = await pg.query(`SELECT visitors FROM edgestat.funnel(${lit(SITE)}, ARRAY['Pricing','Purchase'], ${lit(p2.since)}, ${lit(p2.until)}, '1 hour') ORDER BY step`);
  assert.deepEqual(await page.$$eval('#funnel .step .visitors', (xs) => xs.map((x) => Number(x.textContent))), two.map((r) => r.visitors));
  // The steps and window outlive a reload (kept in this browser, per site).
  await page.reload();
  await page.locator('#site-domain').filter({ hasText: SITE }).waitFor();
  await settled(page, 1);
  assert.deepEqual(await page.$$eval('#funnel-steps .step-chip', (cs) => cs.map((c) => c.dataset.goal)), ['Pricing', 'Purchase']);
  assert.equal(await page.locator('#funnel-within').inputValue(), '1 hour');
  assert.deepEqual(await page.$$eval('#funnel .step .visitors', (xs) => xs.map((x) => Number(x.textContent))), two.map((r) => r.visitors));
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.apiErrors, []);
  await page.context().close();
});

test('clicking a row filters every panel; the chip removes the filter', async () => {
  const page = await openDashboard();
  const p0 = await page.evaluate(() => window.edgestat.state.lastParams);
  const [all] = await pg.query(`SELECT * FROM edgestat.summary(${args(p0)})`);
  assert.equal(await page.locator('#k-visitors').textContent(), String(all.visitors));
  assert.equal(all.visitors, 6);

  // Country Germany (v1, v4, v6).
  const p = await refreshAfter(page, () => page.locator('#top-countries tr[data-dim="country"][data-value="DE"]').click());
  assert.deepEqual(JSON.parse(p.filters), { country: 'DE' });
  await page.locator('#filters .chip[data-dim="country"]').waitFor();
  const [de] = await pg.query(`SELECT * FROM edgestat.summary(${args(p)}, '{"country":"DE"}')`);
  assert.equal(de.visitors, 3);
  assert.equal(await page.locator('#k-visitors').textContent(), String(de.visitors));
  assert.equal(await page.locator('#k-pageviews').textContent(), String(de.pageviews));
  // The other lists and panels are filtered too.
  const pages = await pg.query(`SELECT value, visitors FROM edgestat.breakdown(${lit(SITE)}, 'page', ${lit(p.since)}, ${lit(p.until)}, 8, '{"country":"DE"}')`);
  assert.deepEqual(await page.$$eval('#top-pages tr[data-value]', (trs) => trs.map((tr) => ({ value: tr.dataset.value, visitors: Number(tr.querySelector('td.num').textContent) }))), pages);
  assert.ok(!pages.some((r) => r.value === '/blog'), '/blog was only seen from San Francisco');
  assert.deepEqual(await goalsOnScreen(page), await goalsFromSql(p));
  assert.equal((await goalsOnScreen(page)).find((g) => g.goal === 'Signup').visitors, '1', 'only v1 signed up in Germany');
  const countries = await page.$$eval('#top-countries tr[data-value]', (trs) => trs.map((tr) => tr.dataset.value));
  assert.deepEqual(countries, ['DE']);
  const journeys = await pg.query(`SELECT journey FROM edgestat.journeys(${args(p)}, 3, 10, '{"country":"DE"}')`);
  assert.deepEqual(await page.$$eval('#journeys tr[data-journey]', (trs) => trs.map((tr) => JSON.parse(tr.dataset.journey))), journeys.map((j) => j.journey));

  // A second filter, from another list: page /pricing, within Germany: v1 only.
  const p2 = await refreshAfter(page, () => page.locator('#top-pages tr[data-value="/pricing"]').click());
  assert.deepEqual(JSON.parse(p2.filters), { country: 'DE', page: '/pricing' });
  const [both] = await pg.query(`SELECT * FROM edgestat.summary(${args(p2)}, ${filt(p2)})`);
  assert.equal(both.visitors, 1);
  assert.equal(await page.locator('#k-visitors').textContent(), '1');

  // Comparison with the previous 24 hours, filtered as well: in Germany v6's
  // first visit was 30 h ago, so 3 visits now against 1 before: +200 %.
  await refreshAfter(page, () => page.locator('#filters .chip[data-dim="page"] .remove').click());
  const p3 = await refreshAfter(page, () => page.selectOption('#compare', 'previous'));
  const cmp = await pg.query(`SELECT * FROM edgestat.compare(${args(p3)}, 'previous', ${filt(p3)})`);
  for (const r of cmp) {
    const id = { visitors: 'd-visitors', visits: 'd-visits', pageviews: 'd-pageviews', views_per_visit: 'd-vpv', bounce_rate: 'd-bounce', visit_duration: 'd-duration' }[r.metric];
    assert.equal(await page.locator(`#${id}`).getAttribute('data-change'), r.change == null ? '' : String(r.change), r.metric);
  }
  // The chart draws the previous 24 h's visitors, bucket by bucket, dashed.
  const len = Date.parse(p3.until) - Date.parse(p3.since);
  const earlier = await pg.query(`SELECT visitors, visits FROM edgestat.timeseries(${lit(SITE)}, ${lit(new Date(Date.parse(p3.since) - len).toISOString())},
    ${lit(p3.since)}, '1 hour', ${filt(p3)}) ORDER BY bucket`);
  assert.equal(Number(await page.locator('#chart path.line.previous').getAttribute('data-points')), earlier.length);
  assert.equal(earlier.reduce((a, r) => a + r.visits, 0), 1, 'v6\'s visit 30 h ago');
  assert.ok(await page.locator('#legend-previous').isVisible());
  await page.screenshot({ path: join(artifacts, 'filtered.png'), fullPage: true });
  const visits = cmp.find((r) => r.metric === 'visits');
  assert.deepEqual([Number(visits.value), Number(visits.previous), Number(visits.change)], [3, 1, 200]);
  assert.equal(await page.locator('#d-visits').textContent(), '+200.0%');
  assert.ok(await page.locator('#d-visits.up').count() === 1);
  assert.equal(await page.locator('#d-visits').getAttribute('title'), '1 in the previous period');
  // Without filters the previous 24 h are empty: the change is undefined ("new").
  const p5 = await refreshAfter(page, () => page.locator('#clear-filters').click());
  const [cv] = await pg.query(`SELECT * FROM edgestat.compare(${args(p5)}, 'previous') WHERE metric = 'visitors'`);
  assert.equal(cv.change, null);
  assert.equal(await page.locator('#d-visitors').textContent(), 'new');
  assert.equal(await page.locator('#d-visitors').getAttribute('data-change'), '');
  await refreshAfter(page, () => page.selectOption('#compare', ''));
  assert.equal(await page.locator('#d-visitors').textContent(), '');
  assert.equal(await page.locator('#chart path.line.previous').count(), 0);
  assert.ok(await page.locator('#legend-previous').isHidden());

  // With the filters gone, the unfiltered figures are back.
  const p4 = await page.evaluate(() => window.edgestat.state.lastParams);
  assert.equal(p4.filters, undefined);
  assert.ok(await page.locator('#filters').isHidden());
  assert.equal(await page.locator('#k-visitors').textContent(), String(all.visitors));
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.apiErrors, []);
  await page.context().close();
});
