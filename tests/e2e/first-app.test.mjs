// What a first app meets (SPEC 19, issue 27), through the packed package in Chromium
// against the real server: a per-path merge rule scopes its conflict, state loaded at
// `ready` reaches subscribers made before it, `whenSynced()`, collections edited from two
// devices, bracket paths and strategy typos refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useBrowser } from './harness.mjs';
import { openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

const recordConflicts = `
  window.conflicts = [];
  sync.eventBus.subscribe('conflict', (c) => window.conflicts.push(c));
`;

test('a manual rule on tasks.*.title scopes the conflict, its payload and resolve() to that title', async () => {
  const rule = `sync.conflictResolver.setMergeRule('tasks.*.title', 'manual');${recordConflicts}`;
  const a = await openPeer(env, server.ws, 'scoped', 'a-scoped', undefined, { before: rule });
  const b = await openPeer(env, server.ws, 'scoped', 'b-scoped', undefined, { before: rule });
  await a.page.evaluate(async () => {
    sync.setState('tasks', [
      { title: 'Write Q3 report', done: false },
      { title: 'Book flights', done: false },
    ]);
    await sync.sync();
  });
  await waitFor(b.page, () => sync.getState('tasks.1.title') === 'Book flights');
  await b.context.setOffline(true);
  await waitFor(b.page, () => sync.status === 'offline');
  await b.page.evaluate(() => sync.setState('tasks.0.title', 'Write Q3 report (draft)'));
  await a.page.evaluate(async () => {
    sync.setState('tasks.0.title', 'Write the Q3 report');
    sync.setState('tasks.1.done', true);
    await sync.sync();
  });
  await b.context.setOffline(false);
  await waitFor(b.page, () => window.conflicts.length === 1 && sync.getState('tasks.1.done') === true);
  const conflict = await b.page.evaluate(() => {
    const { key, path, clientValue, serverValue, baseValue } = window.conflicts[0];
    return { key, path, clientValue, serverValue, baseValue };
  });
  assert.deepEqual(conflict, {
    key: 'tasks',
    path: 'tasks.0.title',
    clientValue: 'Write Q3 report (draft)',
    serverValue: 'Write the Q3 report',
    baseValue: 'Write Q3 report',
  });
  // The documented call that once replaced the whole list with this string.
  await b.page.evaluate(() => window.conflicts[0].resolve('Write Q3 report (final)'));
  const expected = [
    { title: 'Write Q3 report (final)', done: false },
    { title: 'Book flights', done: true },
  ];
  for (const p of [a.page, b.page]) {
    await waitFor(p, (want) => JSON.stringify(sync.getState('tasks')) === want, JSON.stringify(expected));
  }
  await a.context.close();
  await b.context.close();
});

test('state loaded at ready reaches a subscriber made before it, with origin load', async () => {
  const a = await openPeer(env, server.ws, 'loaded', 'db-loaded');
  await a.page.evaluate(async () => {
    sync.setState('tasks', [{ title: 'kept', done: false }]);
    sync.setState('other', 1);
    await sync.whenPersisted();
    await sync.close();
  });
  // A view rendered before `ready`: its subscriber must hear the cached list.
  const seen = await a.page.evaluate(async ({ url }) => {
    const next = new sdk.SrvraDataSync({ url, room: 'loaded', offline: { dbName: 'db-loaded' } });
    const calls = [];
    next.subscribe('tasks', (value, update) => calls.push({ value, origin: update.origin, op: update.op }));
    const before = next.getState('tasks');
    await next.ready;
    await next.close();
    return { before, calls };
  }, { url: server.ws });
  assert.equal(seen.before, undefined);
  assert.deepEqual(seen.calls, [{ value: [{ title: 'kept', done: false }], origin: 'load', op: 'load' }]);
  await a.context.close();
});

test('whenSynced resolves once the first catch-up is applied, and at once without a server', async () => {
  const a = await openPeer(env, server.ws, 'first-sync', 'a-first');
  await a.page.evaluate(async () => {
    sync.setState('board', { columns: 3 });
    await sync.sync();
  });
  const result = await a.page.evaluate(async ({ url }) => {
    const fresh = new sdk.SrvraDataSync({ url, room: 'first-sync', offline: { enabled: false } });
    await fresh.ready;
    const atReady = fresh.getState('board');
    await fresh.whenSynced();
    const afterSync = fresh.getState('board');
    await fresh.close();
    const local = new sdk.SrvraDataSync({ offline: { enabled: false } });
    await local.whenSynced();
    await local.close();
    return { atReady: atReady ?? null, afterSync };
  }, { url: server.ws });
  assert.deepEqual(result, { atReady: null, afterSync: { columns: 3 } });
  await a.context.close();
});

test('two devices add, edit different fields of one item, move and remove in a collection: nothing is lost', async () => {
  const a = await openPeer(env, server.ws, 'todo-collection', 'a-todo');
  const b = await openPeer(env, server.ws, 'todo-collection', 'b-todo');
  const ids = await a.page.evaluate(async () => {
    const todos = sync.collection('todo');
    const ids = ['Write Q3 report', 'Book flights', 'Call Ada'].map((title) => todos.add({ title, done: false }));
    await sync.sync();
    return ids;
  });
  await waitFor(b.page, () => sync.collection('todo').list().length === 3);
  for (const p of [a, b]) {
    await p.context.setOffline(true);
    await waitFor(p.page, () => sync.status === 'offline');
  }
  // Offline on both: a adds, ticks the first off and moves the last first; b adds,
  // renames the first and removes the second.
  await a.page.evaluate((ids) => {
    const todos = sync.collection('todo');
    todos.add({ title: 'From a', done: false });
    todos.update(ids[0], { done: true });
    todos.move(ids[2], { before: ids[0] });
  }, ids);
  await b.page.evaluate((ids) => {
    const todos = sync.collection('todo');
    todos.add({ title: 'From b', done: false });
    todos.update(ids[0], { title: 'Write Q3 report (draft)' });
    todos.remove(ids[1]);
  }, ids);
  for (const p of [a, b]) await p.context.setOffline(false);
  const read = () => sync.collection('todo').list().map(({ value }) => `${value.title}:${value.done}`);
  for (const p of [a.page, b.page]) {
    await waitFor(p, () => sync.collection('todo').list().length === 4 && sync.status === 'synced'
      && sync.getStatistics().outboxLength === 0);
  }
  await waitFor(a.page, (want) => JSON.stringify(sync.collection('todo').list()) === want,
    await b.page.evaluate(() => JSON.stringify(sync.collection('todo').list())));
  const [la, lb] = [await a.page.evaluate(read), await b.page.evaluate(read)];
  assert.deepEqual(la, lb);
  assert.deepEqual(la.slice(0, 2), ['Call Ada:false', 'Write Q3 report (draft):true']);
  assert.deepEqual([...la.slice(2)].sort(), ['From a:false', 'From b:false']);
  await a.context.close();
  await b.context.close();
});

test('bracket paths, unknown strategy names and a typo of the default strategy are refused', async () => {
  const a = await openPeer(env, server.ws, 'refusals', 'a-refusals');
  const result = await a.page.evaluate(() => {
    const attempt = (fn) => {
      try {
        fn();
        return 'accepted';
      } catch (error) {
        return `${error.name} ${error.code}`;
      }
    };
    return {
      brackets: attempt(() => sync.setState('todos[0].done', true)),
      keys: sync.stateManager.keys(),
      rule: attempt(() => sync.conflictResolver.setMergeRule('doc', 'manuel')),
      config: attempt(() => new sdk.SrvraDataSync({ mergeStrategy: 'last-writer-wins' })),
      registered: attempt(() => {
        sync.conflictResolver.registerCustomStrategy('keep-longest', (c) => ({ value: c.clientValue }));
        sync.conflictResolver.setMergeRule('doc', 'keep-longest');
      }),
      dotted: attempt(() => sync.setState('todos', [{ done: false }]) && sync.setState('todos.0.done', true)),
      value: sync.getState('todos'),
    };
  });
  assert.deepEqual(result, {
    brackets: 'ValidationError INVALID_PATH',
    keys: [],
    rule: 'TypeError INVALID_STRATEGY',
    config: 'TypeError INVALID_STRATEGY',
    registered: 'accepted',
    dotted: 'accepted',
    value: [{ done: true }],
  });
  await a.context.close();
});
