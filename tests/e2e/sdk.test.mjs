// The SDK as a user meets it: the built package imported by a plain module page in real
// headless Chromium, with real IndexedDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';

const env = useBrowser();

test('state, history and metadata survive a reload', async () => {
  const { page, context } = await openSdkPage(env);
  await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { dbName: 'reload' } });
    await sync.ready;
    sync.setState('todos', [{ title: 'write tests', done: false }]);
    sync.stateManager.setState('todos.0.done', true);
    sync.stateManager.append('todos', { title: 'ship', done: false });
    sync.stateManager.increment('stats.visits', 3);
    await sync.whenPersisted();
  });
  await page.reload();
  await page.waitForFunction(() => window.sdkLoaded === true);
  const restored = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { dbName: 'reload' } });
    await sync.ready;
    return {
      todos: sync.getState('todos'),
      visits: sync.getState('stats.visits'),
      version: sync.stateManager.getVersion('todos'),
      history: sync.stateManager.getHistory('todos').map((h) => h.version),
      meta: sync.getState('todos.1', { withMetadata: true }),
      clientId: sync.clientId,
    };
  });
  assert.deepEqual(restored.todos, [
    { title: 'write tests', done: true },
    { title: 'ship', done: false },
  ]);
  assert.equal(restored.visits, 3);
  assert.equal(restored.version, 3);
  assert.deepEqual(restored.history, [1, 2, 3]);
  assert.equal(restored.meta.value.title, 'ship');
  assert.equal(restored.meta.updatedBy, restored.clientId);
  await context.close();
});

test('non-JSON values and wrong argument types throw TypeError and change nothing', async () => {
  const { page, context } = await openSdkPage(env);
  const results = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { enabled: false } });
    await sync.ready;
    sync.setState('keep', { a: 1 });
    const cyclic = {};
    cyclic.self = cyclic;
    const bad = {
      function: () => 1,
      symbol: Symbol('s'),
      nan: NaN,
      infinity: Infinity,
      undefined: undefined,
      bigint: 10n,
      map: new Map(),
      date: new Date(),
      cycle: cyclic,
      nestedFunction: { a: [1, { f() {} }] },
      classInstance: new (class Point { x = 1; })(),
    };
    const out = {};
    for (const [name, value] of Object.entries(bad)) {
      try {
        sync.setState('keep', value);
        out[name] = 'accepted';
      } catch (error) {
        out[name] = `${error.constructor.name}:${error.code}`;
      }
    }
    const calls = {
      numberPath: () => sync.setState(42, 1),
      badIncrement: () => sync.stateManager.increment('n', '1'),
      badCallback: () => sync.stateManager.subscribe('k', 'not a function'),
      badBatch: () => sync.batch({ key: 'a', value: 1 }),
      badVersion: () => sync.stateManager.rollback('keep', -1),
      badPriority: () => sync.stateManager.subscribe('k', () => {}, { priority: 'urgent' }),
      unknownEvent: () => sync.eventBus.subscribe('data-chnage', () => {}),
    };
    for (const [name, call] of Object.entries(calls)) {
      try {
        call();
        out[name] = 'accepted';
      } catch (error) {
        out[name] = error instanceof TypeError ? 'TypeError' : `${error.constructor.name}`;
      }
    }
    out.kept = sync.getState('keep');
    out.version = sync.stateManager.getVersion('keep');
    return out;
  });
  for (const name of ['function', 'symbol', 'nan', 'infinity', 'undefined', 'bigint', 'map', 'date',
    'cycle', 'nestedFunction', 'classInstance']) {
    assert.equal(results[name], 'TypeError:INVALID_VALUE', name);
  }
  for (const name of ['numberPath', 'badIncrement', 'badCallback', 'badBatch', 'badVersion',
    'badPriority', 'unknownEvent']) {
    assert.equal(results[name], 'TypeError', name);
  }
  assert.deepEqual(results.kept, { a: 1 });
  assert.equal(results.version, 1);
  await context.close();
});

