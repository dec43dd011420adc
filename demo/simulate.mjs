#!/usr/bin/env node
// edgestat traffic simulator: realistic visitor journeys sent as beacons
// (POST /e, docs/http.md) to an edgestat worker on 127.0.0.1, each visitor from a
// real public address of some country (X-Forwarded-For; the worker must
// trust 127.0.0.1 as a proxy) with a desktop or mobile User-Agent and a
// matching viewport width.
//
//   node demo/simulate.mjs --port 8080 --site demo.test --origin http://127.0.0.1:8000
//        [--visitors 10] [--duration SECONDS] [--speed 1] [--quiet]
//
// A journey: pageview -> scroll depths -> heartbeats while engaged ->
// interactions -> maybe a custom goal -> navigate to another page (or leave).
// About a third of the journeys are returning visitors (same visitor id, new
// session).  Runs until Ctrl-C or --duration.  Only ever sends to 127.0.0.1.
import { randomUUID } from 'node:crypto';
import { PLACES } from './ips.mjs';

const HOST = '127.0.0.1'; // never anything else

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const k = a.slice(2);
    const v = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : true;
    o[k] = v;
  }
  return o;
}

const opt = args(process.argv.slice(2));
const PORT = Number(opt.port || process.env.EDGESTAT_PORT || 8080);
const SITE = String(opt.site || 'demo.test');
const ORIGIN = String(opt.origin || `http://${SITE}`);
const TARGET = Number(opt.visitors || 10);
const SPEED = Number(opt.speed || 1);
const DURATION = opt.duration ? Number(opt.duration) * 1000 : Infinity;
const QUIET = Boolean(opt.quiet);

