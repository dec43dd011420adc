// edgestat dashboard.  Served by the edgestat HTTP worker at /dashboard/;
// talks to the same origin only: GET /api/<endpoint> (JSON from
// edgestat.dashboard_api) and GET /live (Server-Sent Events, one message
// per visitor touched by a committed batch), the token in an Authorization
// header (see readToken).
//
// Every report panel (summary, chart, top lists, goals, funnel, retention,
// journeys, comparison) is asked for with the same range and the same
// filters: clicking a row of a list adds its value as a filter
// ({"country": "DE"}, docs/analytics.md), and every panel is fetched again.
import { geoNaturalEarth1, geoPath, geoGraticule10 } from 'd3-geo';
import { feature } from 'topojson-client';
import world from 'world-atlas/countries-110m.json';
import { scoreColor, SCORE_STOPS } from './color.js';

const $ = (id) => document.getElementById(id);
const FEED_MAX = 60;
const RANGES = { '24h': 24 * 3600e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };

const state = {
  token: readToken(),
  range: '24h',
  ttl: 300,
  markers: new Map(), // visitor id -> {el, lastSeen}
  es: null,
  refreshTimer: null,
  dirty: false,
  filters: {},        // dimension -> value: the rows clicked
  compare: '',        // '', 'previous' or 'year'
  funnel: [],         // goal names, in step order
  funnelWithin: '1 day',
  retUnit: '',        // '' = by range (day up to 7 days, else week)
  goalNames: [],
  gen: 0,             // reports refresh generation: older answers are dropped
  refreshed: 0,       // reports refreshes applied (tests wait on it)
  pending: 0,         // reports refreshes under way
};
// For tests and the curious: last SSE message and when it was applied.
window.edgestat = { lastEventAt: 0, events: 0, state };

/* ---------- the token: in the URL fragment, sent as a header ---------- */
// The token lives in the fragment (#token=…), which no request carries, so
// it never reaches logs or a Referer; requests send it as
// "Authorization: Bearer".  An old ?token= link still opens (1.1 only):
// the token moves into the fragment at once.
function readToken() {
  const h = new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
  if (h) return h;
  const url = new URL(location.href);
  const q = url.searchParams.get('token');
  if (!q) return '';
  url.searchParams.delete('token');
  url.hash = new URLSearchParams({ token: q }).toString();
  history.replaceState(null, '', url);
  return q;
}

function authHeaders() {
  return { Authorization: `Bearer ${state.token}` };
}

// Server-Sent Events over fetch(), since EventSource cannot send headers:
// the same readyState, onopen/onmessage/onerror and reconnection (after
// the server's "retry:") as EventSource; a 401 or 403 closes it for good.
function liveSource(url) {
  const src = { readyState: 0, onopen: null, onmessage: null, onerror: null, close: null };
  const ctl = new AbortController();
  let retry = 3000;
  src.close = () => { src.readyState = 2; ctl.abort(); };
  const fail = (closed) => {
    if (src.readyState === 2) return;
    src.readyState = closed ? 2 : 0;
    if (src.onerror) src.onerror(new Event('error'));
    if (!closed && src.readyState === 0) setTimeout(connect, retry);
  };
  async function connect() {
    if (src.readyState === 2) return;
    let res;
    try {
      res = await fetch(url, { headers: authHeaders(), cache: 'no-store', credentials: 'omit', signal: ctl.signal });
    } catch { fail(false); return; }
    if (!res.ok || !res.body) { fail(res.status === 401 || res.status === 403 || res.status === 404); return; }
    src.readyState = 1;
    if (src.onopen) src.onopen(new Event('open'));
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let at;
        // only whole events (ended by a blank line) are dispatched
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, at);
          buf = buf.slice(at + 2);
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            else if (line.startsWith('retry:')) retry = Number(line.slice(6)) || retry;
          }
          if (data.length && src.onmessage) src.onmessage(new MessageEvent('message', { data: data.join('\n') }));
        }
      }
    } catch { /* aborted or cut: reconnect below */ }
    fail(false);
  }
  connect();
  return src;
}

class AuthError extends Error {}

async function api(endpoint, params = {}) {
  const qs = new URLSearchParams(params);
  const res = await fetch(`/api/${endpoint}?${qs}`, { headers: authHeaders(), cache: 'no-store', credentials: 'omit' });
  if (res.status === 401 || res.status === 403) throw new AuthError('unauthorized');
  if (!res.ok) throw new Error(`/api/${endpoint}: HTTP ${res.status}`);
  return res.json();
}

function show(id) {
  for (const s of ['loading', 'auth-error', 'fatal', 'app']) $(s).hidden = s !== id;
}

