// A plain Node 20 script using the installed package: no DOM, no IndexedDB.
import { SrvraDataSync, ValidationError } from 'srvra-sync';

const sync = new SrvraDataSync({ offline: { enabled: false } });
await sync.ready;
const seen = [];
sync.stateManager.subscribe('todo', (value, update) => seen.push([value.title, update.origin]));
sync.setState('todo', { title: 'write tests', done: false });
sync.stateManager.updateState('todo', { done: true });
sync.batch([{ key: 'count', value: 1 }, { op: 'increment', key: 'count', by: 4 }]);
let rejected = null;
try {
  sync.setState('bad', Number.NaN);
} catch (error) {
  rejected = `${error.name} ${error.code}`;
}
const storage = await new SrvraDataSync().ready.then(() => 'resolved', (error) => `${error.name} ${error.code}`);
console.log(JSON.stringify({
  todo: sync.getState('todo'),
  count: sync.getState('count'),
  history: sync.stateManager.getHistory('todo').length,
  seen,
  rejected,
  storage,
  validation: new ValidationError('X', 'x') instanceof Error,
}));
