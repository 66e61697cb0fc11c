// Network benchmarks, run inside two tabs of one browser context: tab A changes state,
// tab B's subscriber (or Yjs observer) reports when it saw the change over a
// BroadcastChannel, with a timestamp on the clock both tabs share.
import * as sdk from 'srvra-sync';
import * as Y from '/peers/yjs-websocket.js';

const now = () => performance.timeOrigin + performance.now();
const channel = new BroadcastChannel('srvra-bench');

function waitUntil(check) {
  return new Promise((resolve) => {
    const poll = () => (check() ? resolve() : setTimeout(poll, 2));
    poll();
  });
}

/** Opens a srvra-sync instance and waits until it is synced. */
async function openSrvra({ url, room, db }, extra = {}) {
  const sync = new sdk.SrvraDataSync({ url, room, offline: window.NOIDB ? { enabled: false } : { dbName: db }, ...extra });
  await sync.ready;
  await waitUntil(() => sync.status === 'synced');
  return sync;
}

/** Opens a Yjs doc on the y-websocket server and waits until it is synced. */
async function openYjs({ url, room }) {
  const doc = new Y.Doc();
  const provider = new Y.WebsocketProvider(url, room, doc, { disableBc: true });
  await new Promise((resolve) => provider.once('synced', resolve));
  return { doc, provider, map: doc.getMap('m') };
}

/** Tab B: report every value of `lat` as it arrives. */
window.listen = async (lib, options) => {
  if (lib === 'srvra') {
    const sync = await openSrvra(options);
    sync.stateManager.subscribe('lat', (value) => channel.postMessage({ i: value, t: now() }));
  } else {
    const { map } = await openYjs(options);
    map.observe((event) => {
      if (event.keysChanged.has('lat')) channel.postMessage({ i: map.get('lat'), t: now() });
    });
  }
};

/** Calls `send(i)` for i in 0..count, one at a time, each after tab B reported the last
 * (a message whose `field` is i); returns each one's latency in ms. */
async function timeEach(count, send, field) {
  const latencies = [];
  for (let i = 0; i < count; i++) {
    const seen = new Promise((resolve) => {
      channel.onmessage = ({ data }) => data[field] === i && resolve(data.t);
    });
    const sent = now();
    send(i);
    latencies.push((await seen) - sent);
  }
  return latencies;
}

/** Tab A: `warm` changes, then `count` more, one at a time; returns each one's latency
 * in ms, the warm-up's apart. */
window.sendAll = async (lib, options, count, warm) => {
  const set = lib === 'srvra'
    ? await openSrvra(options).then((sync) => (i) => sync.setState('lat', i))
    : await openYjs(options).then(({ map }) => (i) => map.set('lat', i));
  const all = await timeEach(warm + count, set, 'i');
  return { warm: all.slice(0, warm), measured: all.slice(warm) };
};

// Presence without a throttle, like Yjs awareness (srvra-sync's default throttle is 50 ms).
const unthrottled = { presence: { throttle: 0 } };

/** Tab B: report every presence update of the other tab as it arrives. */
window.listenPresence = async (lib, options) => {
  if (lib === 'srvra') {
    const sync = await openSrvra(options, unthrottled);
    sync.presence.subscribe((others) => {
      const state = others[0]?.state;
      if (state) channel.postMessage({ p: state.i, t: now() });
    });
  } else {
    const { provider } = await openYjs(options);
    const { awareness } = provider;
    awareness.on('change', () => {
      for (const [id, state] of awareness.getStates()) {
        if (id !== awareness.clientID && state.i !== undefined) channel.postMessage({ p: state.i, t: now() });
      }
    });
  }
};

/** Tab A: `count` presence updates (a cursor), one at a time; each one's latency in ms. */
window.sendPresence = async (lib, options, count) => {
  const set = lib === 'srvra'
    ? await openSrvra(options, unthrottled).then((sync) => (i) => sync.presence.set({ i, cursor: [i, i] }))
    : await openYjs(options).then(({ provider }) => (i) => provider.awareness.setLocalState({ i, cursor: [i, i] }));
  return timeEach(count, set, 'p');
};

