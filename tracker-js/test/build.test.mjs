// The committed dist/e.js is exactly a fresh build of src/e.js, within the size budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { build, DIST } from '../scripts/build.mjs';
import { BUDGET_GZIP, sizes } from '../scripts/size.mjs';

test('dist/e.js equals a fresh build (npm run build was run and committed)', async () => {
  assert.equal(readFileSync(DIST, 'utf8'), await build());
});

test('dist/e.js fits the size budget (1.5 KB gzipped)', () => {
  const gz = sizes().gzip;
  assert.ok(gz <= BUDGET_GZIP, `${gz} B gzipped > ${BUDGET_GZIP}`);
});

test('dist/e.js sets no cookie and contacts nothing but its own endpoint', () => {
  const js = readFileSync(DIST, 'utf8');
  assert.doesNotMatch(js, /cookie/i);
  assert.doesNotMatch(js, /https?:\/\//);
  assert.match(js, /sendBeacon/);
  assert.match(js, /keepalive:!0/);
  assert.match(js, /randomUUID/);
});
