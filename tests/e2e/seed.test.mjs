// The seed's usage examples (SRVRA Sync's README, "Usage Examples" and the security
// configuration), run as written against the installed package: each block below is the
// seed's code verbatim; only what the seed leaves undefined (`data`, `updates`,
// `newOrders`) and the server `url` are supplied around it. Two devices on the real server
// make the `conflict` handler run for real. SPEC §2-§6 and §13.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

// --- The seed's blocks, verbatim. ------------------------------------------------------
const configuration = `
const syncEngine = new SrvraDataSync({
    // Sync Configuration
    syncInterval: 30000,
    retryAttempts: 3,
    batchSize: 100,
    enableDeltaUpdates: true,
    
    // State Management
    historySize: 50,
    enableVersioning: true,
    
    // Conflict Resolution
    mergeStrategy: 'smart-merge',
    autoResolveThreshold: 0.8
});
`;

const basic = `
// Set state with versioning
syncEngine.stateManager.setState('userProfile', {
    name: 'John Doe',
    preferences: { theme: 'dark' }
});

// Get state with metadata
const state = syncEngine.stateManager.getState('userProfile', { 
    withMetadata: true 
});
`;

const subscribers = `
// Subscribe to changes with priority
const subscriberId = syncEngine.stateManager.subscribe(
    'userProfile',
    (value, update) => {
        console.log('Profile updated:', value);
    },
    { priority: 'high' }
);

// Batch updates
syncEngine.stateManager.batch([
    { key: 'preferences', value: { theme: 'light' } },
    { key: 'notifications', value: { enabled: true } }
]);
`;

const conflicts = `
// Custom merge strategy
syncEngine.conflictResolver.registerCustomStrategy(
    'preference-merge',
    (conflict) => ({
        value: {
            ...conflict.clientValue,
            ...conflict.serverValue,
            lastMerged: Date.now()
        }
    })
);

// Handle specific conflicts
syncEngine.eventBus.subscribe('conflict', (event) => {
    if (event.key === 'userProfile') {
        return syncEngine.conflictResolver.resolveConflict({
            strategy: 'preference-merge',
            ...event
        });
    }
});
`;

const delta = `
// Enable delta tracking
syncEngine.setState('document', {
    content: 'Initial content',
    metadata: { version: 1 }
}, {
    enableDeltaUpdates: true
});

// Update with delta tracking
syncEngine.setState('document', {
    content: 'Updated content',
    metadata: { version: 2 }
});
`;

const events = `
// Subscribe to sync events
syncEngine.eventBus.subscribe('sync-complete', (event) => {
    console.log('Sync completed:', event.changes);
});

// Handle network status
syncEngine.eventBus.subscribe('network-status', (status) => {
    if (status === 'offline') {
        // Handle offline mode
    }
});
`;

const advanced = `
// State with history tracking
const stateWithHistory = syncEngine.stateManager.setState('audit', {
    actions: [],
    lastUpdate: Date.now()
}, { trackHistory: true });

// Get sync statistics
const stats = syncEngine.getStatistics();
console.log('Sync stats:', stats);
`;

const enterprise = `
// Compression for large datasets
syncEngine.setState('largeDataset', data, {
    compression: true,
    compressionThreshold: 1024
});

// Priority-based sync
syncEngine.sync({
    priority: 'critical',
    immediate: true
});
`;

const business = `
// Trading platform sync
syncEngine.setState('marketData', {
    priority: 'critical',
    syncInterval: 1000
});
// Inventory sync across channels
syncEngine.batch([
    { key: 'inventory', value: updates },
    { key: 'orders', value: newOrders }
]);
`;

const security = `
// Configure security features
const syncEngine = new SrvraDataSync({
    encryption: {
        enabled: true,
        algorithm: 'AES-256-GCM'
    }
});
`;
// ---------------------------------------------------------------------------------------

/**
 * Runs the seed's blocks in one scope in `page`, with `SrvraDataSync` wrapped so the
 * seed's constructor calls also get the test server's `url`, a room and a database.
 */
function runSeed(page, { db, blocks, after = '' }) {
  return page.evaluate(async ({ url, db, fast, source }) => {
    const SrvraDataSync = class extends sdk.SrvraDataSync {
      constructor(config) {
        super({ url, room: 'seed', offline: { dbName: db }, ...fast, ...config });
      }
    };
    const data = { rows: Array.from({ length: 200 }, (_, i) => ({ id: i, label: `row ${i}` })) };
    const updates = { sku1: 4 };
    const newOrders = [{ id: 'o1' }];
    // eslint-disable-next-line no-new-func
    const body = new Function('SrvraDataSync', 'data', 'updates', 'newOrders', 'sdk',
      `return (async () => { ${source} })();`);
    return body(SrvraDataSync, data, updates, newOrders, sdk);
  }, { url: server.ws, db, fast, source: blocks.join('\n') + after });
}

