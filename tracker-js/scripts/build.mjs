// Builds the two trackers from src/e.js with the pinned esbuild (package-lock.json):
//   dist/e.js      the core (EXT = false), served at GET /e.js
//   dist/e.ext.js  the core plus outbound-link and file-download clicks (EXT = true)
//
//   node scripts/build.mjs           write both
//   node scripts/build.mjs --check   exit 1 if either differs from a fresh build
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
export const SRC = root + 'src/e.js';
/** Each build's output file, and the value of the EXT constant it is built with. */
export const VARIANTS = {
  core: { dist: root + 'dist/e.js', ext: false },
  ext: { dist: root + 'dist/e.ext.js', ext: true },
};
export const DIST = VARIANTS.core.dist;

/** A minified tracker, as a string; deterministic for a given esbuild version. */
export async function build(variant = 'core') {
  const src = await readFile(SRC, 'utf8');
  const out = await transform(src, {
    loader: 'js',
    minify: true,
    target: 'es2017',
    charset: 'utf8',
    legalComments: 'none',
    // A constant: the other build's branch is dropped entirely.
    define: { EXT: String(VARIANTS[variant].ext) },
  });
  return out.code;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = false;
  await mkdir(root + 'dist', { recursive: true });
  for (const variant of Object.keys(VARIANTS)) {
    const { dist } = VARIANTS[variant];
    const name = dist.slice(root.length);
    const code = await build(variant);
    if (check) {
      let committed = '';
      try { committed = await readFile(dist, 'utf8'); } catch {}
      if (committed !== code) {
        console.error(`${name} differs from a fresh build of src/e.js: run \`npm run build\` and commit dist/`);
        stale = true;
      } else {
        console.log('%s is up to date (%d bytes)', name, Buffer.byteLength(code));
      }
    } else {
      await writeFile(dist, code);
      console.log('wrote %s (%d bytes)', name, Buffer.byteLength(code));
    }
  }
  if (stale) process.exit(1);
}
