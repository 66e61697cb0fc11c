import { SrvraDataSync, ValidationError } from 'srvra-sync';

const sync = new SrvraDataSync({ offline: { dbName: 'vite-app' } });
await sync.ready;
sync.setState('greeting', { text: 'hello from vite' });
let code = null;
try {
  sync.setState('a..b', 1);
} catch (error) {
  code = error instanceof ValidationError ? error.code : 'wrong class';
}
await sync.whenPersisted();
window.result = { text: sync.getState('greeting.text'), code, status: sync.status };
