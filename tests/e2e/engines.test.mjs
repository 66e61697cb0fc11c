// The flows that matter, in every engine CI runs (SPEC 14, issue 28): Chromium, Firefox
// (firefox-esr over WebDriver BiDi) and WebKit (WebKitGTK's MiniBrowser over WebDriver),
// each driving the packed package against the real server: the module loads without an
// init call; state survives a reload from IndexedDB; changes made while the server is
// down wait in the IndexedDB outbox across a reload and reach the server exactly once
// after it comes back; two devices resolve a manual conflict; two tabs share one leader;
// encryption at rest (WebCrypto) reloads. Written once, over tests/e2e/engines.mjs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStaticServer } from '../../scripts/static-server.mjs';
import { packedPackage } from '../../scripts/pack.mjs';
import { root } from './harness.mjs';
import { ENGINES, launchEngine } from './engines.mjs';
import { startSyncServer } from './sync-server.mjs';

const fast = {
  backoff: { initialDelay: 50, maxDelay: 300, factor: 2, jitter: true },
  heartbeatInterval: 1000,
  heartbeatTimeout: 1000,
};

let site;
let server;
before(async () => {
  site = await startStaticServer({
    mounts: { '/pkg': packedPackage(), '/': join(root, 'tests/e2e/pages') },
  });
  server = await startSyncServer();
});
after(async () => {
  await server?.stop();
  await site?.close();
});

/** A page of `context` with the SDK loaded (`window.sdk`), no init call. */
async function sdkPage(context) {
  const page = await context.newPage();
  await page.goto(`${site.url}/index.html`);
  await page.waitFor(() => window.sdkLoaded === true);
  return page;
}

/** Creates `window.sync` in `page` for `room` and database `db`; waits for `ready`. */
function open(page, room, db, extra = {}) {
  return page.evaluate(async ({ url, room, db, fast, extra }) => {
    window.sync = new sdk.SrvraDataSync({ url, room, offline: { dbName: db }, ...fast, ...extra });
    await window.sync.ready;
    return window.sync.clientId;
  }, { url: server.ws, room, db, fast, extra });
}

const synced = () => window.sync.status === 'synced' && window.sync.getStatistics().outboxLength === 0;

