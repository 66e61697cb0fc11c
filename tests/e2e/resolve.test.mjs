// `conflictResolver.resolveConflict({ strategy, ...conflict })` end to end (SPEC §6): the
// seed's own handler settles held conflicts with a registered custom strategy and with
// the built-in choices; both devices end with the same values. Real server, real
// Chromium, real IndexedDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

// Every key below is held for the app; b's handler names the strategy per key, as the
// seed's usage does.
const setUp = `
  for (const key of ['userProfile', 'mineKey', 'theirsKey', 'mergeKey']) {
    sync.conflictResolver.setMergeRule(key, 'manual');
  }
  sync.conflictResolver.registerCustomStrategy('preference-merge', (conflict) => ({
    value: { ...conflict.clientValue, ...conflict.serverValue, lastMerged: 1 },
  }));
  const choice = { userProfile: 'preference-merge', mineKey: 'mine', theirsKey: 'theirs', mergeKey: 'smart-merge' };
  window.seen = [];
  window.failures = [];
  sync.eventBus.subscribe('conflict', (event) => {
    window.seen.push([event.key, event.strategy]);
    if (!window.settleConflicts) return;
    return sync.conflictResolver.resolveConflict({ strategy: choice[event.key], ...event })
      .catch((error) => window.failures.push(error.code));
  });
`;

