// Fails when the committed dist/ differs from a fresh build.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'edgestat-dash-'));
try {
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), tmp], { stdio: 'inherit' });
  const dist = join(root, 'dist');
  const a = readdirSync(dist).sort();
  const b = readdirSync(tmp).sort();
  let bad = JSON.stringify(a) !== JSON.stringify(b);
  if (bad) console.error(`dist/ files ${JSON.stringify(a)} != fresh build ${JSON.stringify(b)}`);
  for (const f of b) {
    if (a.includes(f) && !readFileSync(join(dist, f)).equals(readFileSync(join(tmp, f)))) {
      console.error(`dist/${f} differs from a fresh build`);
      bad = true;
    }
  }
  if (bad) { console.error('run `npm run build` in dashboard/ and commit dist/'); process.exit(1); }
  console.log('dist/ matches a fresh build');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
