// The soak's load: a steady mix against one edgestat HTTP worker on
// 127.0.0.1 for SOAK_SECONDS, with node's own http/net modules only.
//
//   valid beacons      open loop at RATE/s, each with its own path /s/N
//   duplicates         a body already answered 204, sent again
//   bots               a crawler's User-Agent (204, not stored), /bot/N
//   invalid bodies     malformed JSON and an unknown site (400, 403)
//   oversized bodies   max_body + 1 kB (413)
//   slow clients       a beacon trickled in over ~3 s, under the timeout
//   dashboard readers  GET /api/<endpoint>?token=... in turn
//   /live clients      up to 4 streams, each open 5-30 s, then dropped
//
// Every minute it prints one line of figures (and the worker's memory,
// from the SAMPLE command) and at the end writes the paths answered 204
// to ACKED and the bots' paths to BOTS, and prints a SUMMARY line.
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');
const { execFile } = require('child_process');

const env = process.env;
const PORT = +env.HTTP_PORT;
const SECONDS = +(env.SOAK_SECONDS || 1800);
const RATE = +(env.SOAK_RATE || 100);
const TOKEN = env.TOKEN;
const MAX_BODY = +(env.MAX_BODY || 16384);
const SAMPLE = env.SAMPLE;
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const BOT_UA = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const HOST = '127.0.0.1';

const beaconAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const miscAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const apiAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function hex(n) {
	let s = '';
	for (let i = 0; i < n; i++) s += ((Math.random() * 16) | 0).toString(16);
	return s;
}
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + ((Math.random() * 4) | 0)).toString(16)}${hex(3)}-${hex(12)}`;
const POOL = 2000;
const visitors = Array.from({ length: POOL }, () => [uuid(), uuid()]);
const names = ['pageview', 'pageview', 'heartbeat', 'scroll', 'interaction'];

function beaconBody(path, n) {
	const [v, s] = visitors[n % POOL];
	return `{"d":"example.com","n":"${names[n % 5]}","u":"https://example.com${path}?utm_source=soak","v":"${v}","s":"${s}","r":"https://www.google.com/","q":${n},"sd":${n % 101},"et":${n % 100000},"w":${360 + (n % 1560)}}`;
}

// ---- per-minute and whole-run figures ----
const started = Date.now();
const deadline = started + SECONDS * 1000;
let minute = newMinute();
const total = {};
const acked = [];
const bots = [];
const recentAcked = [];
let seq = 0;
let inflight = 0;
let skipped = 0;
let sseClients = 0;
let sseEvents = 0;

function newMinute() {
	return { lat: [], counts: {} };
}
function count(kind, what) {
	const k = `${kind}:${what}`;
	minute.counts[k] = (minute.counts[k] || 0) + 1;
	total[k] = (total[k] || 0) + 1;
}
function pct(sorted, p) {
	if (!sorted.length) return 0;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function post(agent, body, ua, cb, headers) {
	const t0 = process.hrtime.bigint();
	const req = http.request({
		host: HOST, port: PORT, method: 'POST', path: '/e', agent,
		headers: Object.assign({ 'Content-Type': 'text/plain;charset=UTF-8', 'User-Agent': ua,
			'Content-Length': Buffer.byteLength(body) }, headers || {}),
		timeout: 15000,
	}, (res) => {
		res.resume();
		res.on('end', () => cb(res.statusCode, Number(process.hrtime.bigint() - t0) / 1e6));
	});
	req.on('timeout', () => req.destroy(new Error('timeout')));
	req.on('error', (e) => cb(e.code || e.message, 0));
	req.end(body);
}

// ---- the kinds of traffic ----
function sendValid() {
	if (inflight >= 500) { skipped++; return; }
	const n = ++seq;
	const path = `/s/${n}`;
	const body = beaconBody(path, n);
	const sent = Date.now();
	inflight++;
	post(beaconAgent, body, UA, (status, ms) => {
		inflight--;
		count('valid', status);
		if (status === 204) {
			minute.lat.push(ms);
			acked.push(path);
			recentAcked[n % 64] = [body, sent];
		}
	});
}

// A body answered 204 and sent less than 3 s ago: its key was accepted
// after it was sent, so it is inside edgestat.dedup_window (5 s) and is
// dropped as a duplicate, never stored twice.  (An older one would rightly
// be stored again.)
function sendDuplicate() {
	const r = recentAcked[(Math.random() * 64) | 0];
	if (!r || Date.now() - r[1] > 3000) return;
	post(miscAgent, r[0], UA, (status) => count('dup', status));
}

function sendBot() {
	const n = ++seq;
	const path = `/bot/${n}`;
	bots.push(path);
	post(miscAgent, beaconBody(path, n), BOT_UA, (status) => count('bot', status));
}

function sendInvalid() {
	const bodies = ['{"d":"example.com",', '{"d":"nosuch.example","n":"pageview","u":"https://nosuch.example/","v":"' + uuid() + '"}',
		'[]', '{"d":"example.com","n":"pageview","u":42}'];
	post(miscAgent, bodies[(Math.random() * bodies.length) | 0], UA, (status) => count('invalid', status));
}

function sendOversized() {
	const pad = 'x'.repeat(MAX_BODY + 1024);
	// its own connection: the server answers 413 before reading the body
	post(false, `{"d":"example.com","n":"pageview","u":"https://example.com/big","p":{"k":"${pad}"}}`, UA,
		(status) => count('oversized', status), { Connection: 'close' });
}

let slowActive = 0;
function sendSlow() {
	if (slowActive >= 2) return;
	slowActive++;
	const n = ++seq;
	const path = `/slow/${n}`;
	const body = beaconBody(path, n);
	const req = `POST /e HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUser-Agent: ${UA}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
	const chunks = [];
	const pieces = 10;	// ten pieces 300 ms apart: ~3 s, well under connection_timeout
	for (let i = 0; i < pieces; i++) chunks.push(req.slice(Math.floor(i * req.length / pieces), Math.floor((i + 1) * req.length / pieces)));
	const sock = net.connect(PORT, HOST);
	let answer = '';
	let done = false;
	const finish = (what) => {
		if (done) return;
		done = true;
		slowActive--;
		count('slow', what);
		if (what === 204) acked.push(path);
		sock.destroy();
	};
	sock.setTimeout(20000, () => finish('timeout'));
	sock.on('data', (d) => {
		answer += d;
		const m = /^HTTP\/1\.1 (\d+)/.exec(answer);
		if (m) finish(+m[1]);
	});
	sock.on('error', (e) => finish(e.code || 'error'));
	sock.on('close', () => finish('closed'));
	let i = 0;
	const next = () => {
		if (done || i >= chunks.length) return;
		sock.write(chunks[i++]);
		setTimeout(next, 300);
	};
	sock.on('connect', next);
}

const endpoints = ['summary', 'timeseries', 'breakdown&dimension=page', 'breakdown&dimension=browser', 'recent', 'live', 'site',
	'breakdown&dimension=nosuch'];
let apiTurn = 0;
function sendApi() {
	const ep = endpoints[apiTurn++ % endpoints.length];
	const [name, rest] = ep.split('&');
	const path = `/api/${name}?token=${encodeURIComponent(TOKEN)}${rest ? '&' + rest : ''}`;
	const req = http.get({ host: HOST, port: PORT, path, agent: apiAgent, timeout: 15000 }, (res) => {
		res.resume();
		res.on('end', () => count('api', res.statusCode));
	});
	req.on('timeout', () => req.destroy(new Error('timeout')));
	req.on('error', (e) => count('api', e.code || e.message));
}

