// make run, for a while: the demo (demo/run.mjs, after make install) brings up
// its cluster, site, dashboard token and simulator; the simulated traffic is
// stored with locations from the real GeoLite2 database and shows on the
// dashboard's API; --duration ends it and everything is cleaned up.
// Needs root, `make install`, and `npm ci` in demo/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const demo = join(dirname(fileURLToPath(import.meta.url)), '..');

test('the demo runs, geolocates simulated visitors from many countries, and cleans up', async () => {
  const child = spawn(process.execPath, [join(demo, 'run.mjs'), '--duration', '40', '--visitors', '12'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const end = Date.now() + 60000;
    while (!/Dashboard:\s+(\S+)/.test(out)) {
      assert.ok(Date.now() < end, `no dashboard URL printed:\n${out}`);
      assert.equal(child.exitCode, null, `demo exited early:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const dash = new URL(/Dashboard:\s+(\S+)/.exec(out)[1]);
    const site = /Demo site \(tracked\):\s+(\S+)/.exec(out)[1];
    assert.equal(dash.hostname, '127.0.0.1');
    const token = dash.searchParams.get('token');
    const api = async (ep, q = '') => {
      const r = await fetch(`${dash.origin}/api/${ep}?token=${token}${q}`);
      assert.equal(r.status, 200, `/api/${ep}`);
      return r.json();
    };
    assert.equal((await api('site')).domain, 'demo.test');
    assert.equal((await fetch(`${dash.origin}/dashboard/`)).status, 200);
    const page = await (await fetch(site)).text();
    assert.match(page, new RegExp(`<script defer src="${dash.origin}/e.js" data-site="demo.test"></script>`));

    // Let the simulator run for a while.
    let live;
    const until = Date.now() + 25000;
    do {
      await new Promise((r) => setTimeout(r, 2000));
      live = await api('live');
    } while (Date.now() < until && live.visitors.length < 6);
    assert.ok(live.live >= 5, `live ${live.live}`);
    assert.ok(live.visitors.length >= 5, `located live visitors: ${JSON.stringify(live).slice(0, 300)}`);
    for (const v of live.visitors) {
      assert.ok(Math.abs(v.lat) <= 90 && Math.abs(v.lon) <= 180 && /^[A-Z]{2}$/.test(v.country), JSON.stringify(v));
    }
    const countries = await api('breakdown', '&dimension=country&lim=50');
    assert.ok(countries.filter((c) => c.value).length >= 4, JSON.stringify(countries));
    let recent;
    const enough = Date.now() + 20000;
    do {
      recent = await api('recent');
      if (recent.length >= 20) break;
      await new Promise((r) => setTimeout(r, 1000));
    } while (Date.now() < enough);
    const kinds = new Set(recent.map((e) => e.n));
    assert.ok(kinds.has('pageview') && recent.length >= 20, JSON.stringify([...kinds]));
  } finally {
    if (child.exitCode === null) child.kill('SIGINT');
  }
  const code = await exited;
  assert.equal(code, 0, out);
  assert.match(out, /Demo stopped; cluster and temporary files removed/);
  const tmp = /SQL:.* -h (\S+) /.exec(out)?.[1];
  assert.ok(tmp && !existsSync(tmp), `cluster directory ${tmp} left behind`);
});
