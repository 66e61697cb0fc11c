// A Node script whose server is down, then wrong, then up (issue 27): the `ws` package's
// connection errors must not end the process, an outage stays `reconnecting`, writes
// made before `ready` with `offline: { enabled: false }` reach the server, and
// `whenSynced()` is the first-sync signal. Argv: the server's ws URL, a refused URL, a
// 404 URL, the ws package's ESM wrapper. Prints what it saw as JSON.
import { SrvraDataSync } from 'srvra-sync';

const [url, refusedUrl, notFoundUrl, wsModule] = process.argv.slice(2);
const { WebSocket } = await import(wsModule);
const fast = { backoff: { initialDelay: 20, maxDelay: 100, factor: 2, jitter: false }, retryAttempts: 2 };
const seen = {};

async function outage(name, target) {
  const sync = new SrvraDataSync({ url: target, room: 'node-outage', webSocket: WebSocket, offline: { enabled: false }, ...fast });
  const errors = [];
  sync.eventBus.subscribe('sync-error', ({ error }) => errors.push(error.code));
  await sync.ready;
  await new Promise((resolve) => {
    const check = () => (sync.getStatistics().reconnects >= 3 ? resolve() : setTimeout(check, 10));
    check();
  });
  seen[name] = { status: sync.status, errors };
  await sync.close();
}

await outage('refused', refusedUrl);
await outage('notFound', notFoundUrl);

// close() while the socket is still connecting.
const early = new SrvraDataSync({ url, room: 'node-outage', webSocket: WebSocket, offline: { enabled: false } });
await early.close().catch(() => {});
seen.closedWhileConnecting = true;

// Writes before `ready`, without storage: kept and sent.
const writer = new SrvraDataSync({ url, room: 'node-outage', webSocket: WebSocket, offline: { enabled: false }, ...fast });
writer.setState('beforeReady', { kept: true });
await writer.ready;
await writer.sync();
await writer.close();

// A second script-like client: `whenSynced()` before reading.
const reader = new SrvraDataSync({ url, room: 'node-outage', webSocket: WebSocket, offline: { enabled: false } });
await reader.ready;
await reader.whenSynced();
seen.read = reader.getState('beforeReady') ?? null;
seen.status = reader.status;
await reader.close();
console.log(JSON.stringify(seen));