test("the seed's usage examples run as written and both devices converge", async () => {
  const a = await openSdkPage(env);
  const b = await openSdkPage(env);
  const logs = [];
  a.page.on('console', (m) => logs.push(m.text()));

  // Device a runs every usage block, in the seed's order.
  const first = await runSeed(a.page, {
    db: 'seed-a',
    blocks: [configuration, basic, subscribers, conflicts, delta, events, advanced, enterprise, business],
    after: `
      window.syncEngine = syncEngine;
      // userProfile conflicts are held for the app, so the seed's handler settles them.
      syncEngine.conflictResolver.setMergeRule('userProfile', 'manual');
      await syncEngine.ready;
      await syncEngine.sync({ priority: 'critical', immediate: true });
      return { state, stateWithHistory, subscriberId, stats: typeof stats.outboxLength };
    `,
  });
  assert.equal(first.state.value.name, 'John Doe');
  assert.equal(first.state.version, 1);
  assert.deepEqual(first.stateWithHistory, { key: 'audit', version: 1 });
  assert.equal(typeof first.subscriberId, 'number');
  assert.equal(first.stats, 'number');
  for (let i = 0; i < 200 && !logs.some((l) => l.startsWith('Sync completed:')); i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(logs.some((l) => l.startsWith('Sync completed:')), 'the sync-complete handler ran');

  // Device b sees what a wrote.
  await b.page.evaluate(async ({ url, fast }) => {
    const sync = new sdk.SrvraDataSync({ url, room: 'seed', offline: { dbName: 'seed-b' }, ...fast });
    sync.conflictResolver.setMergeRule('userProfile', 'manual');
    window.syncEngine = sync;
    await sync.ready;
  }, { url: server.ws, fast });
  await waitFor(b.page, () => syncEngine.getState('document')?.content === 'Updated content'
    && syncEngine.getState('orders')?.[0]?.id === 'o1' && syncEngine.getState('largeDataset')?.rows?.length === 200);

  // Both edit userProfile offline; b's change reaches the server first, so a's conflicts
  // and the seed's handler settles it with 'preference-merge'.
  for (const p of [a, b]) {
    await p.context.setOffline(true);
    await waitFor(p.page, () => syncEngine.status === 'offline');
  }
  await a.page.evaluate(() => syncEngine.setState('userProfile', { name: 'John Doe', preferences: { theme: 'light' }, device: 'a' }));
  await b.page.evaluate(() => syncEngine.setState('userProfile', { name: 'Johnny', preferences: { theme: 'dark' } }));
  await b.context.setOffline(false);
  await waitFor(b.page, () => syncEngine.status === 'synced' && syncEngine.getStatistics().outboxLength === 0);
  await a.context.setOffline(false);
  for (const p of [a.page, b.page]) {
    await waitFor(p, () => syncEngine.getState('userProfile')?.lastMerged !== undefined
      && syncEngine.status === 'synced' && syncEngine.getStatistics().outboxLength === 0);
  }
  const merged = await a.page.evaluate(() => syncEngine.getState('userProfile'));
  assert.deepEqual({ ...merged, lastMerged: 0 }, { name: 'Johnny', preferences: { theme: 'dark' }, device: 'a', lastMerged: 0 });
  assert.deepEqual(await b.page.evaluate(() => syncEngine.getState('userProfile')), merged);
  const history = await a.page.evaluate(() => syncEngine.conflictResolver.getConflictHistory().map((c) => [c.key, c.outcome]));
  assert.deepEqual(history, [['userProfile', 'resolved']]);
  assert.ok(logs.some((l) => l.startsWith('Profile updated:')), "the seed's high-priority subscriber ran");
  await a.context.close();
  await b.context.close();
});

test("the seed's security configuration encrypts the database", async () => {
  const { page, context } = await openSdkPage(env);
  const result = await runSeed(page, {
    db: 'seed-secure',
    blocks: [security],
    after: `
      await syncEngine.ready;
      syncEngine.setState('userProfile', { name: 'plaintext-john' });
      await syncEngine.whenPersisted();
      await syncEngine.close();
      // The seed's block also lists an audit option; it is not part of the SDK (SPEC §2),
      // so it is refused by name rather than ignored.
      let audit;
      try {
        new sdk.SrvraDataSync({ encryption: { enabled: true }, audit: { enabled: true, retention: '90days' } });
      } catch (error) {
        audit = [error.name, error.code, error.message];
      }
      return { dump: await idb.dumpDatabase('seed-secure'), audit };
    `,
  });
  assert.ok(!result.dump.includes('plaintext-john') && !result.dump.includes('userProfile'));
  assert.equal(result.audit[0], 'TypeError');
  assert.match(result.audit[2], /config\.audit/);
  await context.close();
});