function authFailed() {
  // Leave nothing of the site on screen: wipe the app, close the stream.
  if (state.es) { state.es.close(); state.es = null; }
  clearInterval(state.refreshTimer);
  $('app').remove();
  const app = document.createElement('div');
  app.id = 'app';
  app.hidden = true;
  document.body.appendChild(app);
  show('auth-error');
  document.title = 'edgestat: invalid or missing token';
}

/* ---------- formatting ---------- */
const nf = new Intl.NumberFormat('en');
const fmtInt = (n) => (n == null ? '–' : nf.format(Math.round(Number(n))));
const fmtDec = (n, d = 1) => (n == null ? '–' : Number(n).toFixed(d));
function fmtDuration(s) {
  if (s == null) return '–';
  s = Math.round(Number(s));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
function ccBadge(cc) {
  // A text badge rather than an emoji flag: renders without any emoji font.
  return cc && /^[A-Za-z]{2}$/.test(cc) ? `<span class="cc">${cc.toUpperCase()}</span>` : '';
}
const countryName = (() => {
  let dn = null;
  try { dn = new Intl.DisplayNames(['en'], { type: 'region' }); } catch { /* old browser */ }
  return (cc) => {
    if (!cc) return 'Unknown';
    try { return (dn && /^[A-Za-z]{2}$/.test(cc) && dn.of(cc.toUpperCase())) || cc; } catch { return cc; }
  };
})();
function place(city, country) {
  const c = country ? countryName(country) : '';
  return city ? `${city}, ${c}` : c || 'Someone';
}
function ago(ts) {
  const s = Math.max(0, Math.round((Date.now() - ts) / 1000));
  if (s < 5) return 'now';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

/* ---------- map ---------- */
const SVGNS = 'http://www.w3.org/2000/svg';
const projection = geoNaturalEarth1();
let pathGen;

function drawMap() {
  const land = feature(world, world.objects.countries);
  const sphere = { type: 'Sphere' };
  projection.fitExtent([[8, 8], [952, 462]], sphere);
  pathGen = geoPath(projection);
  $('sphere').setAttribute('d', pathGen(sphere));
  const g = $('countries');
  const grat = document.createElementNS(SVGNS, 'path');
  grat.setAttribute('class', 'graticule');
  grat.setAttribute('d', pathGen(geoGraticule10()));
  g.appendChild(grat);
  for (const f of land.features) {
    const p = document.createElementNS(SVGNS, 'path');
    p.setAttribute('class', 'country');
    p.setAttribute('d', pathGen(f));
    const t = document.createElementNS(SVGNS, 'title');
    t.textContent = f.properties?.name ?? '';
    p.appendChild(t);
    g.appendChild(p);
  }
  const ramp = SCORE_STOPS.map(([s]) => `${scoreColor(s)} ${s}%`).join(', ');
  $('legend-ramp').style.background = `linear-gradient(90deg, ${ramp})`;
}

function upsertMarker(v, lat, lon, score, city, country, lastSeen, flash) {
  if (lat == null || lon == null || !v) return;
  const xy = projection([Number(lon), Number(lat)]);
  if (!xy || !Number.isFinite(xy[0]) || !Number.isFinite(xy[1])) return;
  let m = state.markers.get(v);
  if (!m) {
    const el = document.createElementNS(SVGNS, 'circle');
    el.setAttribute('class', 'marker');
    el.setAttribute('r', '5');
    el.appendChild(document.createElementNS(SVGNS, 'title'));
    $('markers').appendChild(el);
    m = { el, lastSeen: 0 };
    state.markers.set(v, m);
  }
  m.lastSeen = Math.max(m.lastSeen, lastSeen);
  const fill = scoreColor(score);
  m.el.setAttribute('cx', xy[0].toFixed(1));
  m.el.setAttribute('cy', xy[1].toFixed(1));
  m.el.setAttribute('fill', fill);
  m.el.dataset.v = v;
  m.el.dataset.score = String(score ?? '');
  m.el.firstChild.textContent = `${place(city, country)} · score ${score ?? '–'}`;
  if (flash) ripple(xy, fill);
  $('marker-count').textContent = fmtInt(state.markers.size);
}

function ripple(xy, fill) {
  const r = document.createElementNS(SVGNS, 'circle');
  r.setAttribute('class', 'ripple');
  r.setAttribute('cx', xy[0].toFixed(1));
  r.setAttribute('cy', xy[1].toFixed(1));
  r.setAttribute('r', '5');
  r.setAttribute('stroke', fill);
  $('markers').insertBefore(r, $('markers').firstChild);
  setTimeout(() => r.remove(), 1300);
}

function expireMarkers() {
  const cutoff = Date.now() - state.ttl * 1000;
  for (const [v, m] of state.markers) {
    if (m.lastSeen < cutoff) { m.el.remove(); state.markers.delete(v); }
  }
  $('marker-count').textContent = fmtInt(state.markers.size);
}

/* ---------- live feed ---------- */
const EVENT_LABEL = { pageview: 'viewed', heartbeat: 'is reading', scroll: 'scrolled', interaction: 'clicked on', leave: 'left' };

function feedItem(ev, ts) {
  const li = document.createElement('li');
  const n = ev.n || 'event';
  const known = Object.prototype.hasOwnProperty.call(EVENT_LABEL, n);
  li.className = `ev ev-${known ? n : 'goal'}`;
  const dot = `<span class="dot" style="background:${scoreColor(ev.score ?? 0)}"></span>`;
  const what = known ? EVENT_LABEL[n] : `reached goal <b>${esc(n)}</b> on`;
  li.innerHTML = `${dot}<div class="ev-body"><div class="ev-line"><span class="who">${esc(place(ev.city, ev.country))}</span> ${what} <span class="path">${esc(ev.path || '/')}</span></div>`
    + `<div class="ev-meta"><time data-ts="${ts}">${ago(ts)}</time>${ev.score != null ? ` · score ${esc(ev.score)}` : ''}</div></div>`;
  return li;
}

function pushFeed(ev, ts) {
  const ul = $('feed');
  ul.insertBefore(feedItem(ev, ts), ul.firstChild);
  while (ul.children.length > FEED_MAX) ul.lastChild.remove();
}

function tickTimes() {
  for (const t of document.querySelectorAll('#feed time[data-ts]')) t.textContent = ago(Number(t.dataset.ts));
}

/* ---------- live stream ---------- */
function setLive(n) {
  if (n == null) return;
  $('live-count').textContent = fmtInt(n);
}

function setConn(ok, text) {
  $('conn').classList.toggle('ok', ok);
  $('conn-text').textContent = text;
}

function onLiveMessage(e) {
  let ev;
  try { ev = JSON.parse(e.data); } catch { return; }
  const now = Date.now();
  setLive(ev.live);
  upsertMarker(ev.v, ev.lat, ev.lon, ev.score, ev.city, ev.country, now, true);
  if (ev.n !== 'heartbeat') pushFeed(ev, now);
  state.dirty = true;
  window.edgestat.events++;
  window.edgestat.lastEventAt = now;
}

function openStream() {
  const es = liveSource('/live');
  state.es = es;
  es.onopen = () => setConn(true, 'live');
  es.onmessage = onLiveMessage;
  es.onerror = async () => {
    setConn(false, 'reconnecting');
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. 401): check the token, then retry.
      es.close();
      try {
        await api('site');
        setTimeout(openStream, 2000);
      } catch (err) {
        if (err instanceof AuthError) authFailed();
        else setTimeout(openStream, 5000);
      }
    }
  };
}

