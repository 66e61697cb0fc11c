// A server-side Node client: syncs through the server with the `ws` package as its
// WebSocket. Argv: url, room, path of the ws package's ESM wrapper. Writes `fromNode`,
// waits for `fromBrowser`, prints both, and closes.
import { SrvraDataSync } from 'srvra-sync';

const [url, room, wsModule] = process.argv.slice(2);
const { WebSocket } = await import(wsModule);
const sync = new SrvraDataSync({ url, room, webSocket: WebSocket, offline: { enabled: false } });
await sync.ready;
sync.setState('fromNode', { at: 'node' });
sync.batch([{ key: 'nodeBatch', value: 1 }, { op: 'increment', key: 'nodeBatch', by: 1 }]);
await sync.sync();
await new Promise((resolve) => {
  const check = () => (sync.getState('fromBrowser') !== undefined ? resolve() : setTimeout(check, 20));
  check();
});
console.log(JSON.stringify({
  fromBrowser: sync.getState('fromBrowser'),
  fromNode: sync.getState('fromNode'),
  status: sync.status,
}));
await sync.close();
