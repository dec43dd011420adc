// Builds dist/e.js from src/e.js with the pinned esbuild (package-lock.json).
//   node scripts/build.mjs           write dist/e.js
//   node scripts/build.mjs --check   exit 1 if dist/e.js differs from a fresh build
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
export const SRC = root + 'src/e.js';
export const DIST = root + 'dist/e.js';

/** The minified tracker, as a string; deterministic for a given esbuild version. */
export async function build() {
  const src = await readFile(SRC, 'utf8');
  const out = await transform(src, {
    loader: 'js',
    minify: true,
    target: 'es2017',
    charset: 'utf8',
    legalComments: 'none',
  });
  return out.code;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const code = await build();
  if (process.argv.includes('--check')) {
    let committed = '';
    try { committed = await readFile(DIST, 'utf8'); } catch {}
    if (committed !== code) {
      console.error('dist/e.js differs from a fresh build of src/e.js: run `npm run build` and commit dist/e.js');
      process.exit(1);
    }
    console.log('dist/e.js is up to date (%d bytes)', Buffer.byteLength(code));
  } else {
    await mkdir(root + 'dist', { recursive: true });
    await writeFile(DIST, code);
    console.log('wrote dist/e.js (%d bytes)', Buffer.byteLength(code));
  }
}