/* ---------- reports ---------- */
function rangeParams() {
  const until = new Date();
  const since = new Date(until.getTime() - RANGES[state.range]);
  return { since: since.toISOString(), until: until.toISOString() };
}

function renderSummary(s) {
  $('k-visitors').textContent = fmtInt(s.visitors);
  $('k-visits').textContent = fmtInt(s.visits);
  $('k-pageviews').textContent = fmtInt(s.pageviews);
  $('k-vpv').textContent = fmtDec(s.views_per_visit);
  $('k-bounce').textContent = s.bounce_rate == null ? '–' : `${Math.round(s.bounce_rate)}%`;
  $('k-duration').textContent = fmtDuration(s.visit_duration);
}

// A row whose value can be a filter: clicking it filters every panel by it.
function filterAttrs(dim, value) {
  if (value == null || value === '') return '';
  const on = state.filters[dim] === value;
  return ` class="filterable${on ? ' active' : ''}" data-dim="${esc(dim)}" data-value="${esc(value)}" title="${on ? 'Remove this filter' : 'Filter every panel by this'}"`;
}

function renderTop(id, rows, label, dim) {
  const t = $(id);
  const max = Math.max(1, ...rows.map((r) => Number(r.visitors) || 0));
  const head = '<tr><th></th><th class="num">Visitors</th><th class="num">Views</th></tr>';
  if (!rows.length) { t.innerHTML = `${head}<tr><td colspan="3" class="empty">No data yet</td></tr>`; return; }
  t.innerHTML = head + rows.map((r) => {
    const w = ((Number(r.visitors) || 0) / max) * 100;
    return `<tr${filterAttrs(dim, r.value)}><td class="name"><span class="bar" style="width:${w.toFixed(1)}%"></span><span class="txt">${label(r.value)}</span></td>`
      + `<td class="num">${fmtInt(r.visitors)}</td><td class="num">${fmtInt(r.pageviews)}</td></tr>`;
  }).join('');
}

