// Throwaway PostgreSQL cluster with edgestat loaded, for Node tests.
//
//   import { startCluster } from '../../test/js/cluster.mjs';
//   const pg = await startCluster();            // initdb, start, CREATE EXTENSION, wait for /healthz
//   await pg.psql("SELECT edgestat.add_site('example.test')");   // -> '1'
//   const rows = await pg.query('SELECT name, path FROM edgestat.events');  // -> [{name, path}, ...]
//   fetch(`http://127.0.0.1:${pg.httpPort}/e`, ...);
//   await pg.stop();                             // pg_ctl -m immediate, rm -rf the temp dir
//
// Must run as root (it chowns the data directory to `postgres` and runs
// initdb, pg_ctl and psql through `runuser -u postgres`). Needs `make install`
// of the extension first. Node built-ins only; see README.md beside this file.

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, chownSync, appendFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const live = new Set(); // clusters to stop if the process exits without stop()

/** A TCP port that was free a moment ago on 127.0.0.1 (bind to 0, read, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Poll `fn` until it returns a truthy value (returned) or `timeout` ms pass (throws). */
export async function waitFor(fn, { timeout = 15000, interval = 100, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const why = last instanceof Error ? `: ${last.message}` : last !== undefined ? ` (last value ${JSON.stringify(last)})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** PostgreSQL's bin directory: $PG_BINDIR, else `pg_config --bindir` ($PG_CONFIG), else Debian's PG 15. */
export function pgBinDir() {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  try {
    return execFileSync(process.env.PG_CONFIG || 'pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    return '/usr/lib/postgresql/15/bin';
  }
}

function confValue(v) {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `'${String(v).replace(/'/g, "''")}'`;
}

/**
 * Start a throwaway cluster with edgestat preloaded and its HTTP worker serving.
 *
 * @param {object}  [opts]
 * @param {number}  [opts.httpPort]   edgestat.port (default: a free port)
 * @param {object}  [opts.settings]   extra postgresql.conf settings, e.g. {'edgestat.dedup_window': 2000}
 * @param {boolean} [opts.extension=true]  run CREATE EXTENSION edgestat and wait for GET /healthz
 * @param {number}  [opts.timeout=60000]   ms to wait for startup and /healthz
 * @returns {Promise<Cluster>}
 *
 * Cluster: {pgPort, httpPort, baseUrl, dir, dataDir, socketDir, logFile,
 *           psql(sql) -> stdout text (-At: one row per line, columns split by '|'),
 *           query(sql) -> array of row objects (sql must be a single SELECT/VALUES/... without ';'),
 *           log() -> server log text, stop()}
 */
export async function startCluster({ httpPort, settings = {}, extension = true, timeout = 60000 } = {}) {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('startCluster must run as root (it uses runuser -u postgres)');
  }
  const bin = pgBinDir();
  const pgPort = await freePort();
  httpPort ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'edgestat-test-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const pw = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
  const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
  chownSync(dir, Number(pw), Number(gid));

  const asPg = (cmd, args, o = {}) => run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { maxBuffer: 64 << 20, ...o });

  const cluster = {
    pgPort, httpPort, dir, dataDir, socketDir: dir, logFile,
    baseUrl: `http://127.0.0.1:${httpPort}`,
    running: false,
    async psql(sql) {
      try {
        const { stdout } = await asPg('psql', ['-X', '-At', '-q', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(pgPort), '-U', 'postgres', '-d', 'postgres', '-c', sql]);
        return stdout.replace(/\n$/, '');
      } catch (e) {
        throw new Error(`psql failed: ${sql}\n${e.stderr || e.message}`);
      }
    },
    async query(sql) {
      const out = await cluster.psql(`SELECT coalesce(json_agg(t), '[]'::json) FROM (${sql}) t`);
      return JSON.parse(out);
    },
    log() {
      try { return readFileSync(logFile, 'utf8'); } catch { return ''; }
    },
    async stop() {
      if (cluster.running) {
        cluster.running = false;
        live.delete(cluster);
        try {
          await asPg('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
        } catch { /* already down */ }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await asPg('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const conf = {
      port: pgPort,
      listen_addresses: '',
      unix_socket_directories: dir,
      shared_preload_libraries: 'edgestat',
      'edgestat.database': 'postgres',
      'edgestat.port': httpPort,
      'edgestat.listen_addresses': '127.0.0.1',
      ...settings,
    };
    appendFileSync(join(dataDir, 'postgresql.conf'),
      '\n# added by test/js/cluster.mjs\n' + Object.entries(conf).map(([k, v]) => `${k} = ${confValue(v)}\n`).join(''));
    live.add(cluster);
    cluster.running = true;
    await asPg('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', String(Math.ceil(timeout / 1000)), 'start']);
    if (extension) {
      await cluster.psql('CREATE EXTENSION edgestat CASCADE'); // CASCADE: whatever edgestat.control requires
      await waitFor(async () => (await fetch(`${cluster.baseUrl}/healthz`)).status === 200,
        { timeout, interval: 200, message: `GET ${cluster.baseUrl}/healthz` });
    }
    return cluster;
  } catch (e) {
    const log = cluster.log();
    await cluster.stop();
    e.message += log ? `\n--- server log ---\n${log.slice(-4000)}` : '';
    throw e;
  }
}

/** Is the edgestat extension installed for this PostgreSQL (make install done)? */
export function edgestatInstalled() {
  try {
    const share = execFileSync(process.env.PG_CONFIG || 'pg_config', ['--sharedir'], { encoding: 'utf8' }).trim();
    return existsSync(join(share, 'extension', 'edgestat.control'));
  } catch {
    return false;
  }
}

// Last resort: a test that crashed before stop() must not leave a postmaster behind.
process.on('exit', () => {
  for (const c of live) {
    try {
      execFileSync('runuser', ['-u', 'postgres', '--', join(pgBinDir(), 'pg_ctl'), '-D', c.dataDir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
    } catch { /* ignore */ }
    try { rmSync(c.dir, { recursive: true, force: true }); } catch { /* ignore */ }
  }
});
