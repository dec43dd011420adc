// Prints the minified and compressed sizes of dist/e.js and dist/e.ext.js;
// exits 1 when either is over its budget.
import { readFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const BUDGET_GZIP = 1536; // the core, dist/e.js: 1.5 KB gzipped (level 9), everything included
export const BUDGET_GZIP_EXT = 2048; // dist/e.ext.js: the core plus outbound links and downloads

const file = (name) => readFileSync(fileURLToPath(new URL(`../dist/${name}`, import.meta.url)));

export function sizes(code = file('e.js')) {
  return {
    minified: code.length,
    gzip: gzipSync(code, { level: 9 }).length,
    gzipDefault: gzipSync(code).length,
    brotli: brotliCompressSync(code).length,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let over = false;
  for (const [name, budget] of [['e.js', BUDGET_GZIP], ['e.ext.js', BUDGET_GZIP_EXT]]) {
    const s = sizes(file(name));
    console.log(`dist/${name}: ${s.minified} B minified, ${s.gzip} B gzip -9 (${s.gzipDefault} B gzip -6), ${s.brotli} B brotli; budget ${budget} B gzipped`);
    if (s.gzip > budget) {
      console.error(`dist/${name} is over budget by ${s.gzip - budget} B`);
      over = true;
    }
  }
  if (over) process.exit(1);
}