/* ---------- filters ---------- */
const DIM_LABEL = {
  page: 'Page', entry_page: 'Entry page', exit_page: 'Exit page', referrer: 'Referrer',
  utm_source: 'UTM source', utm_medium: 'UTM medium', utm_campaign: 'UTM campaign',
  country: 'Country', region: 'Region', city: 'City', browser: 'Browser', os: 'OS', device: 'Device', event: 'Event',
};

function toggleFilter(dim, value) {
  if (state.filters[dim] === value) delete state.filters[dim];
  else state.filters[dim] = value;
  renderFilters();
  guarded(refreshReports);
}

function renderFilters() {
  const entries = Object.entries(state.filters);
  $('filters').hidden = !entries.length;
  $('filter-chips').innerHTML = entries.map(([dim, v]) => {
    const shown = dim === 'country' ? countryName(v) : v;
    return `<span class="chip" data-dim="${esc(dim)}" data-value="${esc(v)}"><b>${esc(DIM_LABEL[dim] || dim)}</b> ${esc(shown)}`
      + `<button type="button" class="remove" aria-label="Remove filter">×</button></span>`;
  }).join('');
}

/** The parameters of every report: range, plus filters when any. */
function reportParams() {
  const p = rangeParams();
  if (Object.keys(state.filters).length) p.filters = JSON.stringify(state.filters);
  return p;
}

/* ---------- comparison ---------- */
const DELTA_ID = {
  visitors: 'd-visitors', visits: 'd-visits', pageviews: 'd-pageviews',
  views_per_visit: 'd-vpv', bounce_rate: 'd-bounce', visit_duration: 'd-duration',
};
const AGAINST_LABEL = { previous: 'the previous period', year: 'a year earlier' };

function fmtMetric(metric, v) {
  if (v == null) return '–';
  if (metric === 'views_per_visit') return fmtDec(v);
  if (metric === 'bounce_rate') return `${Math.round(v)}%`;
  if (metric === 'visit_duration') return fmtDuration(v);
  return fmtInt(v);
}

function renderCompare(rows) {
  for (const id of Object.values(DELTA_ID)) {
    const el = $(id);
    el.textContent = '';
    el.className = 'delta';
    el.removeAttribute('title');
    delete el.dataset.change;
  }
  if (!rows) return;
  for (const r of rows) {
    const el = $(DELTA_ID[r.metric]);
    if (!el) continue;
    const prev = `${fmtMetric(r.metric, r.previous)} in ${AGAINST_LABEL[state.compare] || 'the other period'}`;
    el.title = prev;
    el.dataset.change = r.change == null ? '' : String(r.change);
    if (r.change == null) { el.textContent = Number(r.value) > 0 ? 'new' : '–'; continue; }
    const c = Number(r.change);
    el.textContent = `${c > 0 ? '+' : c < 0 ? '−' : '±'}${Math.abs(c).toFixed(1)}%`;
    // For bounce rate, lower is better.
    const good = r.metric === 'bounce_rate' ? c < 0 : c > 0;
    if (c !== 0) el.classList.add(good ? 'up' : 'down');
  }
}

/* ---------- goals ---------- */
function fmtMoney(amount, currency) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).format(Number(amount));
  } catch {
    return `${Number(amount).toFixed(2)} ${currency}`;
  }
}
const fmtPct = (n) => (n == null ? '–' : `${Number(n).toFixed(2)}%`);

