// Headless Chromium for tests, through a playwright-core that the caller
// imports (this directory has no dependencies of its own):
//
//   import { chromium } from 'playwright-core';
//   import { launchChromium, DESKTOP_UA } from '../../test/js/browser.mjs';
//   const browser = await launchChromium(chromium);
//   const context = await browser.newContext({ userAgent: DESKTOP_UA });
//   ...
//   await browser.close();
//
// Uses the system Chromium (apt-get install -y chromium) and never downloads one.

import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * A normal desktop Chrome User-Agent. edgestat drops bots by User-Agent and
 * "HeadlessChrome" counts as a bot, so every context whose beacons must be
 * stored needs `browser.newContext({ userAgent: DESKTOP_UA })`.
 */
export const DESKTOP_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

/**
 * Launch the system Chromium headless. playwright-core gives every launch a
 * fresh temporary profile (user-data-dir) of its own and removes it on close().
 * @param {import('playwright-core').BrowserType} chromium  playwright-core's `chromium`
 * @param {object} [opts] extra launch options (merged; `args` are appended);
 *   `userAgent` (default DESKTOP_UA, null to keep Chromium's own) is passed as --user-agent
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchChromium(chromium, opts = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  const { userAgent = DESKTOP_UA, ...rest } = opts;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    ...rest,
    // Browser-wide UA as well as per context: beacons sent while a page unloads
    // (sendBeacon/keepalive on pagehide) leave without the context's override
    // and would otherwise say "HeadlessChrome" and be dropped as a bot.
    args: [...CHROMIUM_ARGS, ...(userAgent ? [`--user-agent=${userAgent}`] : []), ...(rest.args || [])],
  });
}
