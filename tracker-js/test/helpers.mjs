// Shared bits of the tracker tests: test pages and a browser.
import { chromium } from 'playwright-core';
import { launchChromium, DESKTOP_UA } from '../../test/js/browser.mjs';

export { DESKTOP_UA };
export const STUB = 'window.edgestat=window.edgestat||function(){(edgestat.q=edgestat.q||[]).push(arguments)}';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function launch() {
  return launchChromium(chromium);
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/**
 * A test page that loads the tracker.
 * @param {object} o
 * @param {string} o.src        script URL of the tracker
 * @param {object} o.attrs      data-* attributes, e.g. {site: 'example.test', heartbeat: 1}; true = bare attribute
 * @param {string} [o.before]   inline JS run before the tracker loads (e.g. the stub and early calls)
 * @param {string} [o.body]     body HTML
 * @param {boolean} [o.tall]    a 6000px tall page
 */
export function page({ src, attrs = {}, before = '', body = '', tall = false, title = 'test' }) {
  const a = Object.entries(attrs)
    .map(([k, v]) => (v === true ? ` data-${k}` : ` data-${k}="${esc(v)}"`))
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width">
${before ? `<script>${before}</script>` : ''}
<script defer src="${esc(src)}"${a}></script></head>
<body style="margin:0">${tall ? '<div style="height:6000px">tall</div>' : ''}${body}
<a id="next" href="/other">next</a><button id="btn">button</button></body></html>`;
}

/** Scroll to `pct` percent depth (of scrollable height + viewport), firing a scroll event. */
export async function scrollToDepth(p, pct) {
  await p.evaluate((pct) => {
    const h = document.documentElement.scrollHeight;
    window.scrollTo(0, Math.max(0, (h * pct) / 100 - innerHeight));
  }, pct);
}
