// make run -> .ci/demo -> demo/run -> this: a throwaway cluster with edgestat,
// the demo site, the dashboard URL with a fresh token, and the traffic
// simulator, until Ctrl-C (or --duration SECONDS); then everything stops and
// the temporary directories are removed.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, freePort } from '../test/js/cluster.mjs';
import { findGeoLiteDb, DEMO_DIR } from './geolite.mjs';
import { startDemoSite } from './site.mjs';

const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1] : d; };
const DOMAIN = 'demo.test';
const duration = Number(arg('duration', process.env.DEMO_DURATION || 0));
const visitors = arg('visitors', process.env.DEMO_VISITORS || '10');

const cleanups = [];
let finishing = false;
async function finish(code = 0) {
  if (finishing) return;
  finishing = true;
  console.log('\nStopping the demo…');
  for (const f of cleanups.reverse()) {
    try { await f(); } catch (e) { console.error(String(e.message || e)); }
  }
  console.log('Demo stopped; cluster and temporary files removed.');
  process.exit(code);
}
process.on('SIGINT', () => finish(0));
process.on('SIGTERM', () => finish(0));
process.on('SIGHUP', () => finish(0));

try {
  // The GeoIP database must be readable by the postgres user wherever the
  // repository lives (e.g. under /root): copy it to a world-readable temp dir.
  const geoDir = mkdtempSync(join(tmpdir(), 'edgestat-demo-geo-'));
  cleanups.push(() => rmSync(geoDir, { recursive: true, force: true }));
  chmodSync(geoDir, 0o755);
  const geoSrc = findGeoLiteDb();
  const geoDb = join(geoDir, 'GeoLite2-City.mmdb');
  copyFileSync(geoSrc, geoDb);
  chmodSync(geoDb, 0o644);

  const httpPort = Number(arg('port', 0)) || await freePort();
  const api = `http://127.0.0.1:${httpPort}`;
  const site = await startDemoSite({ port: Number(arg('site-port', 0)), trackerOrigin: api, domain: DOMAIN });
  cleanups.push(() => site.stop());

  console.log('Starting a throwaway PostgreSQL cluster with edgestat…');
  const pg = await startCluster({
    httpPort,
    settings: {
      'edgestat.geoip_database': geoDb,
      'edgestat.trusted_proxies': '127.0.0.1/32',
      'edgestat.live_ttl': 300,
    },
  });
  cleanups.push(() => pg.stop());

  const origins = [site.origin, `http://localhost:${site.port}`];
  await pg.psql(`SELECT edgestat.add_site('${DOMAIN}', ARRAY['${origins.join("','")}'])`);
  const token = await pg.psql(`SELECT edgestat.dashboard_token('${DOMAIN}')`);

  const line = '─'.repeat(72);
  console.log(`
${line}
  edgestat demo is running  (GeoIP: ${geoSrc.replace(`${DEMO_DIR}/`, 'demo/')})

  Demo site (tracked):  ${site.origin}/
  Dashboard:            ${api}/dashboard/?token=${token}

  Worker:   ${api}  (/healthz, /metrics, /e.js)
  SQL:      runuser -u postgres -- psql -h ${pg.socketDir} -p ${pg.pgPort} postgres
  Simulated visitors from ${'~'}35 places send a few beacons per second.
  Press Ctrl-C to stop and clean up.
${line}
`);

  const sim = spawn(process.execPath, [join(DEMO_DIR, 'simulate.mjs'),
    '--port', String(httpPort), '--site', DOMAIN, '--origin', site.origin, '--visitors', String(visitors)],
  { stdio: ['ignore', 'inherit', 'inherit'] });
  cleanups.push(() => new Promise((resolve) => {
    if (sim.exitCode !== null) return resolve();
    sim.once('exit', resolve);
    sim.kill('SIGTERM');
    setTimeout(() => { sim.kill('SIGKILL'); resolve(); }, 2000).unref();
  }));
  sim.on('exit', (code) => { if (!finishing) { console.error(`simulator exited (${code})`); finish(code ? 1 : 0); } });

  if (duration > 0) setTimeout(() => finish(0), duration * 1000);
} catch (e) {
  console.error(`demo failed: ${e.stack || e}`);
  await finish(1);
}
