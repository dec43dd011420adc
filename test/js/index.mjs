// Everything the Node test harness offers, from one import.
export { startCluster, freePort, waitFor, pgBinDir, edgestatInstalled } from './cluster.mjs';
export { startPageServer } from './pages.mjs';
export { launchChromium, DESKTOP_UA, CHROMIUM_ARGS, CHROMIUM_PATH } from './browser.mjs';