function renderGoals(rows) {
  // goals() has one row per goal and revenue currency: one line per goal here.
  const goals = [];
  const by = new Map();
  for (const r of rows) {
    let g = by.get(r.goal);
    if (!g) { g = { ...r, revenue: [] }; by.set(r.goal, g); goals.push(g); }
    if (r.revenue != null && r.currency) g.revenue.push([r.revenue, r.currency]);
  }
  const names = goals.map((g) => g.goal);
  if (names.join('\n') !== state.goalNames.join('\n')) {
    state.goalNames = names;
    renderFunnelSteps(); // only on change: an open step menu is not reset every refresh
  }
  const t = $('goals');
  const head = '<tr><th>Goal</th><th class="num">Visitors</th><th class="num">Events</th><th class="num">Conv. rate</th><th class="num rev">Revenue</th></tr>';
  if (!goals.length) {
    t.innerHTML = `${head}<tr><td colspan="5" class="empty">No goals yet: <code>SELECT edgestat.add_goal('site', 'Signup', event =&gt; 'signup')</code></td></tr>`;
    return;
  }
  const max = Math.max(1, ...goals.map((g) => Number(g.visitors) || 0));
  t.innerHTML = head + goals.map((g) => {
    const w = ((Number(g.visitors) || 0) / max) * 100;
    const rev = g.revenue.length
      ? g.revenue.map(([a, c]) => `<span class="money" data-amount="${esc(a)}" data-currency="${esc(c)}">${esc(fmtMoney(a, c))}</span>`).join('<br>')
      : '–';
    return `<tr data-goal="${esc(g.goal)}"><td class="name"><span class="bar" style="width:${w.toFixed(1)}%"></span><span class="txt">${esc(g.goal)}</span></td>`
      + `<td class="num visitors">${fmtInt(g.visitors)}</td><td class="num events">${fmtInt(g.events)}</td>`
      + `<td class="num cr">${fmtPct(g.conversion_rate)}</td><td class="rev">${rev}</td></tr>`;
  }).join('');
}

/* ---------- funnel ---------- */
// The chosen steps outlive a reload: kept in this browser, per site.
const funnelKey = () => `edgestat-funnel:${state.domain}`;
function loadFunnel() {
  try {
    const f = JSON.parse(localStorage.getItem(funnelKey()));
    if (Array.isArray(f?.steps) && f.steps.every((x) => typeof x === 'string')) state.funnel = f.steps;
    if (typeof f?.within === 'string') state.funnelWithin = f.within;
  } catch { /* storage blocked or garbage: start empty */ }
  $('funnel-within').value = state.funnelWithin;
}
function saveFunnel() {
  try { localStorage.setItem(funnelKey(), JSON.stringify({ steps: state.funnel, within: state.funnelWithin })); } catch { /* blocked */ }
}

function renderFunnelSteps() {
  $('funnel-steps').innerHTML = state.funnel.map((g, i) =>
    `<span class="chip step-chip" data-goal="${esc(g)}"><b>${i + 1}</b> ${esc(g)}<button type="button" class="remove" data-i="${i}" aria-label="Remove step">×</button></span>`).join('');
  const add = $('funnel-add');
  add.innerHTML = '<option value="">+ add step…</option>'
    + state.goalNames.map((g) => `<option value="${esc(g)}">${esc(g)}</option>`).join('');
  add.value = '';
}

function renderFunnel(rows) {
  const box = $('funnel');
  if (!state.funnel.length) {
    box.innerHTML = `<div class="empty-note">${state.goalNames.length ? 'Add goals as steps to see how many visitors go through them in order.' : 'Define goals to build a funnel.'}</div>`;
    return;
  }
  if (!rows) { box.innerHTML = ''; return; }
  const first = Math.max(1, Number(rows[0]?.visitors) || 0);
  box.innerHTML = rows.map((r) => {
    const w = ((Number(r.visitors) || 0) / first) * 100;
    return `<div class="step" data-step="${esc(r.step)}" data-goal="${esc(r.goal)}"><span class="n">${esc(r.step)}</span>`
      + `<div class="bar-wrap"><div class="bar" style="width:${w.toFixed(1)}%"></div><span>${esc(r.goal)}</span></div>`
      + `<div class="figs"><span class="visitors">${fmtInt(r.visitors)}</span> · <span class="cr">${fmtPct(r.conversion_rate)}</span>`
      + `<span class="drop">${Number(r.step) > 1 ? `−<span class="dropoff">${fmtInt(r.dropoff)}</span> dropped off` : '&nbsp;'}</span></div></div>`;
  }).join('');
}

/* ---------- retention ---------- */
function retentionUnit() {
  return state.retUnit || (RANGES[state.range] > 7 * 86400e3 ? 'week' : 'day');
}

