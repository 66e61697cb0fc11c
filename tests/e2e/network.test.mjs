// Network sync end to end: the built package in real headless Chromium, the real server
// binary over real WebSockets on 127.0.0.1, real IndexedDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, openPeer, waitFor } from './peers.mjs';
import { startSyncServer, useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

/** Opens a page whose `window.sync` is an instance in `room` with database `db`. */
const peer = (room, db, context, options) => openPeer(env, server.ws, room, db, context, options);

test('two browser contexts converge in real time', async () => {
  const a = await peer('converge', 'a');
  const b = await peer('converge', 'b');
  await b.page.evaluate(() => {
    window.seen = [];
    sync.stateManager.subscribe('board', (value, update) => window.seen.push(update.origin));
  });
  await a.page.evaluate(() => {
    sync.setState('board', { title: 'Plan', columns: { todo: ['a'], done: [] } });
    sync.stateManager.increment('counter', 2);
    sync.stateManager.append('log', 'from a');
  });
  await b.page.evaluate(() => {
    sync.stateManager.increment('counter', 3);
    sync.stateManager.append('log', 'from b');
  });
  // A nested change of a large object travels as a delta.
  await a.page.evaluate(() => sync.setState('board', { title: 'Plan', columns: { todo: [], done: ['a'] } }));
  for (const p of [a.page, b.page]) {
    await waitFor(p, () => sync.getState('counter') === 5 && sync.getState('log')?.length === 2
      && sync.getState('board.columns.done.0') === 'a' && sync.status === 'synced');
    await p.evaluate(() => sync.sync());
  }
  const read = () => ({
    board: sync.getState('board'),
    counter: sync.getState('counter'),
    log: [...sync.getState('log')].sort(),
    versions: ['board', 'counter', 'log'].map((k) => sync.stateManager.getVersion(k)),
    pending: sync.getState('board', { withMetadata: true }).pending,
    outbox: sync.getStatistics().outboxLength,
  });
  const [sa, sb] = [await a.page.evaluate(read), await b.page.evaluate(read)];
  assert.deepEqual(sa, sb);
  assert.deepEqual(sa.board, { title: 'Plan', columns: { todo: [], done: ['a'] } });
  assert.equal(sa.pending, false);
  assert.equal(sa.outbox, 0);
  const origins = await b.page.evaluate(() => window.seen);
  assert.ok(origins.includes('remote'), `b saw remote board changes: ${origins}`);
  await a.context.close();
  await b.context.close();
});

test('offline changes survive a reload while offline and arrive exactly once', async () => {
  const b = await peer('offline', 'b-off');
  const a = await peer('offline', 'a-off');
  await a.context.setOffline(true);
  await waitFor(a.page, () => sync.status === 'offline');
  await a.page.evaluate(async () => {
    for (let i = 0; i < 40; i++) {
      sync.stateManager.increment('counter', 1);
      sync.stateManager.append('items', `a-${i}`);
    }
    await sync.whenPersisted();
    // The page goes away with everything only in IndexedDB.
    await sync.close();
  });
  // Reload (the page itself needs the network), then open the SDK while offline.
  await a.context.setOffline(false);
  await a.page.reload();
  await a.page.waitForFunction(() => window.sdkLoaded === true);
  await a.context.setOffline(true);
  const offline = await a.page.evaluate(async ({ url, fast }) => {
    const sync = new sdk.SrvraDataSync({ url, room: 'offline', offline: { dbName: 'a-off' }, ...fast });
    window.sync = sync;
    await sync.ready;
    return { status: sync.status, counter: sync.getState('counter'), outbox: sync.getStatistics().outboxLength };
  }, { url: server.ws, fast });
  assert.deepEqual(offline, { status: 'offline', counter: 40, outbox: 80 });
  await a.context.setOffline(false);
  await waitFor(a.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  await waitFor(b.page, () => sync.getState('counter') === 40 && sync.getState('items')?.length === 40);
  await b.page.waitForTimeout(300);
  const seen = await b.page.evaluate(() => ({ counter: sync.getState('counter'), items: sync.getState('items') }));
  assert.equal(seen.counter, 40, 'every increment applied exactly once');
  assert.equal(new Set(seen.items).size, 40, 'no item duplicated');
  assert.deepEqual(seen.items, Array.from({ length: 40 }, (_, i) => `a-${i}`), 'in order');
  await a.context.close();
  await b.context.close();
});

test('SIGKILL of the server loses no acknowledged change and clients reconnect by themselves', async () => {
  const a = await peer('crash', 'a-crash');
  const b = await peer('crash', 'b-crash');
  await a.page.evaluate(async () => {
    for (let i = 0; i < 30; i++) sync.stateManager.increment('n', 1);
    await sync.sync();
  });
  await server.kill();
  await waitFor(a.page, () => sync.status !== 'synced');
  await a.page.evaluate(() => {
    for (let i = 0; i < 10; i++) sync.stateManager.increment('n', 1);
  });
  await server.start();
  for (const p of [a.page, b.page]) {
    await waitFor(p, () => sync.getState('n') === 40 && sync.status === 'synced', undefined, 30_000);
  }
  const events = await a.page.evaluate(() => window.events.map((e) => e.type));
  assert.ok(events.includes('reconnecting'), events.join(','));
  assert.ok((await a.page.evaluate(() => sync.getStatistics().reconnects)) >= 1);
  await a.context.close();
  await b.context.close();
});

test('a late joiner catches up on thousands of earlier changes', async () => {
  const a = await peer('late', 'a-late');
  await a.page.evaluate(async () => {
    for (let i = 0; i < 3000; i++) sync.setState(`task-${i}`, { i, title: `task ${i}` });
    await sync.sync();
  });
  const c = await peer('late', 'c-late');
  const state = await c.page.evaluate(() => ({
    keys: sync.stateManager.keys().length,
    last: sync.getState('task-2999'),
    complete: window.events.filter((e) => e.type === 'sync-complete').map((e) => e.payload),
  }));
  assert.equal(state.keys, 3000);
  assert.deepEqual(state.last, { i: 2999, title: 'task 2999' });
  assert.ok(state.complete.some((p) => p.received >= 3000), JSON.stringify(state.complete));
  await a.context.close();
  await c.context.close();
});

/** Opens a raw socket, sends `frames`, resolves with the close code. */
function rawClient(frames) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.ws);
    ws.on('open', () => frames.forEach((f) => ws.send(f)));
    ws.on('close', (code) => resolve(code));
    ws.on('error', reject);
  });
}