for (const name of ENGINES) {
  describe(name, () => {
    let engine;
    before(async () => {
      engine = await launchEngine(name);
    });
    after(async () => {
      await engine?.close();
    });

    test(`${name}: state survives a reload from IndexedDB`, async () => {
      const context = await engine.newContext();
      const page = await sdkPage(context);
      await open(page, `reload-${name}`, 'reload');
      await page.evaluate(async () => {
        sync.setState('doc', { title: 'kept', n: [1, 2, 3] });
        sync.setState('nothing', null);
        await sync.whenPersisted();
      });
      await page.reload();
      await page.waitFor(() => window.sdkLoaded === true);
      await open(page, `reload-${name}`, 'reload');
      const back = await page.evaluate(() => ({
        doc: sync.getState('doc'),
        nothing: sync.getState('nothing'),
        keys: sync.stateManager.keys(),
      }));
      assert.deepEqual(back, { doc: { title: 'kept', n: [1, 2, 3] }, nothing: null, keys: ['doc', 'nothing'] });
      await context.close();
    });

    test(`${name}: changes made while the server is down reach it exactly once, across a reload`, async () => {
      const context = await engine.newContext();
      const page = await sdkPage(context);
      const room = `outbox-${name}`;
      await open(page, room, 'outbox');
      await page.waitFor(synced);
      await server.kill();
      await page.evaluate(async () => {
        for (let i = 0; i < 5; i++) sync.increment('count', 1);
        sync.batch([{ key: 'list', value: ['a'] }, { op: 'append', key: 'list', value: 'b' }]);
        await sync.whenPersisted();
      });
      await page.reload();
      await page.waitFor(() => window.sdkLoaded === true);
      await open(page, room, 'outbox');
      await server.restart();
      await page.waitFor(synced, undefined, 30_000);
      // Another device reads what the server holds.
      const other = await engine.newContext();
      const reader = await sdkPage(other);
      await open(reader, room, 'reader');
      await reader.waitFor(() => window.sync.getState('count') === 5);
      const seen = await reader.evaluate(async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return { count: sync.getState('count'), list: sync.getState('list') };
      });
      assert.deepEqual(seen, { count: 5, list: ['a', 'b'] });
      await other.close();
      await context.close();
    });

    test(`${name}: two devices settle a manual conflict on a title with resolve()`, async () => {
      const rule = { room: `conflict-${name}` };
      const [ca, cb] = [await engine.newContext(), await engine.newContext()];
      const [a, b] = [await sdkPage(ca), await sdkPage(cb)];
      for (const [page, db] of [[a, 'a'], [b, 'b']]) {
        await open(page, rule.room, db);
        await page.evaluate(() => {
          sync.conflictResolver.setMergeRule('task:*.title', 'manual');
          window.conflicts = [];
          sync.eventBus.subscribe('conflict', (c) => window.conflicts.push(c));
        });
        await page.waitFor(synced);
      }
      await a.evaluate(async () => {
        sync.setState('task:1', { title: 'Write report', done: false });
        await sync.sync();
      });
      await b.waitFor(() => window.sync.getState('task:1.title') === 'Write report');
      // Both rename while the server is down (no browser has to go offline); a also
      // ticks the task off. Whichever rename reaches the server second is a conflict.
      await server.kill();
      await a.evaluate(() => {
        sync.setState('task:1.title', 'Write the report');
        sync.setState('task:1.done', true);
      });
      await b.evaluate(() => sync.setState('task:1.title', 'Write report (draft)'));
      await server.restart();
      const count = () => window.conflicts.length;
      let held;
      for (let i = 0; i < 1000 && held === undefined; i++) {
        const [na, nb] = [await a.evaluate(count), await b.evaluate(count)];
        if (na + nb > 0) held = na > 0 ? a : b;
        else await new Promise((resolve) => setTimeout(resolve, 30));
      }
      assert.ok(held, 'a conflict was raised');
      const conflict = await held.evaluate(() => {
        const { path, clientValue, serverValue } = window.conflicts[0];
        window.conflicts[0].resolve('Write report (final)');
        return { path, values: [clientValue, serverValue].sort() };
      });
      assert.deepEqual(conflict, { path: 'task:1.title', values: ['Write report (draft)', 'Write the report'] });
      for (const page of [a, b]) {
        await page.waitFor(() => JSON.stringify(window.sync.getState('task:1'))
          === JSON.stringify({ title: 'Write report (final)', done: true }));
      }
      await ca.close();
      await cb.close();
    });

    test(`${name}: two tabs share one leader and see each other's changes`, async () => {
      const context = await engine.newContext();
      const first = await sdkPage(context);
      const second = await sdkPage(context);
      const room = `tabs-${name}`;
      await open(first, room, 'tabs');
      await open(second, room, 'tabs');
      await first.evaluate(() => sync.setState('from', 'first tab'));
      await second.waitFor(() => window.sync.getState('from') === 'first tab');
      await second.evaluate(() => sync.setState('back', 'second tab'));
      await first.waitFor(() => window.sync.getState('back') === 'second tab');
      const roles = [
        await first.evaluate(() => sync.getStatistics().tab),
        await second.evaluate(() => sync.getStatistics().tab),
      ].sort();
      assert.deepEqual(roles, ['follower', 'leader']);
      await context.close();
    });

    test(`${name}: presence reaches another device, and leaves with it`, async () => {
      const [ca, cb] = [await engine.newContext(), await engine.newContext()];
      const [a, b] = [await sdkPage(ca), await sdkPage(cb)];
      const room = `presence-${name}`;
      await open(a, room, 'a');
      await open(b, room, 'b');
      await a.evaluate(() => sync.presence.set({ name: 'Ada', cursor: { x: 1, y: 2 } }));
      await b.waitFor(() => window.sync.presence.others().some((o) => o.state.name === 'Ada'));
      const seen = await b.evaluate(() => window.sync.presence.others().find((o) => o.state.name === 'Ada').state);
      assert.deepEqual(seen, { name: 'Ada', cursor: { x: 1, y: 2 } });
      await a.evaluate(() => sync.close());
      await b.waitFor(() => !window.sync.presence.others().some((o) => o.state.name === 'Ada'));
      await ca.close();
      await cb.close();
    });

    test(`${name}: without IndexedDB, ready rejects by default and fallback 'memory' keeps syncing`, async () => {
      const context = await engine.newContext();
      const page = await sdkPage(context);
      const room = `no-idb-${name}`;
      const result = await page.evaluate(async ({ url, room }) => {
        // A browser without IndexedDB (or one that refuses it to this page).
        Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true });
        const strict = new sdk.SrvraDataSync({ url, room, offline: { dbName: 'x' } });
        const refused = await strict.ready.then(() => 'ready', (e) => `${e.name} ${e.code}`);
        const sync = new sdk.SrvraDataSync({ url, room, offline: { dbName: 'x', fallback: 'memory' } });
        sync.setState('early', 'kept');
        await sync.ready;
        sync.setState('late', 1);
        await sync.sync();
        const stats = sync.getStatistics();
        return { refused, early: sync.getState('early'), storage: stats.storage, outbox: stats.outboxLength, status: sync.status };
      }, { url: server.ws, room });
      assert.deepEqual(result, {
        refused: 'StorageError STORAGE_UNAVAILABLE',
        early: 'kept',
        storage: 'unavailable',
        outbox: 0,
        status: 'synced',
      });
      // Another device reads both changes from the server.
      const other = await engine.newContext();
      const reader = await sdkPage(other);
      await open(reader, room, 'reader');
      await reader.waitFor(() => window.sync.getState('early') === 'kept' && window.sync.getState('late') === 1);
      await other.close();
      await context.close();
    });

    test(`${name}: encryption at rest (WebCrypto) reloads what it sealed`, async () => {
      const context = await engine.newContext();
      const page = await sdkPage(context);
      const room = `sealed-${name}`;
      await open(page, room, 'sealed', { encryption: { enabled: true } });
      await page.evaluate(async () => {
        sync.setState('secret', { pin: 1234 });
        await sync.whenPersisted();
        await sync.close();
      });
      const back = await page.evaluate(async ({ url, room }) => {
        const again = new sdk.SrvraDataSync({ url, room, offline: { dbName: 'sealed' }, encryption: { enabled: true } });
        await again.ready;
        const value = again.getState('secret');
        await again.close();
        return value;
      }, { url: server.ws, room });
      assert.deepEqual(back, { pin: 1234 });
      await context.close();
    });
  });
}
