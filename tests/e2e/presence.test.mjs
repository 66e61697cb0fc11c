// Presence end to end (SPEC §10): real server, real Chromium, one browser context per
// device. Others appear at once (and a joining client gets everyone at once), a closed
// page vanishes at once, a page that goes silent with its socket open vanishes after its
// heartbeat window and shows up again when it reconnects, tabs of one app each have their
// own presence over the leader's socket, bad states get typed errors, and presence is
// never stored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

/**
 * A page whose `window.sync` joins `room` with database `db`; its WebSocket can be
 * frozen (`window.frozen = true`: nothing passes either way, the socket stays open, and
 * new sockets never open), like a laptop that went to sleep.
 */
async function openDevice(room, db, context) {
  const handle = await openSdkPage(env, context);
  await handle.page.evaluate(async ({ url, room, db, fast }) => {
    window.frozen = false;
    class FreezableSocket {
      constructor(target) {
        this.binaryType = 'arraybuffer';
        this.readyState = 0;
        if (window.frozen) {
          // The network is gone: this socket fails, as it would.
          setTimeout(() => { this.readyState = 3; this.onclose?.({ code: 1006, reason: '' }); }, 100);
          return;
        }
        const socket = new WebSocket(target);
        socket.binaryType = 'arraybuffer';
        this.socket = socket;
        socket.onopen = (e) => { this.readyState = 1; this.onopen?.(e); };
        socket.onmessage = (e) => { if (!window.frozen) this.onmessage?.(e); };
        socket.onclose = (e) => { this.readyState = 3; if (!window.frozen) this.onclose?.(e); };
        socket.onerror = (e) => { if (!window.frozen) this.onerror?.(e); };
      }
      send(data) { if (!window.frozen) this.socket?.send(data); }
      close(code, reason) {
        this.readyState = 3;
        if (window.frozen) return; // the close never reaches the server either
        this.socket?.close(code, reason);
      }
    }
    window.presenceLog = [];
    const sync = new sdk.SrvraDataSync({
      url, room, offline: { dbName: db }, webSocket: FreezableSocket, ...fast,
    });
    window.sync = sync;
    sync.presence.subscribe((others) => window.presenceLog.push({ at: performance.timeOrigin + performance.now(), others }));
    await sync.ready;
    await new Promise((resolve) => {
      const check = () => (sync.status === 'synced' ? resolve() : setTimeout(check, 10));
      check();
    });
  }, { url: server.ws, room, db, fast });
  return handle;
}

const names = (page) => page.evaluate(() => sync.presence.others().map((o) => o.state.name).sort());

test('others appear at once, a joiner gets everyone, a closed page vanishes at once', async () => {
  const a = await openDevice('room-1', 'pa');
  const b = await openDevice('room-1', 'pb');
  const sentAt = await a.page.evaluate(() => {
    sync.presence.set({ name: 'Ada', color: 'red', cursor: [10, 20] });
    return performance.timeOrigin + performance.now();
  });
  await waitFor(b.page, () => sync.presence.others().some((o) => o.state.name === 'Ada'));
  const seenAt = await b.page.evaluate(() => window.presenceLog.find((e) => e.others.some((o) => o.state.name === 'Ada')).at);
  console.log(`presence latency, one update from A to B: ${(seenAt - sentAt).toFixed(1)} ms`);
  assert.deepEqual(await a.page.evaluate(() => sync.presence.get()), { name: 'Ada', color: 'red', cursor: [10, 20] });
  await b.page.evaluate(() => sync.presence.set({ name: 'Bob' }));
  await waitFor(a.page, () => sync.presence.others().some((o) => o.state.name === 'Bob'));
  const peer = await b.page.evaluate(() => sync.presence.others()[0]);
  assert.equal(peer.clientId, await a.page.evaluate(() => sync.clientId));
  assert.equal(typeof peer.tab, 'string');
  assert.equal(typeof peer.lastSeen, 'number');
  assert.equal(peer.userId, undefined, 'no userId without JWT auth');

  // A third device sees both as soon as it is synced.
  const c = await openDevice('room-1', 'pc');
  assert.deepEqual(await names(c.page), ['Ada', 'Bob']);

  // Updates are throttled, and the last one wins.
  await a.page.evaluate(() => { for (let x = 0; x < 200; x++) sync.presence.set({ name: 'Ada', cursor: [x, x] }); });
  await waitFor(c.page, () => sync.presence.others().find((o) => o.state.name === 'Ada')?.state.cursor[0] === 199);

  await a.page.close();
  await waitFor(b.page, () => !sync.presence.others().some((o) => o.state.name === 'Ada'));
  await waitFor(c.page, () => !sync.presence.others().some((o) => o.state.name === 'Ada'));
  for (const h of [a, b, c]) await h.context.close();
});

