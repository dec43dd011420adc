// Prints the minified and compressed sizes of dist/e.js; exits 1 over budget.
import { readFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const BUDGET_GZIP = 1536; // 1.5 KB gzipped (level 9), everything included

export function sizes(code = readFileSync(fileURLToPath(new URL('../dist/e.js', import.meta.url)))) {
  return {
    minified: code.length,
    gzip: gzipSync(code, { level: 9 }).length,
    gzipDefault: gzipSync(code).length,
    brotli: brotliCompressSync(code).length,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = sizes();
  console.log(`dist/e.js: ${s.minified} B minified, ${s.gzip} B gzip -9 (${s.gzipDefault} B gzip -6), ${s.brotli} B brotli; budget ${BUDGET_GZIP} B gzipped`);
  if (s.gzip > BUDGET_GZIP) {
    console.error(`over budget by ${s.gzip - BUDGET_GZIP} B`);
    process.exit(1);
  }
}