test('batch entries: each malformed one is named, and a batch with one changes nothing', async () => {
  const { page, context } = await openSdkPage(env);
  const out = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { enabled: false } });
    await sync.ready;
    const refused = {};
    const bad = {
      array: [{ key: 'a', value: 1 }, ['set', 'b', 2]],
      unknown: [{ key: 'a', value: 1 }, { key: 'b', value: 2, extra: true }],
      keyType: [{ key: 'a', value: 1 }, { key: 3, value: 2 }],
      missingValue: [{ key: 'a', value: 1 }, { op: 'append', key: 'b' }],
      byType: [{ key: 'a', value: 1 }, { op: 'increment', key: 'n', by: '2' }],
    };
    for (const [name, entries] of Object.entries(bad)) {
      try {
        sync.batch(entries);
        refused[name] = 'accepted';
      } catch (error) {
        refused[name] = `${error.constructor.name}:${error.code}:${error.message}`;
      }
    }
    const stored = { a: sync.getState('a'), b: sync.getState('b'), n: sync.getState('n') };
    const done = sync.batch([
      { key: 'a', value: null },
      { op: 'increment', key: 'n', by: 2 },
      { op: 'append', key: 'l', value: { x: 1 } },
      { op: 'update', key: 'u', value: { f: [1] } },
    ]);
    const after = ['a', 'n', 'l', 'u'].map((key) => sync.getState(key));
    return { refused, stored, done, after };
  });
  const entry = (n, what) => `ValidationError:INVALID_BATCH_ENTRY:batch entry ${n}: ${what}`;
  assert.equal(out.refused.array, entry(1, 'must be an object, got an array'));
  assert.equal(out.refused.unknown, entry(1, "unknown field 'extra'"));
  assert.equal(out.refused.keyType, entry(1, "needs a string 'key'"));
  assert.equal(out.refused.missingValue, entry(1, "'append' needs a 'value'"));
  assert.equal(out.refused.byType, entry(1, "'by' must be a finite number"));
  assert.deepEqual(out.stored, { a: undefined, b: undefined, n: undefined });
  assert.deepEqual(out.done.map((d) => d.key), ['a', 'n', 'l', 'u']);
  assert.deepEqual(out.after, [null, 2, [{ x: 1 }], { f: [1] }]);
  await context.close();
});

test('a bad value is named by where it is, and a polluted Object.prototype is not stored', async () => {
  const { page, context } = await openSdkPage(env);
  const out = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { enabled: false } });
    await sync.ready;
    const message = (fn) => {
      try {
        fn();
        return 'accepted';
      } catch (error) {
        return `${error.code}: ${error.message}`;
      }
    };
    const cyclic = { list: [1] };
    cyclic.list.push({ back: cyclic });
    const messages = {
      nested: message(() => sync.setState('a', { list: [1, { n: NaN }] })),
      cycle: message(() => sync.setState('a', cyclic)),
      symbolKey: message(() => sync.setState('a', { inner: { [Symbol('s')]: 1 } })),
      batch: message(() => sync.batch([{ key: 'a', value: 1 }, { key: 'b', value: { when: new Date(0) } }])),
    };
    // A method added to Object.prototype (as old libraries did) is enumerable: it shows up
    // in `for...in`, JSON skips it, and so must the check.
    Object.prototype.injected = function injected() {};
    try {
      sync.setState('plain', { a: 1, b: { c: 2 } });
    } finally {
      delete Object.prototype.injected;
    }
    return { messages, plain: sync.getState('plain'), a: sync.getState('a') };
  });
  assert.deepEqual(out.messages, {
    nested: 'INVALID_VALUE: value.list[1].n is NaN; numbers must be finite',
    cycle: 'INVALID_VALUE: value.list[1].back contains a cycle',
    symbolKey: 'INVALID_VALUE: value.inner has symbol keys, which JSON cannot hold',
    batch: 'INVALID_VALUE: entries[1].value.when is a Date; only plain objects, arrays and primitives are JSON',
  });
  assert.equal(out.a, undefined, 'nothing of a rejected value or batch is stored');
  assert.deepEqual(out.plain, { a: 1, b: { c: 2 } });
  assert.deepEqual(Object.keys(out.plain.b), ['c']);
  await context.close();
});