test('a silent page vanishes after its heartbeat window and shows up again when it reconnects', async () => {
  const a = await openDevice('room-2', 'sa');
  const b = await openDevice('room-2', 'sb');
  await a.page.evaluate(() => sync.presence.set({ name: 'Sleepy' }));
  await waitFor(b.page, () => sync.presence.others().length === 1);
  const frozenAt = Date.now();
  await a.page.evaluate(() => { window.frozen = true; });
  // heartbeatInterval + heartbeatTimeout is 2 s here; the socket stays open meanwhile.
  await waitFor(b.page, () => sync.presence.others().length === 0, undefined, 10_000);
  console.log(`a silent page vanished after ${Date.now() - frozenAt} ms (window 2000 ms)`);
  const metrics = await server.metrics();
  assert.match(metrics, /^srvra_connections 2$/m, 'the silent socket is still open');
  await a.page.evaluate(() => { window.frozen = false; });
  await waitFor(b.page, () => sync.presence.others().some((o) => o.state.name === 'Sleepy'), undefined, 15_000);
  await waitFor(a.page, () => sync.status === 'synced');
  for (const h of [a, b]) await h.context.close();
});

test('tabs of one app each have their own presence, carried over the leader\'s socket', async () => {
  const device = await openDevice('room-3', 'td');
  const context = await env.browser.newContext();
  const leader = await openDevice('room-3', 'tabs', context);
  const follower = await openDevice('room-3', 'tabs', context);
  assert.equal(await follower.page.evaluate(() => sync.getStatistics().tab), 'follower');
  await leader.page.evaluate(() => sync.presence.set({ name: 'leader tab' }));
  await follower.page.evaluate(() => sync.presence.set({ name: 'follower tab' }));
  await waitFor(device.page, () => sync.presence.others().length === 2);
  assert.deepEqual(await names(device.page), ['follower tab', 'leader tab']);
  // Each tab sees the other tab of its own app, and the other device.
  await device.page.evaluate(() => sync.presence.set({ name: 'device' }));
  await waitFor(follower.page, () => sync.presence.others().length === 2);
  assert.deepEqual(await names(follower.page), ['device', 'leader tab']);
  await waitFor(leader.page, () => sync.presence.others().length === 2);
  assert.deepEqual(await names(leader.page), ['device', 'follower tab']);
  // The follower closes: it leaves at once; the leader stays.
  await follower.page.close();
  await waitFor(device.page, () => sync.presence.others().length === 1);
  assert.deepEqual(await names(device.page), ['leader tab']);
  await context.close();
  await waitFor(device.page, () => sync.presence.others().length === 0);
  await device.context.close();
});

test('bad presence gets a typed error and changes nothing; presence is never stored', async () => {
  const a = await openDevice('room-4', 'ba');
  const b = await openDevice('room-4', 'bb');
  await a.page.evaluate(() => sync.presence.set({ name: 'valid-presence-marker' }));
  await waitFor(b.page, () => sync.presence.others().length === 1);
  const errors = await a.page.evaluate(() => {
    const attempt = (state) => {
      try {
        sync.presence.set(state);
        return 'accepted';
      } catch (error) {
        return `${error.name} ${error.code}`;
      }
    };
    return [attempt([1, 2]), attempt('text'), attempt({ big: 'x'.repeat(5000) }), attempt({ f() {} })];
  });
  assert.deepEqual(errors, [
    'TypeError INVALID_PRESENCE',
    'TypeError INVALID_PRESENCE',
    'ValidationError PRESENCE_TOO_LARGE',
    'TypeError INVALID_VALUE',
  ]);
  assert.deepEqual(await a.page.evaluate(() => sync.presence.get()), { name: 'valid-presence-marker' });
  await b.page.waitForTimeout(300);
  assert.deepEqual(await names(b.page), ['valid-presence-marker']);
  // Not in IndexedDB, not in the room's state.
  await a.page.evaluate(() => sync.whenPersisted());
  const dump = JSON.stringify(await a.page.evaluate(() => idb.dumpDatabase('ba')));
  assert.ok(!dump.includes('valid-presence-marker'), 'presence is not in IndexedDB');
  assert.deepEqual(await b.page.evaluate(() => sync.stateManager.keys()), []);
  for (const h of [a, b]) await h.context.close();
});
