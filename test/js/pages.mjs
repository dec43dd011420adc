// A tiny HTTP server for test pages (its own port on 127.0.0.1).
//
//   const site = await startPageServer({
//     '/': '<html>...</html>',                         // string: served as text/html
//     '/e': (req, res, body) => { ...; res.end() },    // function: full control, body = request body text
//   }, { fallback: '/' });                              // unknown paths get this route (SPA style)
//   site.origin          // 'http://127.0.0.1:PORT'
//   site.url('/a?b=1')   // absolute URL
//   site.requests        // [{method, url, headers, body}] every request seen, in order
//   await site.stop();
//
// Node built-ins only.

import { createServer } from 'node:http';

/**
 * @param {Record<string, string | ((req, res, body: string) => void)>} routes  keyed by URL path (no query)
 * @param {{fallback?: string}} [opts]
 */
export async function startPageServer(routes, { fallback } = {}) {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      const path = new URL(req.url, 'http://x').pathname;
      const route = routes[path] ?? (fallback !== undefined ? routes[fallback] : undefined);
      if (route === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      } else if (typeof route === 'function') {
        route(req, res, body);
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(route);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    requests,
    url: (p = '/') => origin + p,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