const streams = new Set();
function openLive() {
	if (sseClients >= 4) return;
	sseClients++;
	const req = http.get({ host: HOST, port: PORT, path: `/live?token=${encodeURIComponent(TOKEN)}`, agent: false }, (res) => {
		count('live', res.statusCode);
		res.setEncoding('utf8');
		res.on('data', (d) => { sseEvents += (d.match(/^data: /gm) || []).length; });
		res.on('error', () => {});
	});
	streams.add(req);
	let closed = false;
	const close = () => { if (!closed) { closed = true; sseClients--; streams.delete(req); } };
	req.on('error', (e) => { if (e.code !== 'ECONNRESET') count('live', e.code || e.message); close(); });
	req.on('close', close);
	setTimeout(() => { req.destroy(); close(); }, 5000 + Math.random() * 25000);
}

// ---- the schedule: open loop, per kind a rate per second ----
const kinds = {
	valid: [sendValid, RATE],
	dup: [sendDuplicate, RATE / 10],
	bot: [sendBot, RATE / 20],
	invalid: [sendInvalid, RATE / 20],
	oversized: [sendOversized, 1],
	slow: [sendSlow, 1],
	api: [sendApi, 0.5],
	live: [openLive, 0.5],
};
// SOAK_MIX=valid,live runs only those kinds (to find what a figure is due to)
const mix = (env.SOAK_MIX ? env.SOAK_MIX.split(',') : Object.keys(kinds)).map((k) => {
	if (!kinds[k]) throw new Error(`SOAK_MIX: no kind "${k}"`);
	return kinds[k];
});
const due = mix.map(() => 0);
let last = Date.now();
let minuteNo = 0;
let minuteStart = started;
const lines = [];

function reportMinute(final) {
	const m = minute;
	minute = newMinute();
	minuteNo++;
	const lat = m.lat.sort((a, b) => a - b);
	const c = m.counts;
	const others = Object.keys(c).filter((k) => !k.startsWith('valid:204')).sort()
		.map((k) => `${k}=${c[k]}`).join(' ');
	const fig = `min=${minuteNo} beacons204=${c['valid:204'] || 0} p50_ms=${pct(lat, 50).toFixed(1)} p99_ms=${pct(lat, 99).toFixed(1)} max_ms=${(lat[lat.length - 1] || 0).toFixed(1)} live_open=${sseClients} live_events_total=${sseEvents} ${others}`;
	if (!SAMPLE) { console.log(`MINUTE ${fig}`); return; }
	execFile('bash', [SAMPLE], { timeout: 30000 }, (err, out) => {
		console.log(`MINUTE ${fig} ${(out || '').trim() || 'sample=failed'}`);
	});
}

const tick = setInterval(() => {
	const now = Date.now();
	const dt = (now - last) / 1000;
	last = now;
	if (now - minuteStart >= 60000) {
		minuteStart += 60000;
		reportMinute();
	}
	if (now >= deadline) {
		clearInterval(tick);
		finish();
		return;
	}
	mix.forEach(([fn, rate], i) => {
		due[i] += rate * dt;
		while (due[i] >= 1) { due[i]--; fn(); }
	});
}, 10);

function finish() {
	for (const r of streams) r.destroy();
	const waitStart = Date.now();
	const wait = setInterval(() => {
		if ((inflight === 0 && slowActive === 0) || Date.now() - waitStart > 30000) {
			clearInterval(wait);
			if (Date.now() - minuteStart > 5000) reportMinute();
			setTimeout(() => {
				fs.writeFileSync(env.ACKED, acked.join('\n') + '\n');
				fs.writeFileSync(env.BOTS, bots.join('\n') + '\n');
				const t = Object.keys(total).sort().map((k) => `${k}=${total[k]}`).join(' ');
				console.log(`SUMMARY acked=${acked.length} bots=${bots.length} inflight_at_end=${inflight} skipped=${skipped} live_events=${sseEvents} ${t}`);
				beaconAgent.destroy(); miscAgent.destroy(); apiAgent.destroy();
				setTimeout(() => process.exit(0), 200);
			}, SAMPLE ? 8000 : 0);
		}
	}, 100);
}