test('garbage, truncated and oversized frames are rejected while others keep syncing', async () => {
  const a = await peer('garbage', 'a-garbage');
  const b = await peer('garbage', 'b-garbage');
  const codes = await Promise.all([
    // Version byte 'n' (0x6e): not a protocol version.
    rawClient([Buffer.from('not a frame at all')]),
    // Version 2, an unknown compression tag.
    rawClient([Buffer.from([2, 0xff, 0xfe, 0x00])]),
    // Version 2, raw, a JSON object cut short.
    rawClient([Buffer.from([2, 0, 0x7b, 0x22])]),
    rawClient([Buffer.from([9, 0, 1, 2])]),
    rawClient([Buffer.alloc(2 * 1024 * 1024, 7)]),
    rawClient(['text is not the protocol']),
  ]);
  assert.deepEqual(codes, [4001, 4000, 4000, 4001, 1009, 4000]);
  await a.page.evaluate(() => sync.setState('after', 'still syncing'));
  await waitFor(b.page, () => sync.getState('after') === 'still syncing');
  assert.equal(await server.metrics().then((m) => /srvra_frames_rejected_total [1-9]/.test(m)), true);
  await a.context.close();
  await b.context.close();
});

test('without IndexedDB (offline.enabled: false) changes still sync', async () => {
  const { page, context } = await openSdkPage(env);
  const b = await peer('memory', 'b-memory');
  await page.evaluate(async ({ url, fast }) => {
    const sync = new sdk.SrvraDataSync({ url, room: 'memory', offline: { enabled: false }, ...fast });
    await sync.ready;
    sync.setState('from-memory', { ok: true });
    sync.stateManager.increment('n', 2);
    await sync.sync();
    window.sync = sync;
  }, { url: server.ws, fast });
  await waitFor(b.page, () => sync.getState('from-memory')?.ok === true && sync.getState('n') === 2);
  await context.close();
  await b.context.close();
});

test('a wrong token is a fatal NetworkError and retrying stops', async () => {
  const guarded = await startSyncServer(['--auth-token', 'right']);
  try {
    const { page, context } = await openSdkPage(env);
    const result = await page.evaluate(async ({ url, fast }) => {
      const errors = [];
      const sync = new sdk.SrvraDataSync({ url, token: () => Promise.resolve('wrong'), offline: { enabled: false }, ...fast });
      sync.eventBus.subscribe('sync-error', ({ phase, error }) => errors.push({ phase, name: error.name, code: error.code, isError: error instanceof sdk.NetworkError }));
      await sync.ready;
      await new Promise((resolve) => {
        const check = () => (sync.status === 'error' ? resolve() : setTimeout(check, 10));
        check();
      });
      await new Promise((r) => setTimeout(r, 500));
      return { status: sync.status, errors, reconnects: sync.getStatistics().reconnects };
    }, { url: guarded.ws, fast });
    assert.equal(result.status, 'error');
    assert.deepEqual(result.errors, [{ phase: 'connect', name: 'NetworkError', code: 'UNAUTHORIZED', isError: true }]);
    assert.equal(result.reconnects, 0);
    await context.close();
  } finally {
    await guarded.stop();
  }
});
