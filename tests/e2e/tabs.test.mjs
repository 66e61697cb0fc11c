// Tabs of one app (same database and room) are one client: one leader holds the only
// socket and writes the outbox; followers send through it; every tab sees every other
// tab's changes, also offline; the leader can crash mid-burst. Pages of one browser
// context share IndexedDB, Web Locks and BroadcastChannel, like tabs of one browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();
const peer = (room, db, context, options) => openPeer(env, server.ws, room, db, context, options);
const role = (page) => page.evaluate(() => sync.getStatistics().tab);

async function connections() {
  const text = await server.metrics();
  return Number(/^srvra_connections (\d+)/m.exec(text)[1]);
}

test('three tabs of one app: every change reaches another device exactly once, over one socket', async () => {
  const device = await peer('three', 'device');
  const context = await env.browser.newContext();
  const tabs = [];
  for (let i = 0; i < 3; i++) tabs.push(await peer('three', 'app', context));
  assert.deepEqual(await Promise.all(tabs.map((t) => role(t.page))), ['leader', 'follower', 'follower']);
  assert.equal(await connections(), 2, 'one socket for the three tabs, one for the device');
  await Promise.all(tabs.map((t, i) => t.page.evaluate(async (i) => {
    for (let k = 0; k < 20; k++) {
      sync.stateManager.increment('count', 1);
      sync.setState(`t${i}-${k}`, { i, k });
    }
    sync.batch([{ key: `batch-${i}`, value: i }, { op: 'increment', key: 'count', by: 100 }]);
  }, i)));
  const done = () => sync.getState('count') === 360
    && [0, 1, 2].every((i) => sync.getState(`batch-${i}`) === i && sync.getState(`t${i}-19`)?.k === 19);
  await waitFor(device.page, done);
  for (const t of tabs) await waitFor(t.page, done);
  await Promise.all(tabs.map((t) => t.page.evaluate(() => sync.sync())));
  for (const t of tabs) {
    await waitFor(t.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  }
  await device.page.waitForTimeout(200);
  const seen = await device.page.evaluate(() => ({ count: sync.getState('count'), keys: sync.stateManager.keys().length }));
  assert.deepEqual(seen, { count: 360, keys: 64 }, 'each change applied once');
  const versions = (page) => page.evaluate(() => sync.stateManager.keys().map((k) => [k, sync.stateManager.getVersion(k)]));
  const expected = await versions(device.page);
  for (const t of tabs) assert.deepEqual(await versions(t.page), expected);
  await context.close();
  await device.context.close();
});

test('tabs see each other\'s changes offline, through the browser', async () => {
  const context = await env.browser.newContext();
  const a = await peer('offline-tabs', 'app', context);
  const b = await peer('offline-tabs', 'app', context);
  // Loaded now (a page needs the network); its SDK starts while offline, below.
  const c = await openSdkPage(env, context);
  await context.setOffline(true);
  for (const t of [a, b]) await waitFor(t.page, () => sync.status === 'offline');
  await b.page.evaluate(() => sync.setState('note', 'from b, offline'));
  await waitFor(a.page, () => sync.getState('note') === 'from b, offline', undefined, 2_000);
  await a.page.evaluate(() => sync.stateManager.append('list', 'from a'));
  await waitFor(b.page, () => sync.getState('list')?.[0] === 'from a', undefined, 2_000);
  // A follower's whenPersisted() waits for the leader's write.
  await b.page.evaluate(() => sync.whenPersisted());
  // A new tab opened offline starts from the shared cache with everything persisted.
  const seen = await c.page.evaluate(async ({ url, fast }) => {
    const sync = new sdk.SrvraDataSync({ url, room: 'offline-tabs', offline: { dbName: 'app' }, ...fast });
    await sync.ready;
    return [sync.getState('note'), sync.getState('list'), sync.getStatistics().tab];
  }, { url: server.ws, fast });
  assert.deepEqual(seen, ['from b, offline', ['from a'], 'follower']);
  await context.close();
});

test('the leader crashing mid-burst loses no persisted change and applies none twice', async () => {
  const device = await peer('crash-tabs', 'device');
  const context = await env.browser.newContext();
  const leader = await peer('crash-tabs', 'app', context);
  const follower = await peer('crash-tabs', 'app', context);
  assert.equal(await role(follower.page), 'follower');
  // The follower writes a burst; the leader crashes in the middle of it.
  const burst = follower.page.evaluate(async () => {
    for (let k = 0; k < 60; k++) {
      sync.stateManager.increment('fromFollower', 1);
      if (k % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
  });
  await follower.page.waitForFunction(() => (sync.getState('fromFollower') ?? 0) >= 20);
  const crashed = new Promise((resolve) => leader.page.once('crash', resolve));
  const cdp = await context.newCDPSession(leader.page);
  cdp.send('Page.crash').catch(() => {});
  await crashed;
  await burst;
  await waitFor(follower.page, () => sync.getStatistics().tab === 'leader', undefined, 10_000);
  await follower.page.evaluate(() => sync.sync());
  await waitFor(device.page, () => sync.getState('fromFollower') === 60);
  await device.page.waitForTimeout(300);
  assert.equal(await device.page.evaluate(() => sync.getState('fromFollower')), 60, 'every change once');
  assert.equal(await follower.page.evaluate(() => sync.getState('fromFollower')), 60);
  assert.equal(await connections(), 2, 'the new leader holds the only socket of the app');
  await context.close();
  await device.context.close();
});

test('closing the leader hands over: the next tab leads and syncs', async () => {
  const device = await peer('handover', 'device');
  const context = await env.browser.newContext();
  const first = await peer('handover', 'app', context);
  const second = await peer('handover', 'app', context);
  await first.page.evaluate(() => sync.setState('by', 'first'));
  await first.page.evaluate(() => sync.close());
  await waitFor(second.page, () => sync.getStatistics().tab === 'leader', undefined, 10_000);
  await second.page.evaluate(() => sync.setState('then', 'second'));
  await waitFor(device.page, () => sync.getState('by') === 'first' && sync.getState('then') === 'second');
  await waitFor(second.page, () => sync.status === 'synced');
  await context.close();
  await device.context.close();
});

test('changes cross tabs and reach the server without waiting for timers (as throttled in background tabs)', async () => {
  const device = await peer('throttled', 'device');
  const context = await env.browser.newContext();
  // Background tabs run timers late (1 s and more); these pages run every timer 1 s late.
  await context.addInitScript(() => {
    const late = window.setTimeout;
    window.setTimeout = (fn, ms, ...args) => late(fn, (ms ?? 0) + 1000, ...args);
  });
  const leader = await peer('throttled', 'app', context);
  const follower = await peer('throttled', 'app', context);
  const listen = (page) => page.evaluate(() => {
    window.arrived = {};
    sync.stateManager.subscribe('*', (value, update) => { window.arrived[update.key] = Date.now(); });
  });
  for (const p of [leader.page, follower.page, device.page]) await listen(p);
  const send = (page, key) => page.evaluate((key) => { const at = Date.now(); sync.setState(key, at); return at; }, key);
  const arrival = (page, key) => page.waitForFunction((key) => window.arrived[key], key, { polling: 'raf' }).then((h) => h.jsonValue());
  const fromFollower = await send(follower.page, 'fromFollower');
  const latencies = {
    followerToLeader: (await arrival(leader.page, 'fromFollower')) - fromFollower,
    followerToDevice: (await arrival(device.page, 'fromFollower')) - fromFollower,
  };
  const fromLeader = await send(leader.page, 'fromLeader');
  latencies.leaderToFollower = (await arrival(follower.page, 'fromLeader')) - fromLeader;
  for (const [path, ms] of Object.entries(latencies)) {
    assert.ok(ms < 500, `${path} took ${ms} ms: a timer is on the path (${JSON.stringify(latencies)})`);
  }
  await context.close();
  await device.context.close();
});

test('a hidden leader hands the lead to a visible tab that claims it', async () => {
  const device = await peer('visible', 'device');
  const context = await env.browser.newContext();
  const a = await peer('visible', 'app', context);
  const b = await peer('visible', 'app', context);
  assert.deepEqual([await role(a.page), await role(b.page)], ['leader', 'follower']);
  await a.page.evaluate(() => sync.setState('before', 1));
  // The leading tab goes to the background.
  await a.page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { get: () => 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await waitFor(b.page, () => sync.getStatistics().tab === 'leader', undefined, 10_000);
  await waitFor(a.page, () => sync.getStatistics().tab === 'follower', undefined, 10_000);
  await a.page.evaluate(() => sync.setState('fromHidden', 'a'));
  await b.page.evaluate(() => sync.setState('fromVisible', 'b'));
  await waitFor(device.page, () => sync.getState('before') === 1 && sync.getState('fromHidden') === 'a'
    && sync.getState('fromVisible') === 'b');
  for (const t of [a, b]) await waitFor(t.page, () => sync.status === 'synced' && sync.getState('fromVisible') === 'b');
  await a.page.evaluate(() => sync.sync());
  assert.equal(await connections(), 2, 'still one socket for the app');
  await context.close();
  await device.context.close();
});