/* ---------- the site's shape ---------- */
const PAGES = {
  '/': { links: ['/features', '/pricing', '/blog', '/docs', '/signup'], read: 25 },
  '/features': { links: ['/pricing', '/docs', '/signup', '/'], read: 40 },
  '/pricing': { links: ['/signup', '/features', '/docs', '/'], read: 35, goal: ['cta_click', 0.25] },
  '/blog': { links: ['/blog/postgres-inside', '/blog/live-maps', '/blog/no-cookies', '/'], read: 20 },
  '/blog/postgres-inside': { links: ['/blog', '/features', '/signup'], read: 90, goal: ['newsletter', 0.08] },
  '/blog/live-maps': { links: ['/blog', '/features', '/pricing'], read: 70, goal: ['newsletter', 0.06] },
  '/blog/no-cookies': { links: ['/blog', '/pricing'], read: 60 },
  '/docs': { links: ['/docs/install', '/docs/api', '/pricing', '/'], read: 45 },
  '/docs/install': { links: ['/docs/api', '/docs', '/signup'], read: 80, goal: ['copy_snippet', 0.3] },
  '/docs/api': { links: ['/docs', '/docs/install'], read: 75 },
  '/signup': { links: ['/pricing', '/'], read: 30, goal: ['signup', 0.35] },
};
const ENTRIES = [['/', 10], ['/blog/postgres-inside', 5], ['/pricing', 3], ['/docs/install', 3], ['/blog/live-maps', 2], ['/features', 2], ['/docs', 1]];
const REFERRERS = [
  [null, 8],
  ['https://www.google.com/', 9],
  ['https://news.ycombinator.com/item?id=41000000', 5],
  ['https://duckduckgo.com/', 2],
  ['https://www.reddit.com/r/PostgreSQL/', 3],
  ['https://github.com/edgestat/edgestat', 2],
  ['https://t.co/x1y2z3', 2],
  ['https://www.bing.com/', 1],
  ['https://lobste.rs/', 1],
];
const CAMPAIGNS = [
  '?utm_source=newsletter&utm_medium=email&utm_campaign=launch',
  '?utm_source=mastodon&utm_medium=social&utm_campaign=launch',
  '?utm_source=pgconf&utm_medium=talk&utm_campaign=pgconf',
];
const DEVICES = [
  { w: 1440, weight: 5, ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36' },
  { w: 1920, weight: 5, ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36' },
  { w: 1366, weight: 2, ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0' },
  { w: 1680, weight: 2, ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15' },
  { w: 1280, weight: 1, ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0' },
  { w: 1536, weight: 1, ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0' },
  { w: 390, weight: 4, ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1' },
  { w: 412, weight: 4, ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36' },
  { w: 360, weight: 2, ua: 'Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36' },
  { w: 820, weight: 1, ua: 'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1' },
];

/* ---------- randomness ---------- */
const rnd = Math.random;
const between = (a, b) => a + rnd() * (b - a);
function pick(weighted, key = 1) {
  const total = weighted.reduce((s, x) => s + (Array.isArray(x) ? x[key] : x.weight ?? x.w), 0);
  let r = rnd() * total;
  for (const x of weighted) {
    r -= Array.isArray(x) ? x[key] : x.weight ?? x.w;
    if (r <= 0) return Array.isArray(x) ? x[0] : x;
  }
  const last = weighted[weighted.length - 1];
  return Array.isArray(last) ? last[0] : last;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms / SPEED));

/* ---------- sending ---------- */
const stats = { sent: 0, ok: 0, rejected: 0, errors: 0, journeys: 0, returning: 0, goals: 0, byStatus: {} };
let stopping = false;

async function send(visitor, beacon) {
  if (stopping) return;
  stats.sent++;
  try {
    const res = await fetch(`http://${HOST}:${PORT}/e`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain;charset=UTF-8',
        'user-agent': visitor.device.ua,
        'x-forwarded-for': visitor.place.ip,
        origin: ORIGIN,
      },
      body: JSON.stringify(beacon),
    });
    await res.arrayBuffer();
    if (res.status === 204) stats.ok++;
    else stats.rejected++;
    stats.byStatus[res.status] = (stats.byStatus[res.status] || 0) + 1;
  } catch {
    stats.errors++;
  }
}

/* ---------- visitors ---------- */
const returningPool = []; // visitors that may come back

function newVisitor() {
  return { v: randomUUID(), place: pick(PLACES), device: pick(DEVICES), engagement: between(0.2, 1.6) };
}

async function journey() {
  let visitor;
  if (returningPool.length > 3 && rnd() < 0.33) {
    visitor = returningPool.splice(Math.floor(rnd() * returningPool.length), 1)[0];
    stats.returning++;
  } else {
    visitor = newVisitor();
  }
  stats.journeys++;
  const s = randomUUID();
  const session = { et: 0, ic: 0 };
  let path = pick(ENTRIES);
  let ref = pick(REFERRERS);
  let query = rnd() < 0.12 ? pick(CAMPAIGNS.map((c) => [c, 1])) : '';
  // Bounce about 40% of the time; engaged visitors read more pages.
  const pagesWanted = rnd() < 0.4 ? 1 : 1 + Math.floor(between(1, 5) * visitor.engagement);

  for (let i = 0; i < pagesWanted && !stopping; i++) {
    const page = PAGES[path];
    const u = `${ORIGIN}${path}${query}`;
    const base = { d: SITE, u, v: visitor.v, s, w: visitor.device.w };
    let q = 0;
    let depth = 0;
    await send(visitor, { ...base, n: 'pageview', q: q++, r: ref || undefined, et: session.et, ic: session.ic });
    // Time on page, compressed: the real tracker would take minutes.
    const stay = between(4, 10 + page.read * 0.25) * 1000 * visitor.engagement;
    const started = Date.now();
    let lastBeat = 0;
    let interacted = false;
    while (!stopping && (Date.now() - started) * SPEED < stay) {
      await sleep(between(900, 2600));
      const elapsed = (Date.now() - started) * SPEED;
      session.et += Math.round(between(900, 2600));
      const r = rnd();
      if (depth < 100 && r < 0.45) {
        const next = Math.min(100, depth + 25);
        if (next > depth && rnd() < Math.min(1, (visitor.engagement * page.read) / 50)) {
          depth = next;
          await send(visitor, { ...base, n: 'scroll', q: q++, sd: depth, et: session.et, ic: session.ic });
        }
      } else if (r < 0.6 && (!interacted || rnd() < 0.3)) {
        interacted = true;
        session.ic++;
        await send(visitor, { ...base, n: 'interaction', q: q++, sd: depth, et: session.et, ic: session.ic });
      } else if (elapsed - lastBeat > 5000) {
        lastBeat = elapsed;
        await send(visitor, { ...base, n: 'heartbeat', q: q++, sd: depth, et: session.et, ic: session.ic });
      }
    }
    if (page.goal && rnd() < page.goal[1] * visitor.engagement) {
      const [name] = page.goal;
      stats.goals++;
      const p = name === 'signup' ? { plan: pick([['free', 5], ['pro', 2], ['team', 1]]) } : { page: path };
      await send(visitor, { ...base, n: name, q: q++, p, et: session.et, ic: session.ic });
    }
    const last = i === pagesWanted - 1;
    if (last) {
      await send(visitor, { ...base, n: 'leave', q: q++, sd: depth, et: session.et, ic: session.ic });
    } else {
      ref = u;
      query = '';
      path = page.links[Math.floor(rnd() * page.links.length)];
      await sleep(between(300, 1200));
    }
  }
  if (returningPool.length < 200 && rnd() < 0.6) returningPool.push(visitor);
}

/* ---------- main loop ---------- */
const t0 = Date.now();
let active = 0;
function status() {
  const secs = Math.max(1, (Date.now() - t0) / 1000);
  const codes = Object.entries(stats.byStatus).map(([k, v]) => `${k}:${v}`).join(' ');
  console.log(`[simulate] ${Math.round(secs)}s: ${stats.sent} beacons (${(stats.sent / secs).toFixed(1)}/s; ${codes}${stats.errors ? ` errors:${stats.errors}` : ''}), `
    + `${stats.journeys} visits (${stats.returning} returning), ${stats.goals} goals, ${active} on the site now`);
}

function stop() {
  if (stopping) return;
  stopping = true;
  status();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

if (!QUIET) console.log(`[simulate] sending to http://${HOST}:${PORT}/e as ${ORIGIN} (site ${SITE}), about ${TARGET} concurrent visitors; Ctrl-C stops`);
const statusTimer = QUIET ? null : setInterval(status, 15000);
const endAt = Date.now() + DURATION;

while (!stopping && Date.now() < endAt) {
  // The crowd breathes: between 60% and 140% of the target over ~3 minutes.
  const want = Math.max(1, Math.round(TARGET * (1 + 0.4 * Math.sin((Date.now() - t0) / 30000))));
  while (active < want) {
    active++;
    journey().catch(() => {}).finally(() => { active--; });
    await sleep(between(100, 600));
  }
  await sleep(500);
}
if (statusTimer) clearInterval(statusTimer);
stop();