test('resolveConflict settles held conflicts with a custom strategy, mine, theirs and smart-merge on both devices', async () => {
  const a = await peer('resolve', 'a-resolve');
  const b = await peer('resolve', 'b-resolve');
  await b.page.evaluate(() => { window.settleConflicts = true; });
  await a.page.evaluate(async () => {
    sync.setState('userProfile', { name: 'John Doe', preferences: { theme: 'dark' } });
    sync.setState('mineKey', 'base');
    sync.setState('theirsKey', 'base');
    sync.setState('mergeKey', { a: 1, b: 1, c: 1 });
    await sync.sync();
  });
  await waitFor(b.page, () => sync.getState('mergeKey')?.c === 1);
  for (const p of [a, b]) {
    await p.context.setOffline(true);
    await waitFor(p.page, () => sync.status === 'offline');
  }
  await b.page.evaluate(() => {
    sync.setState('userProfile', { name: 'John Doe', preferences: { theme: 'light' }, device: 'b' });
    sync.setState('mineKey', 'from b');
    sync.setState('theirsKey', 'from b');
    sync.setState('mergeKey', { a: 1, b: 2, c: 1 });
  });
  await a.page.evaluate(() => {
    sync.setState('userProfile', { name: 'Johnny', preferences: { theme: 'dark' } });
    sync.setState('mineKey', 'from a');
    sync.setState('theirsKey', 'from a');
    sync.setState('mergeKey', { a: 1, b: 1, c: 3 });
  });
  await a.context.setOffline(false);
  await waitFor(a.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  await b.context.setOffline(false);

  const expected = {
    userProfile: { name: 'Johnny', preferences: { theme: 'dark' }, device: 'b', lastMerged: 1 },
    mineKey: 'from b',
    theirsKey: 'from a',
    mergeKey: { a: 1, b: 2, c: 3 },
  };
  const read = () => Object.fromEntries(
    ['userProfile', 'mineKey', 'theirsKey', 'mergeKey'].map((k) => [k, sync.getState(k)]),
  );
  for (const p of [b.page, a.page]) {
    await waitFor(p, (want) => JSON.stringify(Object.fromEntries(
      Object.keys(want).map((k) => [k, sync.getState(k)]),
    )) === JSON.stringify(want) && sync.status === 'synced'
      && sync.getStatistics().outboxLength === 0, expected);
    assert.deepEqual(await p.evaluate(read), expected);
  }
  const onB = await b.page.evaluate(() => ({
    seen: window.seen,
    failures: window.failures,
    stats: sync.getStatistics(),
    outcomes: sync.conflictResolver.getConflictHistory().map((c) => [c.key, c.outcome]),
  }));
  assert.deepEqual(onB.seen.map(([k]) => k).sort(), ['mergeKey', 'mineKey', 'theirsKey', 'userProfile']);
  assert.ok(onB.seen.every(([, s]) => s === 'manual'), 'event.strategy still reads the conflict\'s own');
  assert.deepEqual(onB.failures, []);
  assert.equal(onB.stats.conflictsPending, 0);
  assert.equal(onB.outcomes.length, 4);
  for (const key of Object.keys(expected)) {
    assert.equal(
      await a.page.evaluate((k) => sync.stateManager.getVersion(k), key),
      await b.page.evaluate((k) => sync.stateManager.getVersion(k), key),
      `${key} has one version on both devices`,
    );
  }

  // Typed errors, and nothing changes for them.
  const errors = await b.page.evaluate(() => {
    const attempt = (request) => {
      try {
        sync.conflictResolver.resolveConflict(request);
        return 'no error';
      } catch (error) {
        return [error.constructor.name, error.code];
      }
    };
    return {
      unknownStrategy: attempt({ strategy: 'no-such-strategy', id: 1 }),
      manual: attempt({ strategy: 'manual', id: 1 }),
      notAnObject: attempt('mine'),
      settled: attempt({ strategy: 'mine', key: 'mineKey', type: 'modify-modify' }),
      resolvedAlready: attempt({ strategy: 'theirs', id: 1 }),
      customResolvedAlready: attempt({ strategy: 'preference-merge', id: 2 }),
      state: sync.getState('mineKey'),
    };
  });
  assert.deepEqual(errors, {
    unknownStrategy: ['TypeError', 'INVALID_STRATEGY'],
    manual: ['TypeError', 'INVALID_STRATEGY'],
    notAnObject: ['TypeError', 'INVALID_ARGUMENT'],
    settled: ['ConflictError', 'CONFLICT_SETTLED'],
    resolvedAlready: ['ConflictError', 'UNKNOWN_CONFLICT'],
    customResolvedAlready: ['ConflictError', 'UNKNOWN_CONFLICT'],
    state: 'from b',
  });
  await a.context.close();
  await b.context.close();
});

test('a last-write-wins choice keeps the later write by clock', async () => {
  const a = await peer('resolve-lww', 'a-lww');
  const b = await peer('resolve-lww', 'b-lww');
  await a.page.evaluate(async () => {
    sync.conflictResolver.setMergeRule('clock', 'manual');
    sync.setState('clock', 'base');
    await sync.sync();
  });
  await b.page.evaluate(() => sync.conflictResolver.setMergeRule('clock', 'manual'));
  await waitFor(b.page, () => sync.getState('clock') === 'base');
  for (const p of [a, b]) {
    await p.context.setOffline(true);
    await waitFor(p.page, () => sync.status === 'offline');
  }
  // a writes first (earlier clock) and reaches the server first; b's later write conflicts.
  await a.page.evaluate(() => sync.setState('clock', 'earlier, from a'));
  await new Promise((r) => setTimeout(r, 30));
  await b.page.evaluate(() => sync.setState('clock', 'later, from b'));
  await a.context.setOffline(false);
  await waitFor(a.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  await b.context.setOffline(false);
  await waitFor(b.page, () => sync.getStatistics().conflictsPending === 1);
  await b.page.evaluate(() => {
    const [conflict] = sync.conflictResolver.getPendingConflicts();
    return sync.conflictResolver.resolveConflict({ strategy: 'last-write-wins', ...conflict });
  });
  for (const p of [a.page, b.page]) {
    await waitFor(p, () => sync.getState('clock') === 'later, from b' && sync.status === 'synced'
      && sync.getStatistics().outboxLength === 0);
  }
  await a.context.close();
  await b.context.close();
});

function peer(room, db) {
  return openPeer(env, server.ws, room, db, undefined, { before: setUp });
}

test('a held conflict is stored sealed in an encrypted database, survives a reload, and resolveConflict settles it', async () => {
  const open = (page, db) => page.evaluate(async ({ url, db, fast }) => {
    const sync = new sdk.SrvraDataSync({
      url, room: 'resolve-sealed', offline: { dbName: db }, ...fast,
      encryption: { enabled: true, key: () => idb.keyFromPassphrase('held conflicts') },
    });
    sync.conflictResolver.setMergeRule('secret-note', 'manual');
    window.sync = sync;
    await sync.ready;
  }, { url: server.ws, db, fast });
  const a = await peer('resolve-sealed', 'a-sealed');
  await a.page.evaluate(() => sync.conflictResolver.setMergeRule('secret-note', 'manual'));
  const b = await openSdkPage(env);
  await open(b.page, 'b-sealed');
  await a.page.evaluate(async () => {
    sync.setState('secret-note', 'base-plaintext');
    await sync.sync();
  });
  await waitFor(b.page, () => sync.getState('secret-note') === 'base-plaintext');
  for (const p of [a, b]) {
    await p.context.setOffline(true);
    await waitFor(p.page, () => sync.status === 'offline');
  }
  await a.page.evaluate(() => sync.setState('secret-note', 'server-side-plaintext'));
  await b.page.evaluate(() => sync.setState('secret-note', 'client-side-plaintext'));
  await a.context.setOffline(false);
  await waitFor(a.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  await b.context.setOffline(false);
  await waitFor(b.page, () => sync.getStatistics().conflictsPending === 1);
  await b.page.evaluate(() => sync.whenPersisted());
  const dump = await b.page.evaluate(() => idb.dumpDatabase('b-sealed'));
  for (const secret of ['secret-note', 'base-plaintext', 'server-side-plaintext', 'client-side-plaintext']) {
    assert.ok(!dump.includes(secret), `${secret} is not stored in plaintext`);
  }
  await b.page.evaluate(() => sync.close());
  await b.page.reload();
  await b.page.waitForFunction(() => window.sdkLoaded === true);
  await open(b.page, 'b-sealed');
  const held = await b.page.evaluate(() => sync.conflictResolver.getPendingConflicts()
    .map((c) => [c.key, c.clientValue, c.serverValue]));
  assert.deepEqual(held, [['secret-note', 'client-side-plaintext', 'server-side-plaintext']]);
  await b.page.evaluate(() => {
    const [conflict] = sync.conflictResolver.getPendingConflicts();
    return sync.conflictResolver.resolveConflict({ strategy: 'theirs', ...conflict });
  });
  for (const p of [a.page, b.page]) {
    await waitFor(p, () => sync.getState('secret-note') === 'server-side-plaintext' && sync.status === 'synced'
      && sync.getStatistics().outboxLength === 0 && sync.getStatistics().conflictsPending === 0);
  }
  await a.context.close();
  await b.context.close();
});
