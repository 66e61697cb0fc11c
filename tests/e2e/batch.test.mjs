// Atomic batches as apps use them: a burst that ends with a batch, then nothing (no
// sync() call); a batch as the last change before a reload; two devices that each end
// their offline work with a batch on the same keys. Real Chromium, real server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useBrowser } from './harness.mjs';
import { fast, openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();
const peer = (room, db, context, options) => openPeer(env, server.ws, room, db, context, options);

test('a batch as the last change before going quiet reaches the other device', async () => {
  const a = await peer('quiet', 'a-quiet');
  const b = await peer('quiet', 'b-quiet');
  await a.page.evaluate(() => {
    for (let i = 0; i < 5; i++) sync.stateManager.increment('burst', 1);
    sync.batch([{ key: 'done', value: true }, { op: 'increment', key: 'burst', by: 10 }, { key: 'meta.last', value: 'batch' }]);
  });
  await waitFor(b.page, () => sync.getState('done') === true && sync.getState('burst') === 15 && sync.getState('meta.last') === 'batch');
  await waitFor(a.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  await a.context.close();
  await b.context.close();
});

test('a batch as the last change before a reload is sent after the reload', async () => {
  const b = await peer('reload', 'b-reload');
  const a = await peer('reload', 'a-reload');
  await a.context.setOffline(true);
  await waitFor(a.page, () => sync.status === 'offline');
  await a.page.evaluate(async () => {
    sync.setState('draft', 'typed');
    sync.batch([{ key: 'draft', value: 'saved' }, { key: 'savedAt', value: 42 }]);
    await sync.whenPersisted();
    await sync.close();
  });
  await a.context.setOffline(false);
  await a.page.reload();
  await a.page.waitForFunction(() => window.sdkLoaded === true);
  const outbox = await a.page.evaluate(async ({ url, fast }) => {
    const sync = new sdk.SrvraDataSync({ url, room: 'reload', offline: { dbName: 'a-reload' }, ...fast });
    window.sync = sync;
    await sync.ready;
    return sync.getStatistics().outboxLength;
  }, { url: server.ws, fast });
  assert.equal(outbox, 3, 'the batch waited in the outbox with the change before it');
  await waitFor(b.page, () => sync.getState('draft') === 'saved' && sync.getState('savedAt') === 42);
  await waitFor(a.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  await a.context.close();
  await b.context.close();
});

test('two devices that end their offline work with a batch converge', async () => {
  const a = await peer('both', 'a-both');
  const b = await peer('both', 'b-both');
  for (const p of [a, b]) {
    await p.context.setOffline(true);
    await waitFor(p.page, () => sync.status === 'offline');
  }
  await a.page.evaluate(() => sync.batch([{ key: 'title', value: 'from a' }, { op: 'increment', key: 'count', by: 1 }]));
  await b.page.evaluate(() => sync.batch([{ key: 'title', value: 'from b' }, { op: 'increment', key: 'count', by: 2 }]));
  for (const p of [a, b]) await p.context.setOffline(false);
  for (const p of [a, b]) {
    await waitFor(p.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0 && sync.getState('count') === 3);
  }
  const read = () => ({ title: sync.getState('title'), count: sync.getState('count'), versions: [sync.stateManager.getVersion('title'), sync.stateManager.getVersion('count')] });
  assert.deepEqual(await a.page.evaluate(read), await b.page.evaluate(read));
  await a.context.close();
  await b.context.close();
});