function renderRetention(rows) {
  const unit = retentionUnit();
  $('retention-unit').value = unit;
  const t = $('retention');
  if (!rows.length) { t.innerHTML = '<tr><td class="empty-note">No first visits in this range</td></tr>'; return; }
  const cohorts = new Map();
  let maxP = 0;
  for (const r of rows) {
    if (!cohorts.has(r.cohort)) cohorts.set(r.cohort, { size: r.visitors, cells: new Map() });
    cohorts.get(r.cohort).cells.set(Number(r.period), r);
    maxP = Math.max(maxP, Number(r.period));
  }
  const tag = { day: 'Day', week: 'Week', month: 'Month' }[unit];
  let html = `<tr><th class="c">Cohort</th><th>Visitors</th>`;
  for (let p = 0; p <= maxP; p++) html += `<th>${tag} ${p}</th>`;
  html += '</tr>';
  for (const [c, { size, cells }] of cohorts) {
    html += `<tr data-cohort="${esc(c)}"><th class="c">${esc(c)}</th><td class="size">${fmtInt(size)}</td>`;
    for (let p = 0; p <= maxP; p++) {
      const r = cells.get(p);
      if (!r) { html += '<td></td>'; continue; }
      const a = (0.08 + 0.55 * (Number(r.rate) || 0) / 100).toFixed(3);
      html += `<td class="cell" data-period="${p}" data-retained="${esc(r.retained)}" data-rate="${esc(r.rate)}" style="background:rgba(43,217,166,${a})" title="${fmtInt(r.retained)} of ${fmtInt(size)} visitors">${fmtPct(r.rate)}</td>`;
    }
    html += '</tr>';
  }
  t.innerHTML = html;
}

/* ---------- journeys ---------- */
function renderJourneys(rows) {
  const t = $('journeys');
  const head = '<tr><th>Pages, in order</th><th class="num">Visits</th></tr>';
  if (!rows.length) { t.innerHTML = `${head}<tr><td colspan="2" class="empty">No visits yet</td></tr>`; return; }
  const max = Math.max(1, ...rows.map((r) => Number(r.visits) || 0));
  t.innerHTML = head + rows.map((r) => {
    const w = ((Number(r.visits) || 0) / max) * 100;
    const path = (r.journey || []).map((x) => `<span class="pg">${esc(x)}</span>`).join('<span class="arrow">→</span>');
    // A journey filters by its entry page.
    return `<tr${filterAttrs('entry_page', r.journey?.[0])} data-journey="${esc(JSON.stringify(r.journey))}"><td class="name"><span class="bar" style="width:${w.toFixed(1)}%"></span><span class="txt">${path}</span></td>`
      + `<td class="num visits">${fmtInt(r.visits)}</td></tr>`;
  }).join('');
}

/* ---------- alerts ---------- */
// A PostgreSQL interval as JSON ("01:00:00", "1 day", "7 days 12:00:00") made short: "1 h", "1 d", "7 d 12 h".
function fmtInterval(s) {
  const m = /^(?:(\d+) days?)? ?(?:(\d+):(\d+):(\d+))?$/.exec(String(s ?? ''));
  if (!m || !s) return String(s ?? '–');
  const parts = [];
  if (m[1]) parts.push(`${Number(m[1])} d`);
  if (m[2] && Number(m[2])) parts.push(`${Number(m[2])} h`);
  if (m[3] && Number(m[3])) parts.push(`${Number(m[3])} min`);
  if (m[4] && Number(m[4])) parts.push(`${Number(m[4])} s`);
  return parts.join(' ') || '0 s';
}

function renderAlerts(a) {
  const t = $('alerts');
  const head = '<tr><th>Metric</th><th class="num">Above</th><th class="num">Over</th><th class="num">Fired</th><th class="num wide">Last fired</th></tr>';
  const rules = a?.alerts || [];
  if (!rules.length) {
    t.innerHTML = `${head}<tr><td colspan="5" class="empty">No alerts: <code>SELECT edgestat.add_alert('site', 'visitors', 100, '1 hour')</code></td></tr>`;
  } else {
    t.innerHTML = head + rules.map((r) => `<tr data-alert="${esc(r.alert)}"><td class="name">${esc(r.metric)}</td>`
      + `<td class="num above">${esc(r.above)}</td><td class="num over" title="${esc(r.over)}">${esc(fmtInterval(r.over))}</td><td class="num fired">${fmtInt(r.fired)}</td>`
      + `<td class="num wide last">${r.last_fired ? esc(new Date(r.last_fired).toLocaleString('en')) : 'never'}</td></tr>`).join('');
  }
  $('alert-log').innerHTML = (a?.log || []).slice(0, 10).map((l) =>
    `<li data-alert="${esc(l.alert)}"><time>${esc(new Date(l.fired_at).toLocaleString('en'))}</time>: <b>${esc(l.metric)}</b> reached <span class="value">${esc(l.value)}</span>, above ${esc(l.above)}</li>`).join('');
}

// The range compare() sets against [since, until): the same length just
// before, or the same dates a year earlier.
function earlierRange({ since, until }, against) {
  const a = new Date(since), b = new Date(until);
  if (against === 'year') {
    a.setUTCFullYear(a.getUTCFullYear() - 1);
    b.setUTCFullYear(b.getUTCFullYear() - 1);
    return { since: a.toISOString(), until: b.toISOString() };
  }
  return { since: new Date(2 * a - b).toISOString(), until: a.toISOString() };
}

