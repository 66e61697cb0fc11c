// A small static file server (sirv) with mount points, used by the demo, the browser tests
// and the benchmark. Serves .wasm as application/wasm and disables caching.
import { createServer } from 'node:http';
import sirv from 'sirv';

/**
 * Starts serving `mounts` ({ '/pkg': '/abs/dir', '/': '/abs/dir' }) on host:port
 * (port 0 picks a free one). Resolves to { url, close() }.
 */
export async function startStaticServer({ mounts, host = '127.0.0.1', port = 0 }) {
  const handlers = Object.entries(mounts)
    .sort(([a], [b]) => b.length - a.length)
    .map(([prefix, dir]) => [prefix.replace(/\/$/, ''), sirv(dir, { dev: true, etag: false })]);
  const server = createServer((req, res) => {
    for (const [prefix, handler] of handlers) {
      if (prefix === '' || req.url === prefix || req.url.startsWith(`${prefix}/`)) {
        req.url = req.url.slice(prefix.length) || '/';
        handler(req, res, () => {
          res.statusCode = 404;
          res.end('not found');
        });
        return;
      }
    }
    res.statusCode = 404;
    res.end('not found');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address();
  return {
    url: `http://${host}:${bound}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
