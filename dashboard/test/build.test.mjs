// dist/ is committed: it must be exactly what `npm run build` makes, and
// self-contained (the worker serves it offline: no CDN, no fonts, no tiles).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scoreColor } from '../src/color.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

test('committed dist/ equals a fresh build (npm run check-build)', () => {
  execFileSync(process.execPath, [join(root, 'scripts/check-build.mjs')], { stdio: 'pipe' });
});

test('dist/ is one self-contained page', () => {
  assert.deepEqual(readdirSync(join(root, 'dist')), ['index.html']);
  const html = readFileSync(join(root, 'dist/index.html'), 'utf8');
  assert.ok(!/<(script|link|img|iframe)[^>]+(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html), 'external resource');
  assert.ok(!/@import|url\(\s*["']?(https?:)?\/\//i.test(html), 'external CSS resource');
  assert.ok(!/fonts\.googleapis|unpkg|jsdelivr|cdnjs|tile\.openstreetmap/i.test(html));
  assert.ok(html.includes('"countries"'), 'world-atlas countries are bundled');
  assert.ok(html.length < 400 * 1024, `page is ${html.length} bytes`);
});

test('score colours: 0, 50 and 100 are the legend stops, in between interpolates', () => {
  assert.equal(scoreColor(0), 'rgb(84, 104, 255)');
  assert.equal(scoreColor(50), 'rgb(43, 217, 166)');
  assert.equal(scoreColor(100), 'rgb(255, 210, 63)');
  assert.equal(scoreColor(25), 'rgb(64, 161, 211)');
  assert.equal(scoreColor(-5), scoreColor(0));
  assert.equal(scoreColor(500), scoreColor(100));
  assert.equal(scoreColor(null), scoreColor(0));
});