test('errors are Error subclasses with stable codes', async () => {
  const { page, context } = await openSdkPage(env);
  const out = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { enabled: false } });
    await sync.ready;
    const catchIt = (fn) => {
      try {
        fn();
      } catch (error) {
        return {
          name: error.name,
          code: error.code,
          isError: error instanceof Error,
          isSrvra: error instanceof sdk.SrvraError,
          isValidation: error instanceof sdk.ValidationError,
          message: error.message,
        };
      }
      return null;
    };
    sync.setState('n', 5);
    return {
      path: catchIt(() => sync.setState('a..b', 1)),
      container: catchIt(() => sync.setState('n.x', 1)),
      version: catchIt(() => sync.stateManager.rollback('n', 7)),
      config: catchIt(() => new sdk.SrvraDataSync({ historySize: 'lots' })),
      unknownOption: catchIt(() => new sdk.SrvraDataSync({ histroySize: 5 })),
      n: sync.getState('n'),
    };
  });
  for (const [name, code] of [['path', 'INVALID_PATH'], ['container', 'PATH_NOT_CONTAINER'], ['version', 'VERSION_NOT_FOUND']]) {
    assert.equal(out[name].name, 'ValidationError', name);
    assert.equal(out[name].code, code, name);
    assert.ok(out[name].isError && out[name].isSrvra && out[name].isValidation, name);
  }
  assert.equal(out.config.name, 'TypeError');
  assert.match(out.config.message, /config\.historySize/);
  assert.match(out.unknownOption.message, /config\.histroySize/);
  assert.equal(out.n, 5);
  await context.close();
});

test('subscribers: priorities, paths, isolation of a throwing subscriber, batches', async () => {
  const { page, context } = await openSdkPage(env);
  const out = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { enabled: false } });
    await sync.ready;
    const calls = [];
    const sm = sync.stateManager;
    sm.subscribe('users', () => calls.push('users:low'), { priority: 'low' });
    sm.subscribe('users.alice', (value, update) => calls.push(`alice:${JSON.stringify(value)}:${update.previousValue?.name}`));
    sm.subscribe('users', () => { throw new Error('boom'); }, { priority: 'high' });
    sm.subscribe('*', (value, update) => calls.push(`*:${update.path}:${update.origin}`), { priority: 'critical' });
    const errors = [];
    sync.eventBus.subscribe('sync-error', (payload) => errors.push(`${payload.phase}:${payload.error.message}`));
    sync.setState('users.alice', { name: 'Alice' });
    sync.setState('users.bob', { name: 'Bob' });
    const batchEvents = [];
    sync.eventBus.subscribe('batch-complete', (p, meta) => batchEvents.push([p, meta.type]));
    const before = calls.length;
    sync.batch([
      { key: 'users.alice.name', value: 'Alicia' },
      { op: 'increment', key: 'users.alice.logins' },
      { key: 'other', value: 1 },
    ]);
    const afterBatch = calls.slice(before);
    return { calls, errors, batchEvents, afterBatch, stats: sync.getStatistics() };
  });
  assert.deepEqual(out.calls.slice(0, 3), ['*:users.alice:local', 'alice:{"name":"Alice"}:undefined', 'users:low']);
  assert.deepEqual(out.calls.slice(3, 5), ['*:users.bob:local', 'users:low']);
  assert.deepEqual(out.errors, ['subscriber:boom', 'subscriber:boom', 'subscriber:boom']);
  assert.deepEqual(out.afterBatch, [
    '*:users:local',
    'alice:{"name":"Alicia","logins":1}:Alice',
    'users:low',
    '*:other:local',
  ]);
  assert.deepEqual(out.batchEvents, [[{ keys: ['users', 'other'], count: 3, origin: 'local' }, 'batch-complete']]);
  assert.equal(out.stats.subscriberErrors, 3);
  await context.close();
});

test('event bus: filter, priority, meta and unsubscribe', async () => {
  const { page, context } = await openSdkPage(env);
  const out = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { enabled: false } });
    await sync.ready;
    const seen = [];
    const id = sync.eventBus.subscribe('data-change', (p) => seen.push(`normal:${p.key}`));
    sync.eventBus.subscribe('data-change', (p, meta) => seen.push(`critical:${p.key}:${meta.type}:${typeof meta.timestamp}`),
      { priority: 'critical', filter: (p) => p.key.startsWith('cart') });
    sync.eventBus.subscribe('version-change', (p) => seen.push(`version:${p.key}:${p.previousVersion}->${p.version}`));
    sync.setState('cart.items', []);
    sync.setState('profile', {});
    sync.eventBus.unsubscribe(id);
    sync.setState('cart.total', 0);
    return seen;
  });
  assert.deepEqual(out, [
    'critical:cart:data-change:number',
    'normal:cart',
    'version:cart:0->1',
    'normal:profile',
    'version:profile:0->1',
    'critical:cart:data-change:number',
    'version:cart:1->2',
  ]);
  await context.close();
});

