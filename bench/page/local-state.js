// Local state benchmarks, run inside Chromium. Each scenario measures srvra-sync next to
// Yjs doing the same work and a plain Map as the floor. Returns rows of ops/s.

const now = () => performance.now();

function rate(count, ms) {
  return { ops: count, ms: Math.round(ms * 10) / 10, opsPerSec: Math.round((count / ms) * 1000) };
}

async function fresh(srvra, dbName) {
  await new Promise((resolve) => {
    const request = indexedDB.deleteDatabase(dbName);
    request.onsuccess = request.onerror = request.onblocked = resolve;
  });
  const sync = new srvra.SrvraDataSync({ offline: { dbName } });
  await sync.ready;
  return sync;
}

function keysOf(n) {
  return Array.from({ length: n }, (_, i) => `key${i}`);
}

export async function benchmarks({ srvra, Y }, { n = 100_000, overwrites = 10_000, notifications = 10_000 } = {}) {
  const keys = keysOf(n);
  const rows = [];
  const add = (scenario, lib, result, note = '') => rows.push({ scenario, lib, ...result, note });

  // Warm-up of every code path so the measured runs are not the JIT's first sight of them.
  {
    const sync = await fresh(srvra, 'bench-warm');
    const doc = new Y.Doc();
    const map = doc.getMap('m');
    for (let i = 0; i < 2000; i++) {
      sync.setState(`w${i}`, { n: i, s: `v${i}` });
      sync.getState(`w${i}`);
      doc.transact(() => map.set(`w${i}`, { n: i, s: `v${i}` }));
    }
    sync.batch(keys.slice(0, 2000).map((key, i) => ({ key, value: { n: i, s: 'w' } })));
    await sync.whenPersisted();
    await sync.close();
  }

  // 1. setState of n distinct keys, one call each.
  let sync = await fresh(srvra, 'bench-set');
  let t = now();
  for (let i = 0; i < n; i++) sync.setState(keys[i], { n: i, s: `v${i}` });
  add('setState, distinct keys, one call each', 'srvra-sync', rate(n, now() - t));
  t = now();
  await sync.whenPersisted();
  const persistMs = now() - t;
  add('  ...then whenPersisted() (IndexedDB write)', 'srvra-sync', { ops: n, ms: Math.round(persistMs), opsPerSec: null });
  await sync.close();
  {
    const doc = new Y.Doc();
    const map = doc.getMap('m');
    t = now();
    for (let i = 0; i < n; i++) doc.transact(() => map.set(keys[i], { n: i, s: `v${i}` }));
    add('setState, distinct keys, one call each', 'Yjs (transact per set)', rate(n, now() - t));
  }
  {
    const map = new Map();
    t = now();
    for (let i = 0; i < n; i++) map.set(keys[i], { n: i, s: `v${i}` });
    add('setState, distinct keys, one call each', 'Map (floor)', rate(n, now() - t));
  }

  // 2. The same in one batch.
  sync = await fresh(srvra, 'bench-batch');
  t = now();
  const entries = new Array(n);
  for (let i = 0; i < n; i++) entries[i] = { key: keys[i], value: { n: i, s: `v${i}` } };
  sync.batch(entries);
  add('batch of n distinct keys', 'srvra-sync', rate(n, now() - t));
  await sync.whenPersisted();
  await sync.close();
  {
    const doc = new Y.Doc();
    const map = doc.getMap('m');
    t = now();
    doc.transact(() => {
      for (let i = 0; i < n; i++) map.set(keys[i], { n: i, s: `v${i}` });
    });
    add('batch of n distinct keys', 'Yjs (one transact)', rate(n, now() - t));
  }

  // 3. Overwrites of one key.
  sync = await fresh(srvra, 'bench-overwrite');
  t = now();
  for (let i = 0; i < overwrites; i++) sync.setState('hot', { n: i, s: `v${i}` });
  add('overwrites of one key', 'srvra-sync', rate(overwrites, now() - t));
  await sync.whenPersisted();
  await sync.close();
  {
    const doc = new Y.Doc();
    const map = doc.getMap('m');
    t = now();
    for (let i = 0; i < overwrites; i++) doc.transact(() => map.set('hot', { n: i, s: `v${i}` }));
    add('overwrites of one key', 'Yjs (transact per set)', rate(overwrites, now() - t));
  }

  // 4. Loading n cached keys, then reads. Shards are decoded on first use, so the first
  // pass over every key pays the decoding that `ready` skipped; the second is steady state.
  sync = new srvra.SrvraDataSync({ offline: { dbName: 'bench-set' } });
  t = now();
  await sync.ready;
  add('await ready with n cached keys', 'srvra-sync', { ops: sync.getStatistics().keys, ms: Math.round(now() - t), opsPerSec: null });
  let checksum = 0;
  t = now();
  for (let i = 0; i < n; i++) checksum += sync.getState(keys[i]).n;
  add('getState, first read after load', 'srvra-sync', rate(n, now() - t), 'decodes every shard');
  t = now();
  for (let i = 0; i < n; i++) checksum += sync.getState(keys[i]).n;
  add('getState reads', 'srvra-sync', rate(n, now() - t));
  await sync.close();
  {
    const doc = new Y.Doc();
    const map = doc.getMap('m');
    doc.transact(() => keys.forEach((key, i) => map.set(key, { n: i, s: `v${i}` })));
    t = now();
    for (let i = 0; i < n; i++) checksum += map.get(keys[i]).n;
    add('getState reads', 'Yjs (Y.Map.get)', rate(n, now() - t));
    const update = Y.encodeStateAsUpdate(doc);
    t = now();
    const loaded = new Y.Doc();
    Y.applyUpdate(loaded, update);
    add('await ready with n cached keys', 'Yjs (applyUpdate of n keys)', { ops: loaded.getMap('m').size, ms: Math.round(now() - t), opsPerSec: null });
  }
  {
    const map = new Map(keys.map((key, i) => [key, { n: i, s: `v${i}` }]));
    t = now();
    for (let i = 0; i < n; i++) checksum += map.get(keys[i]).n;
    add('getState reads', 'Map (floor)', rate(n, now() - t));
  }

  // 4b. Reads between writes, as an app renders: a frame writes one key, then reads 100
  // keys (the written one among them now and then). Counts the reads and the writes.
  {
    const frames = 1_000;
    const width = 100;
    const shown = keysOf(1_000);
    const frame = (write, read) => {
      for (let f = 0; f < frames; f++) {
        write(shown[(f * 7) % shown.length], { n: f, s: `f${f}` });
        for (let r = 0; r < width; r++) checksum += read(shown[(f + r) % shown.length]).n;
      }
    };
    sync = await fresh(srvra, 'bench-frames');
    sync.batch(shown.map((key, i) => ({ key, value: { n: i, s: `v${i}` } })));
    t = now();
    frame((key, value) => sync.setState(key, value), (key) => sync.getState(key));
    add('frames: 1 setState + 100 getState', 'srvra-sync', rate(frames * (width + 1), now() - t));
    await sync.whenPersisted();
    await sync.close();
    const doc = new Y.Doc();
    const map = doc.getMap('m');
    doc.transact(() => shown.forEach((key, i) => map.set(key, { n: i, s: `v${i}` })));
    t = now();
    frame((key, value) => doc.transact(() => map.set(key, value)), (key) => map.get(key));
    add('frames: 1 setState + 100 getState', 'Yjs (transact + Y.Map.get)', rate(frames * (width + 1), now() - t));
  }

  // 4c. A collection of 10,000 items (SPEC 19): add each, tick every item off, move 1,000,
  // then list them in order; Yjs keeps the same as a Y.Array of Y.Maps.
  {
    const items = 10_000;
    sync = await fresh(srvra, 'bench-collection');
    const todos = sync.collection('todo');
    const ids = [];
    t = now();
    for (let i = 0; i < items; i++) ids.push(todos.add({ title: `task ${i}`, done: false }));
    for (let i = 0; i < items; i++) todos.update(ids[i], { done: true });
    for (let i = 0; i < 1_000; i++) todos.move(ids[(i * 7) % items], { before: ids[(i * 13) % items] });
    const listed = todos.list().length;
    add('collection of 10,000: add, edit, 1,000 moves, list', 'srvra-sync', rate(2 * items + 1_000 + 1, now() - t), `${listed} listed`);
    await sync.whenPersisted();
    await sync.close();
    const doc = new Y.Doc();
    const array = doc.getArray('todo');
    t = now();
    for (let i = 0; i < items; i++) {
      doc.transact(() => {
        const item = new Y.Map();
        item.set('title', `task ${i}`);
        item.set('done', false);
        array.push([item]);
      });
    }
    for (let i = 0; i < items; i++) doc.transact(() => array.get(i).set('done', true));
    for (let i = 0; i < 1_000; i++) {
      // A Y.Array has no move: delete and insert a copy, as Yjs apps do.
      doc.transact(() => {
        const from = (i * 7) % items;
        const copy = new Y.Map();
        for (const [k, v] of array.get(from).entries()) copy.set(k, v);
        array.delete(from, 1);
        array.insert((i * 13) % (items - 1), [copy]);
      });
    }
    const yListed = array.toArray().map((m) => m.toJSON()).length;
    add('collection of 10,000: add, edit, 1,000 moves, list', 'Yjs (Y.Array of Y.Map)', rate(2 * items + 1_000 + 1, now() - t), `${yListed} listed`);
  }

  // 5. Notification with 10 subscribers.
  sync = await fresh(srvra, 'bench-notify');
  let calls = 0;
  for (let s = 0; s < 10; s++) sync.stateManager.subscribe('hot', () => { calls++; });
  t = now();
  for (let i = 0; i < notifications; i++) sync.setState('hot', { n: i, s: `v${i}` });
  add('setState notifying 10 subscribers', 'srvra-sync', rate(notifications, now() - t), `${calls} calls`);
  await sync.whenPersisted();
  await sync.close();
  {
    const doc = new Y.Doc();
    const map = doc.getMap('m');
    let yCalls = 0;
    for (let s = 0; s < 10; s++) map.observe(() => { yCalls++; });
    t = now();
    for (let i = 0; i < notifications; i++) doc.transact(() => map.set('hot', { n: i, s: `v${i}` }));
    add('setState notifying 10 subscribers', 'Yjs (10 observers)', rate(notifications, now() - t), `${yCalls} calls`);
  }

  // 6. Encryption at rest (AES-256-GCM through WebCrypto) next to the same work without it.
  {
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    await new Promise((resolve) => {
      const request = indexedDB.deleteDatabase('bench-encrypted');
      request.onsuccess = request.onerror = request.onblocked = resolve;
    });
    const encryption = { enabled: true, key };
    sync = new srvra.SrvraDataSync({ offline: { dbName: 'bench-encrypted' }, encryption });
    await sync.ready;
    t = now();
    for (let i = 0; i < n; i++) sync.setState(keys[i], { n: i, s: `v${i}` });
    add('setState, distinct keys, encryption on', 'srvra-sync', rate(n, now() - t));
    t = now();
    await sync.whenPersisted();
    add('  ...then whenPersisted(), encryption on', 'srvra-sync', { ops: n, ms: Math.round(now() - t), opsPerSec: null }, 'compare: the row without encryption');
    await sync.close();
    sync = new srvra.SrvraDataSync({ offline: { dbName: 'bench-encrypted' }, encryption });
    t = now();
    await sync.ready;
    add('await ready with n cached keys, encryption on', 'srvra-sync', { ops: sync.getStatistics().keys, ms: Math.round(now() - t), opsPerSec: null });
    await sync.close();
  }

  return { rows, checksum };
}
