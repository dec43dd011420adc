// The committed dist/e.js and dist/e.ext.js are exactly fresh builds of
// src/e.js, within their size budgets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { build, DIST, VARIANTS } from '../scripts/build.mjs';
import { BUDGET_GZIP, BUDGET_GZIP_EXT, sizes } from '../scripts/size.mjs';

test('dist/e.js and dist/e.ext.js equal a fresh build (npm run build was run and committed)', async () => {
  assert.equal(readFileSync(DIST, 'utf8'), await build());
  assert.equal(readFileSync(VARIANTS.ext.dist, 'utf8'), await build('ext'));
});

test('dist/e.js fits the size budget (1.5 KB gzipped); dist/e.ext.js fits its 2 KB', () => {
  const gz = sizes().gzip;
  assert.ok(gz <= BUDGET_GZIP, `${gz} B gzipped > ${BUDGET_GZIP}`);
  const gzExt = sizes(readFileSync(VARIANTS.ext.dist)).gzip;
  assert.ok(gzExt <= BUDGET_GZIP_EXT, `e.ext.js: ${gzExt} B gzipped > ${BUDGET_GZIP_EXT}`);
});

test('the core build has none of the extension code; the extension build has it', () => {
  const core = readFileSync(DIST, 'utf8');
  const ext = readFileSync(VARIANTS.ext.dist, 'utf8');
  for (const s of ['Outbound Link: Click', 'File Download', 'auxclick', 'outbound', 'downloads']) {
    assert.ok(!core.includes(s), `dist/e.js contains ${s}`);
    assert.ok(ext.includes(s), `dist/e.ext.js lacks ${s}`);
  }
  assert.doesNotMatch(core, /\bEXT\b/);
  assert.match(core, /rv=\{amount:/, 'revenue is in the core');
});

for (const file of [DIST, VARIANTS.ext.dist]) {
  test(`${file.replace(/.*\/dist\//, 'dist/')} sets no cookie and contacts nothing but its own endpoint`, () => {
    const js = readFileSync(file, 'utf8');
    assert.doesNotMatch(js, /cookie/i);
    assert.doesNotMatch(js, /https?:\/\//);
    assert.match(js, /sendBeacon/);
    assert.match(js, /keepalive:!0/);
    assert.match(js, /randomUUID/);
  });
}
