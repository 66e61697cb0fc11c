// Conflicts end to end (README "Conflicts"): two Chromium contexts edit the same keys while
// offline, reconnect one after the other, and must end with the same value, the one each
// key's strategy picks. Real server binary, real WebSockets, real IndexedDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useBrowser } from './harness.mjs';
import { openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

// Rules both sides use, and a recorder of conflict events.
const setUp = `
  sync.conflictResolver.setMergeRule('settings', 'first-write-wins');
  sync.conflictResolver.setMergeRule('doc', 'smart-merge');
  sync.conflictResolver.setMergeRule('note', 'manual');
  window.conflicts = [];
  window.resolved = [];
  sync.eventBus.subscribe('conflict', (c) => {
    let settled = null;
    // A conflict the server settled has a resolve() too (typed as always there), which
    // says so: ConflictError CONFLICT_SETTLED.
    if (c.id === undefined) try { c.resolve('x'); } catch (e) { settled = e.name + ' ' + e.code; }
    window.conflicts.push({ ...c, strategy: c.strategy, resolve: typeof c.resolve, settled });
  });
  sync.eventBus.subscribe('conflict-resolved', (r) => window.resolved.push(r));
`;

const peer = (room, db, context, extra = '') =>
  openPeer(env, server.ws, room, db, context, { before: setUp + extra });

/** Both peers go offline, `edits` run on b then (later by the clock) on a; a comes back
 * first, then b. Returns when both are synced with nothing pending. */
async function offlineEdits(a, b, { onA, onB }) {
  for (const p of [a, b]) {
    await p.context.setOffline(true);
    await waitFor(p.page, () => sync.status === 'offline');
  }
  await b.page.evaluate(onB);
  await new Promise((r) => setTimeout(r, 30));
  await a.page.evaluate(onA);
  await a.context.setOffline(false);
  await waitFor(a.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  await b.context.setOffline(false);
}


test('each strategy settles conflicting offline edits the same way on both sides', async () => {
  const a = await peer('strategies', 'a-strat');
  const b = await peer('strategies', 'b-strat');
  await a.page.evaluate(async () => {
    sync.setState('title', 'draft');
    sync.setState('settings', { theme: 'system' });
    sync.setState('doc', { a: 1, b: 1, c: 1 });
    sync.setState('counter', 10);
    await sync.sync();
  });
  await waitFor(b.page, () => sync.getState('counter') === 10 && sync.getState('doc')?.c === 1);
  await offlineEdits(a, b, {
    onB: () => {
      sync.setState('title', 'B (earlier)');
      sync.setState('settings', { theme: 'light' });
      sync.setState('doc', { a: 1, b: 2, c: 1 });
      for (let i = 0; i < 7; i++) sync.stateManager.increment('counter', 1);
    },
    onA: () => {
      sync.setState('title', 'A (later)');
      sync.setState('settings', { theme: 'dark' });
      sync.setState('doc', { a: 2, b: 1, c: 1 });
      for (let i = 0; i < 5; i++) sync.stateManager.increment('counter', 1);
    },
  });
  const expected = {
    // last-write-wins by clock: a's edit was later, although b's arrived last.
    title: 'A (later)',
    // first-write-wins: a's value reached the server first and stays.
    settings: { theme: 'dark' },
    // smart-merge: each side changed another field.
    doc: { a: 2, b: 2, c: 1 },
    // increments commute: they sum.
    counter: 22,
  };
  const read = () => ({
    title: sync.getState('title'),
    settings: sync.getState('settings'),
    doc: sync.getState('doc'),
    counter: sync.getState('counter'),
    versions: ['title', 'settings', 'doc', 'counter'].map((k) => sync.stateManager.getVersion(k)),
  });
  for (const p of [a.page, b.page]) {
    await waitFor(p, ({ title, counter }) => sync.getState('title') === title
      && sync.getState('counter') === counter && sync.getState('doc')?.b === 2
      && sync.status === 'synced' && sync.getStatistics().outboxLength === 0, expected);
  }
  const [sa, sb] = [await a.page.evaluate(read), await b.page.evaluate(read)];
  assert.deepEqual(sa, sb);
  const { versions, ...values } = sa;
  assert.deepEqual(values, expected);
  // b's changes were the conflicting ones: one event pair per strategy, settled by the server.
  const { conflicts, resolved, stats, history } = await b.page.evaluate(() => ({
    conflicts: window.conflicts,
    resolved: window.resolved,
    stats: sync.getStatistics(),
    history: sync.conflictResolver.getConflictHistory(),
  }));
  const byKey = Object.fromEntries(resolved.map((r) => [r.key, r]));
  assert.deepEqual(Object.keys(byKey).sort(), ['doc', 'settings', 'title']);
  assert.equal(byKey.title.strategy, 'last-write-wins');
  assert.equal(byKey.title.outcome, 'server');
  assert.equal(byKey.settings.strategy, 'first-write-wins');
  assert.equal(byKey.settings.outcome, 'server');
  assert.equal(byKey.doc.strategy, 'smart-merge');
  assert.equal(byKey.doc.outcome, 'merged');
  assert.deepEqual(byKey.doc.value, expected.doc);
  const title = conflicts.find((c) => c.key === 'title');
  assert.deepEqual(
    { type: title.type, path: title.path, clientValue: title.clientValue, serverValue: title.serverValue, settled: title.settled },
    { type: 'modify-modify', path: 'title', clientValue: 'B (earlier)', serverValue: 'A (later)', settled: 'ConflictError CONFLICT_SETTLED' },
  );
  assert.deepEqual(conflicts.find((c) => c.key === 'doc').baseValue, { a: 1, b: 1, c: 1 });
  assert.equal(stats.conflicts, 3);
  assert.equal(stats.conflictsResolved, 3);
  assert.equal(history.length, 3);
  assert.equal(await a.page.evaluate(() => window.conflicts.length), 0, 'a made no conflicting change');
  await a.context.close();
  await b.context.close();
});

test('a custom strategy gets clientValue, serverValue and baseValue and its value wins everywhere', async () => {
  const union = `
    window.customCalls = [];
    sync.conflictResolver.registerCustomStrategy('union', async (c) => {
      window.customCalls.push({ clientValue: c.clientValue, serverValue: c.serverValue, baseValue: c.baseValue });
      await new Promise((r) => setTimeout(r, 5));
      return { value: { tags: [...new Set([...c.serverValue.tags, ...c.clientValue.tags])].sort() } };
    });
    // A custom strategy is named in a rule once it is registered.
    sync.conflictResolver.setMergeRule('profile', 'union');
  `;
  const a = await peer('custom', 'a-custom', undefined, union);
  const b = await peer('custom', 'b-custom', undefined, union);
  await a.page.evaluate(async () => {
    sync.setState('profile', { tags: ['base'] });
    await sync.sync();
  });
  await waitFor(b.page, () => sync.getState('profile')?.tags?.length === 1);
  await offlineEdits(a, b, {
    onB: () => sync.setState('profile', { tags: ['base', 'from-b'] }),
    onA: () => sync.setState('profile', { tags: ['base', 'from-a'] }),
  });
  const expected = { tags: ['base', 'from-a', 'from-b'] };
  for (const p of [a.page, b.page]) {
    await waitFor(p, (n) => sync.getState('profile')?.tags?.length === n && sync.status === 'synced'
      && sync.getStatistics().outboxLength === 0, expected.tags.length);
    assert.deepEqual(await p.evaluate(() => sync.getState('profile')), expected);
  }
  const calls = await b.page.evaluate(() => window.customCalls);
  assert.deepEqual(calls, [{
    clientValue: { tags: ['base', 'from-b'] },
    serverValue: { tags: ['base', 'from-a'] },
    baseValue: { tags: ['base'] },
  }]);
  const resolved = await b.page.evaluate(() => window.resolved);
  assert.deepEqual(resolved.map((r) => [r.strategy, r.outcome]), [['union', 'resolved']]);
  await a.context.close();
  await b.context.close();
});

test('a manual conflict stays pending across a reload until resolved, and the resolution reaches the other side', async () => {
  const a = await peer('manual', 'a-manual');
  const b = await peer('manual', 'b-manual');
  await a.page.evaluate(async () => {
    sync.setState('note', 'v1');
    await sync.sync();
  });
  await waitFor(b.page, () => sync.getState('note') === 'v1');
  await offlineEdits(a, b, {
    onB: () => sync.setState('note', 'b wrote this'),
    onA: () => sync.setState('note', 'a wrote this'),
  });
  await waitFor(b.page, () => window.conflicts.length === 1);
  const first = await b.page.evaluate(() => ({
    conflict: window.conflicts[0],
    shown: sync.getState('note'),
    pending: sync.getStatistics().conflictsPending,
  }));
  assert.equal(first.conflict.resolve, 'function');
  assert.equal(first.conflict.strategy, 'manual');
  assert.deepEqual(
    [first.conflict.clientValue, first.conflict.serverValue, first.conflict.baseValue],
    ['b wrote this', 'a wrote this', 'v1'],
  );
  assert.equal(first.shown, 'b wrote this', 'the change stays pending locally');
  assert.equal(first.pending, 1);
  assert.equal(await a.page.evaluate(() => sync.getState('note')), 'a wrote this');

  // Reload b: the conflict is still there, with a fresh resolve().
  await b.page.evaluate(() => sync.close());
  await b.page.reload();
  await b.page.waitForFunction(() => window.sdkLoaded === true);
  const reloaded = await b.page.evaluate(async ({ url, fast }) => {
    const sync = new sdk.SrvraDataSync({ url, room: 'manual', offline: { dbName: 'b-manual' }, ...fast });
    window.sync = sync;
    window.events = [];
    sync.eventBus.subscribe('conflict', (c) => window.events.push(c.key));
    await sync.ready;
    const pending = sync.conflictResolver.getPendingConflicts();
    return { keys: pending.map((c) => c.key), note: sync.getState('note'), events: window.events };
  }, { url: server.ws, fast: { heartbeatInterval: 1000, heartbeatTimeout: 1000 } });
  assert.deepEqual(reloaded.keys, ['note']);
  assert.deepEqual(reloaded.events, ['note'], 'the conflict event fires again after the reload');
  assert.equal(reloaded.note, 'b wrote this');
  await b.page.evaluate(() => {
    const [conflict] = sync.conflictResolver.getPendingConflicts();
    conflict.resolve(`${conflict.serverValue} + ${conflict.clientValue}`);
  });
  const merged = 'a wrote this + b wrote this';
  for (const p of [a.page, b.page]) {
    await waitFor(p, (v) => sync.getState('note') === v && sync.status === 'synced'
      && sync.getStatistics().outboxLength === 0, merged);
  }
  const after = await b.page.evaluate(() => ({
    stats: sync.getStatistics(),
    again: (() => {
      try {
        sync.conflictResolver.getPendingConflicts()[0]?.resolve('x');
        return 'none pending';
      } catch (error) {
        return error.name;
      }
    })(),
  }));
  assert.equal(after.stats.conflictsPending, 0);
  assert.equal(after.again, 'none pending');
  assert.equal(
    await a.page.evaluate(() => sync.stateManager.getVersion('note')),
    await b.page.evaluate(() => sync.stateManager.getVersion('note')),
  );
  await a.context.close();
  await b.context.close();
});
