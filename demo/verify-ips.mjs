// Checks demo/ips.mjs against the GeoLite2 City database with mmdblookup
// (apt-get install mmdb-bin).  Usage: node demo/verify-ips.mjs [file.mmdb]
import { execFileSync } from 'node:child_process';
import { PLACES } from './ips.mjs';
import { findGeoLiteDb } from './geolite.mjs';

const db = process.argv[2] || findGeoLiteDb();
let bad = 0;
for (const p of PLACES) {
  let out = '';
  try { out = execFileSync('mmdblookup', ['--file', db, '--ip', p.ip], { encoding: 'utf8' }); } catch { /* not found */ }
  const cc = /"country_code":\s*"([A-Z]{2})"/.exec(out)?.[1] ?? /"iso_code":\s*"([A-Z]{2})"/.exec(out)?.[1];
  const ok = cc === p.cc;
  if (!ok) bad++;
  console.log(`${ok ? 'ok ' : 'BAD'} ${p.ip.padEnd(15)} want ${p.cc} got ${cc ?? '-'} (${p.city})`);
}
console.log(`${PLACES.length - bad} passed, ${bad} failed`);
process.exit(bad ? 1 : 0);
