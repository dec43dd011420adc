// Builds dist/index.html: one self-contained file (HTML + inlined CSS + the
// bundled, minified JS with d3-geo, topojson-client and the world-atlas
// 110m countries).  No external request of any kind.  Deterministic: same
// sources and lockfile -> byte-identical output (check-build relies on it).
import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(root, process.argv[2] || 'dist');

const js = await build({
  entryPoints: [join(root, 'src/app.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  legalComments: 'eof',
  charset: 'utf8',
  write: false,
  absWorkingDir: root,
  logLevel: 'warning',
});
const css = await build({
  entryPoints: [join(root, 'src/style.css')],
  bundle: true,
  minify: true,
  write: false,
  absWorkingDir: root,
  logLevel: 'warning',
});

let code = js.outputFiles[0].text.replace(/<\/(script)/gi, '<\\/$1');
const style = css.outputFiles[0].text.replace(/<\/(style)/gi, '<\\/$1');
const tpl = await readFile(join(root, 'src/index.html'), 'utf8');
if (!tpl.includes('/*CSS*/') || !tpl.includes('/*JS*/')) throw new Error('template placeholders missing');
const html = tpl.split('/*CSS*/').join(style.trim()).split('/*JS*/').join(code.trim());
if (/\b(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html)) throw new Error('dist would reference an external URL');

await mkdir(out, { recursive: true });
await writeFile(join(out, 'index.html'), html);
console.log(`${join(out, 'index.html')}: ${(html.length / 1024).toFixed(1)} KiB`);
