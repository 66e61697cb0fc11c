// A consumer app: imports the installed package by name, as an app would, and reports
// what it saw in `window.result`. Built by Vite and by webpack in consumer.test.mjs.
import { SrvraDataSync, ValidationError } from 'srvra-sync';

const sync = new SrvraDataSync({ offline: { dbName: 'consumer-app' } });
await sync.ready;
sync.setState('greeting', { text: 'hello from a bundle' });
sync.batch([{ key: 'n', value: 1 }, { op: 'increment', key: 'n', by: 2 }]);
let code = null;
try {
  sync.setState('a..b', 1);
} catch (error) {
  code = error instanceof ValidationError ? error.code : 'wrong class';
}
await sync.whenPersisted();
window.result = { text: sync.getState('greeting.text'), n: sync.getState('n'), code, status: sync.status };
