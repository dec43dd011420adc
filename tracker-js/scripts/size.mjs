// Prints the minified and gzipped size of dist/e.js and fails over budget.
import { readFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const BUDGET_GZIP = 1536; // 1.5 KB gzipped, everything included

const code = readFileSync(fileURLToPath(new URL('../dist/e.js', import.meta.url)));
const gz = gzipSync(code, { level: 9 }).length;
const br = brotliCompressSync(code).length;
console.log(`dist/e.js: ${code.length} B minified, ${gz} B gzipped (level 9), ${br} B brotli; budget ${BUDGET_GZIP} B gzipped`);
if (gz > BUDGET_GZIP) {
  console.error(`over budget by ${gz - BUDGET_GZIP} B`);
  process.exit(1);
}