/** Writes `count` changes to distinct keys and waits until the server has them all. */
window.writeMany = async (lib, options, count) => {
  if (lib === 'srvra') {
    const sync = await openSrvra(options);
    for (let i = 0; i < count; i++) sync.setState(`k${i}`, { i, title: `task ${i}` });
    await sync.sync();
    // Closing waits for its IndexedDB writes: the new client is another device, whose
    // database open should not queue behind this one's.
    await sync.close();
  } else {
    const { map, provider } = await openYjs(options);
    for (let i = 0; i < count; i++) map.set(`k${i}`, { i, title: `task ${i}` });
    // The last update is flushed to the socket synchronously; wait until it was sent.
    await waitUntil(() => provider.ws.bufferedAmount === 0);
    await new Promise((r) => setTimeout(r, 200));
    provider.destroy(); // the relay keeps the room's doc
  }
};

/**
 * A new client catching up on `count` changes: ms until it holds them all. `yjs-idb` is
 * Yjs set up offline-first like srvra-sync: a y-indexeddb database next to the socket.
 */
window.catchUp = async (lib, options, count) => {
  const start = now();
  if (lib === 'srvra') {
    const sync = new sdk.SrvraDataSync({ url: options.url, room: options.room, offline: { dbName: options.db } });
    await sync.ready;
    const ready = now() - start;
    await waitUntil(() => sync.status === 'synced' && sync.getState(`k${count - 1}`) !== undefined);
    const ms = now() - start;
    await sync.close();
    return { ms, ready };
  }
  if (lib === 'yjs-idb') {
    const doc = new Y.Doc();
    const stored = new Y.IndexeddbPersistence(options.db, doc);
    const provider = new Y.WebsocketProvider(options.url, options.room, doc, { disableBc: true });
    const map = doc.getMap('m');
    await stored.whenSynced;
    const ready = now() - start;
    await waitUntil(() => map.size >= count);
    const ms = now() - start;
    provider.destroy();
    await stored.destroy();
    return { ms, ready };
  }
  const { map, provider } = await openYjs(options);
  await waitUntil(() => map.size >= count);
  const ms = now() - start;
  provider.destroy();
  return { ms, ready: null };
};

/**
 * Two clients in one room holding the same 2 x `count` keys each write `count` of them at
 * once: with `conflicting` the same ones (each change of one side is in conflict, settled
 * by the default last-write-wins), otherwise a half each. Returns ms until both clients
 * hold the same values and have nothing left to send, and the conflicts they counted.
 */
window.twoWriters = async (lib, { url, room, db }, count, conflicting) => {
  // 2 x count keys either way: a writes the first half; b the second, or the first too.
  const all = Array.from({ length: 2 * count }, (_, i) => `x${i}`);
  const keysA = all.slice(0, count);
  const keysB = conflicting ? keysA : all.slice(count);
  const written = [...new Set([...keysA, ...keysB])];
  if (lib === 'srvra') {
    const open = (name) => openSrvra({ url, room, db: `${db}-${name}` });
    const [a, b] = [await open('a'), await open('b')];
    // The keys exist first, so every conflicting change is a modify-modify.
    for (const key of all) a.setState(key, { v: 0 });
    await a.sync();
    await waitUntil(() => all.every((k) => b.getState(k) !== undefined));
    const start = now();
    keysA.forEach((key, i) => a.setState(key, { v: i, by: 'a' }));
    keysB.forEach((key, i) => b.setState(key, { v: i, by: 'b' }));
    await Promise.all([a.sync(), b.sync()]);
    await waitUntil(() => written.every((k) => a.getState(k).by !== undefined)
      && all.every((k) => JSON.stringify(a.getState(k)) === JSON.stringify(b.getState(k))));
    const ms = now() - start;
    const conflicts = b.getStatistics().conflicts + a.getStatistics().conflicts;
    await Promise.all([a.close(), b.close()]);
    return { ms, conflicts };
  }
  const [a, b] = [await openYjs({ url, room }), await openYjs({ url, room })];
  for (const key of all) a.map.set(key, { v: 0 });
  await waitUntil(() => all.every((k) => b.map.get(k) !== undefined));
  const start = now();
  keysA.forEach((key, i) => a.map.set(key, { v: i, by: 'a' }));
  keysB.forEach((key, i) => b.map.set(key, { v: i, by: 'b' }));
  await waitUntil(() => written.every((k) => a.map.get(k).by !== undefined)
    && all.every((k) => JSON.stringify(a.map.get(k)) === JSON.stringify(b.map.get(k))));
  const ms = now() - start;
  a.provider.destroy();
  b.provider.destroy();
  return { ms, conflicts: null };
};

window.benchReady = true;