test('rollback restores an earlier version as a new change and notifies', async () => {
  const { page, context } = await openSdkPage(env);
  const out = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({ offline: { enabled: false }, historySize: 3 });
    await sync.ready;
    const origins = [];
    sync.stateManager.subscribe('doc', (value, update) => origins.push(`${update.origin}:${JSON.stringify(value)}`));
    for (let i = 1; i <= 5; i++) sync.setState('doc', { rev: i });
    const result = sync.stateManager.rollback('doc', 3);
    return { result, origins, history: sync.stateManager.getHistory('doc').map((h) => [h.version, h.value.rev, h.origin]) };
  });
  assert.deepEqual(out.result, { key: 'doc', version: 6 });
  assert.equal(out.origins.at(-1), 'rollback:{"rev":3}');
  assert.deepEqual(out.history, [[4, 4, 'local'], [5, 5, 'local'], [6, 3, 'rollback']]);
  await context.close();
});

test('getState answers are frozen and shared until their key is written, locally or from another tab', async () => {
  const first = await openSdkPage(env);
  const second = await openSdkPage(env, first.context);
  const open = (page) => page.evaluate(async () => {
    window.sync = new sdk.SrvraDataSync({ offline: { dbName: 'reads' } });
    await sync.ready;
  });
  await open(first.page);
  await open(second.page);
  const local = await first.page.evaluate(() => {
    sync.setState('doc', { title: 'a', tags: ['x'] });
    const one = sync.getState('doc');
    const again = sync.getState('doc');
    const title = sync.getState('doc.title');
    let thrown = null;
    try {
      one.tags.push('y');
    } catch (error) {
      thrown = error.name;
    }
    sync.setState('other', 1);
    const afterOtherWrite = sync.getState('doc');
    sync.setState('doc.title', 'b');
    const afterOwnWrite = sync.getState('doc');
    const titleAfterOwnWrite = sync.getState('doc.title');
    // More writes between two reads than the core remembers: everything is read again.
    for (let i = 0; i < 2000; i++) sync.setState(`burst${i}`, i);
    const afterBurst = sync.getState('doc');
    sync.stateManager.rollback('doc', 1);
    return {
      same: one === again,
      frozen: Object.isFrozen(one) && Object.isFrozen(one.tags),
      thrown,
      title,
      sameAfterOtherWrite: afterOtherWrite === one,
      newAfterOwnWrite: afterOwnWrite !== one,
      afterOwnWrite: JSON.stringify(afterOwnWrite),
      titleAfterOwnWrite,
      afterBurst: JSON.stringify(afterBurst),
      afterRollback: JSON.stringify(sync.getState('doc')),
      titleAfterRollback: sync.getState('doc.title'),
      missing: sync.getState('nothing.here'),
    };
  });
  assert.deepEqual(local, {
    same: true,
    frozen: true,
    thrown: 'TypeError',
    title: 'a',
    sameAfterOtherWrite: true,
    newAfterOwnWrite: true,
    afterOwnWrite: '{"title":"b","tags":["x"]}',
    titleAfterOwnWrite: 'b',
    afterBurst: '{"title":"b","tags":["x"]}',
    afterRollback: '{"title":"a","tags":["x"]}',
    titleAfterRollback: 'a',
    missing: undefined,
  });
  // A change made in the other tab reaches this tab's reads; values of other keys keep
  // their identity.
  await first.page.evaluate(() => {
    sync.setState('kept', { n: 1 });
    window.keptObject = sync.getState('kept');
    sync.getState('doc.title');
  });
  await second.page.evaluate(() => sync.setState('doc.title', 'from the other tab'));
  await first.page.waitForFunction(() => sync.getState('doc.title') === 'from the other tab', null, { timeout: 10_000 });
  const kept = await first.page.evaluate(() => ({
    doc: JSON.stringify(sync.getState('doc')),
    sameObject: sync.getState('kept') === window.keptObject,
  }));
  assert.deepEqual(kept, { doc: '{"title":"from the other tab","tags":["x"]}', sameObject: true });
  await first.context.close();
});