// rows: the range's buckets; prev: the earlier period's (compare on), drawn
// as a dashed visitors line bucket by bucket.
function renderChart(rows, prev) {
  const svg = $('chart');
  const W = 1000, H = 220, top = 12, bottom = 4;
  const n = rows.length;
  $('legend-previous').hidden = !prev;
  if (!n) { svg.innerHTML = ''; $('chart-axis').innerHTML = ''; $('chart-ymax').textContent = ''; return; }
  const maxV = Math.max(1, ...rows.map((r) => Math.max(Number(r.visitors) || 0, Number(r.pageviews) || 0)),
    ...(prev || []).map((r) => Number(r.visitors) || 0));
  const x = (i) => (n === 1 ? W / 2 : (i / (n - 1)) * W);
  const y = (v) => top + (H - top - bottom) * (1 - (Number(v) || 0) / maxV);
  const line = (k) => rows.map((r, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(r[k]).toFixed(1)}`).join('');
  const area = `${line('visitors')}L${x(n - 1).toFixed(1)},${H}L${x(0).toFixed(1)},${H}Z`;
  let grid = '';
  for (const f of [0.25, 0.5, 0.75]) grid += `<line class="grid" x1="0" x2="${W}" y1="${y(maxV * f)}" y2="${y(maxV * f)}"/>`;
  let hits = '';
  const bw = W / n;
  rows.forEach((r, i) => {
    const d = new Date(r.bucket);
    hits += `<rect class="hit" x="${(x(i) - bw / 2).toFixed(1)}" y="0" width="${bw.toFixed(1)}" height="${H}"><title>${esc(d.toLocaleString())}: ${fmtInt(r.visitors)} visitors, ${fmtInt(r.pageviews)} pageviews</title></rect>`;
  });
  const earlier = prev && prev.length
    ? `<path class="line previous" data-points="${prev.length}" d="${prev.slice(0, n).map((r, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(r.visitors).toFixed(1)}`).join('')}"/>`
    : '';
  svg.innerHTML = `${grid}<path class="area visitors" d="${area}"/>${earlier}<path class="line pageviews" d="${line('pageviews')}"/><path class="line visitors" d="${line('visitors')}"/>${hits}`;
  const labels = [];
  const fit = Math.max(2, Math.min(8, Math.floor((svg.clientWidth || 1000) / 90)));
  const step = Math.max(1, Math.ceil(n / fit));
  const daily = RANGES[state.range] > 3 * 86400e3;
  for (let i = 0; i < n; i += step) {
    const d = new Date(rows[i].bucket);
    const txt = daily ? d.toLocaleDateString('en', { month: 'short', day: 'numeric' })
      : d.toLocaleTimeString('en', { hour: '2-digit', minute: '2-digit', hour12: false });
    const at = x(i) / W;
    const shift = at < 0.04 ? '0' : at > 0.96 ? '-100%' : '-50%';
    labels.push(`<span style="left:${(at * 100).toFixed(2)}%;transform:translateX(${shift})">${esc(txt)}</span>`);
  }
  $('chart-axis').innerHTML = labels.join('');
  $('chart-ymax').textContent = fmtInt(maxV);
}

async function refreshReports() {
  const gen = ++state.gen;
  const p = reportParams();
  const bucket = RANGES[state.range] > 3 * 86400e3 ? '1 day' : '1 hour';
  const list = (x) => (Array.isArray(x) ? x : []);
  // Each panel on its own: one failing report does not blank the others.
  const jobs = [
    [api('summary', p), (s) => renderSummary(s || {})],
    [Promise.all([api('timeseries', { ...p, bucket }),
      state.compare ? api('timeseries', { ...p, ...earlierRange(p, state.compare), bucket }).catch(() => []) : null]),
    ([ts, prev]) => renderChart(list(ts), prev && list(prev))],
    [api('breakdown', { ...p, dimension: 'page', lim: '8' }), (r) => renderTop('top-pages', r, (v) => esc(v || '/'), 'page')],
    [api('breakdown', { ...p, dimension: 'referrer', lim: '8' }), (r) => renderTop('top-referrers', r, (v) => (v ? esc(v) : '<i>Direct / none</i>'), 'referrer')],
    [api('breakdown', { ...p, dimension: 'country', lim: '8' }), (r) => renderTop('top-countries', r, (v) => `${ccBadge(v)}${esc(countryName(v))}`, 'country')],
    [api('goals', p), (r) => renderGoals(list(r))],
    [state.funnel.length ? api('funnel', { ...p, steps: JSON.stringify(state.funnel), within: state.funnelWithin }) : Promise.resolve(null),
      (r) => renderFunnel(r && list(r))],
    [api('retention', { ...p, unit: retentionUnit() }), (r) => renderRetention(list(r))],
    [api('journeys', { ...p, steps: '3', lim: '10' }), (r) => renderJourneys(list(r))],
    [state.compare ? api('compare', { ...p, against: state.compare }) : Promise.resolve(null), (r) => renderCompare(r && list(r))],
    [api('alerts'), (r) => renderAlerts(r)],
  ];
  state.pending++;
  const results = await Promise.allSettled(jobs.map(([pr]) => pr));
  state.pending--;
  if (gen !== state.gen) return; // a newer refresh (another filter, range…) is under way
  results.forEach((r, i) => { if (r.status === 'fulfilled') jobs[i][1](r.value); });
  state.lastParams = p;
  state.refreshed++;
  const denied = results.find((r) => r.status === 'rejected' && r.reason instanceof AuthError);
  if (denied) throw denied.reason;
  for (const r of results) if (r.status === 'rejected') console.warn(String(r.reason));
}

async function refreshLive() {
  const live = await api('live');
  if (live.ttl) state.ttl = Number(live.ttl);
  setLive(live.live);
  for (const vi of live.visitors || []) {
    upsertMarker(vi.v, vi.lat, vi.lon, vi.score, vi.city, vi.country, Date.parse(vi.last_seen) || Date.now(), false);
  }
  expireMarkers();
}

async function guarded(fn) {
  try { await fn(); } catch (err) {
    if (err instanceof AuthError) authFailed();
    else console.warn(err);
  }
}

/* ---------- start ---------- */
async function main() {
  if (!state.token) { authFailed(); return; }
  let site;
  try {
    site = await api('site');
  } catch (err) {
    if (err instanceof AuthError) { authFailed(); return; }
    $('fatal-msg').textContent = String(err.message || err);
    show('fatal');
    return;
  }
  $('site-domain').textContent = site.domain;
  state.domain = site.domain;
  loadFunnel();
  renderFunnelSteps();
  document.title = `${site.domain} · edgestat`;
  drawMap();
  show('app');
  openStream();
  await Promise.all([
    guarded(refreshLive),
    guarded(refreshReports),
    guarded(async () => {
      const recent = await api('recent');
      for (const ev of [...recent].reverse()) {
        if (ev.n !== 'heartbeat') pushFeed(ev, Date.parse(ev.ts) || Date.now());
      }
    }),
  ]);
  for (const b of document.querySelectorAll('.range button')) {
    b.addEventListener('click', () => {
      state.range = b.dataset.range;
      for (const o of document.querySelectorAll('.range button')) o.classList.toggle('on', o === b);
      guarded(refreshReports);
    });
  }
  // A click on a row of a list filters every panel by it (again: unfilters).
  $('app').addEventListener('click', (e) => {
    const tr = e.target.closest('tr.filterable');
    if (tr) toggleFilter(tr.dataset.dim, tr.dataset.value);
  });
  $('filter-chips').addEventListener('click', (e) => {
    const chip = e.target.closest('.remove') && e.target.closest('.chip');
    if (chip) toggleFilter(chip.dataset.dim, chip.dataset.value);
  });
  $('clear-filters').addEventListener('click', () => {
    state.filters = {};
    renderFilters();
    guarded(refreshReports);
  });
  $('compare').addEventListener('change', (e) => {
    state.compare = e.target.value;
    guarded(refreshReports);
  });
  $('funnel-add').addEventListener('change', (e) => {
    if (!e.target.value) return;
    state.funnel.push(e.target.value);
    saveFunnel();
    renderFunnelSteps();
    guarded(refreshReports);
  });
  $('funnel-steps').addEventListener('click', (e) => {
    const b = e.target.closest('.remove');
    if (!b) return;
    state.funnel.splice(Number(b.dataset.i), 1);
    saveFunnel();
    renderFunnelSteps();
    guarded(refreshReports);
  });
  $('funnel-within').addEventListener('change', (e) => {
    state.funnelWithin = e.target.value;
    saveFunnel();
    guarded(refreshReports);
  });
  $('retention-unit').addEventListener('change', (e) => {
    state.retUnit = e.target.value;
    guarded(refreshReports);
  });
  // Reports refresh every 10 s when events came in, at least once a minute.
  let quiet = 0;
  state.refreshTimer = setInterval(() => {
    quiet++;
    if (state.dirty || quiet >= 6) { state.dirty = false; quiet = 0; guarded(refreshReports); }
    if (quiet % 3 === 0) guarded(refreshLive);
    expireMarkers();
    tickTimes();
  }, 10000);
}

main();
