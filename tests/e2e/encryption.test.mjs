// Encryption at rest end to end (SPEC §13, README "Encryption at rest"): what srvra-sync
// stores in IndexedDB is read back raw, as a copied database would be, and must contain
// no written value and no key name; the right key (or key function) restores everything,
// a wrong one rejects `ready` with DECRYPT_FAILED and touches nothing, and an encrypted
// outbox survives a reload and syncs exactly once. Real Chromium, real IndexedDB, real
// server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

const SECRETS = ['secret-key-name', 'plaintext-value-42', 'first-plaintext-value', 'nested-field-name', 'batch-secret'];

/** Writes the secrets (a value with history, a nested field, a batch) into `dbName`. */
async function writeSecrets(page, dbName, encryption) {
  await page.evaluate(async ({ dbName, encryption, passphrase }) => {
    const key = encryption === 'passphrase' ? await idb.keyFromPassphrase(passphrase) : undefined;
    const config = { offline: { dbName } };
    if (encryption !== 'off') config.encryption = { enabled: true, algorithm: 'AES-256-GCM', key };
    const sync = new sdk.SrvraDataSync(config);
    await sync.ready;
    sync.setState('secret-key-name', { note: 'first-plaintext-value' });
    sync.setState('secret-key-name', { note: 'plaintext-value-42', 'nested-field-name': 1 });
    sync.batch([{ key: 'batch-secret', value: 'batch-secret' }]);
    await sync.whenPersisted();
    await sync.close();
  }, { dbName, encryption, passphrase: 'correct horse battery staple' });
}

const found = (dump) => SECRETS.filter((s) => dump.includes(s));

/**
 * Opens encrypted database `dbName` in `page`; the key function reads the passphrase from
 * localStorage (`passphrase`, else `fallback`), so a rotation can change it for every tab.
 * Returns the tab's part; `sync-error` codes are kept in `window.errors`.
 */
function openTab(page, dbName, fallback) {
  return page.evaluate(async ({ dbName, fallback }) => {
    const sync = new sdk.SrvraDataSync({
      offline: { dbName },
      encryption: { enabled: true, key: () => idb.keyFromPassphrase(localStorage.getItem('passphrase') ?? fallback) },
    });
    window.sync = sync;
    window.errors = [];
    sync.eventBus.subscribe('sync-error', (e) => window.errors.push(e.error.code));
    await sync.ready;
    return sync.getStatistics().tab;
  }, { dbName, fallback });
}

/** Two tabs of one app in `context` on `dbName`: the first leads, the second follows. */
async function leaderAndFollower(context, dbName, fallback) {
  const first = await openSdkPage(env, context);
  const second = await openSdkPage(env, context);
  assert.equal(await openTab(first.page, dbName, fallback), 'leader');
  assert.equal(await openTab(second.page, dbName, fallback), 'follower');
  return [first, second];
}

/** Opens `dbName` with `encryption` (built in the page from `how`) and reads it back. */
function reopen(page, dbName, how) {
  return page.evaluate(async ({ dbName, how }) => {
    const passphraseKey = () => idb.keyFromPassphrase(how.passphrase);
    const key = how.kind === 'key' ? await passphraseKey()
      : how.kind === 'function' ? passphraseKey
        : undefined;
    const config = { offline: { dbName } };
    if (how.kind !== 'off') config.encryption = { enabled: true, key };
    const sync = new sdk.SrvraDataSync(config);
    try {
      await sync.ready;
    } catch (error) {
      return { error: [error.name, error.code] };
    }
    const out = {
      value: sync.getState('secret-key-name'),
      history: sync.stateManager.getHistory('secret-key-name').map((h) => h.value?.note),
      batch: sync.getState('batch-secret'),
    };
    await sync.close();
    return out;
  }, { dbName, how });
}

const restored = {
  value: { note: 'plaintext-value-42', 'nested-field-name': 1 },
  history: ['first-plaintext-value', 'plaintext-value-42'],
  batch: 'batch-secret',
};

test('an encrypted database holds no value or key name, and opens again with its key or a key function', async () => {
  const { page, context } = await openSdkPage(env);
  // Control: without encryption the dump shows every secret, so the check below can fail.
  await writeSecrets(page, 'enc-plain', 'off');
  assert.deepEqual(found(await page.evaluate(() => idb.dumpDatabase('enc-plain'))), SECRETS);

  await writeSecrets(page, 'enc-a', 'passphrase');
  const dump = await page.evaluate(() => idb.dumpDatabase('enc-a'));
  assert.deepEqual(found(dump), [], 'no plaintext value or key name is stored');
  assert.match(dump, /meta\/names = /, 'the sealed id secret marks the database as encrypted');

  await page.reload();
  await page.waitForFunction(() => window.sdkLoaded === true);
  const passphrase = 'correct horse battery staple';
  assert.deepEqual(await reopen(page, 'enc-a', { kind: 'key', passphrase }), restored);
  assert.deepEqual(await reopen(page, 'enc-a', { kind: 'function', passphrase }), restored);
  await context.close();
});

test('a wrong key rejects ready with DECRYPT_FAILED and touches nothing; the right key still restores everything', async () => {
  const { page, context } = await openSdkPage(env);
  await writeSecrets(page, 'enc-wrong', 'passphrase');
  const before = await page.evaluate(() => idb.dumpDatabase('enc-wrong'));
  assert.deepEqual(await reopen(page, 'enc-wrong', { kind: 'key', passphrase: 'wrong' }), { error: ['StorageError', 'DECRYPT_FAILED'] });
  assert.deepEqual(await reopen(page, 'enc-wrong', { kind: 'off' }), { error: ['StorageError', 'DECRYPT_FAILED'] });
  assert.deepEqual(await reopen(page, 'enc-wrong', { kind: 'generated' }), { error: ['StorageError', 'DECRYPT_FAILED'] });
  assert.equal(await page.evaluate(() => idb.dumpDatabase('enc-wrong')), before, 'nothing stored changed');
  assert.deepEqual(
    await reopen(page, 'enc-wrong', { kind: 'key', passphrase: 'correct horse battery staple' }),
    restored,
  );
  const badKey = await page.evaluate(async () => {
    const attempt = async (key) => {
      try {
        const sync = new sdk.SrvraDataSync({ offline: { dbName: 'enc-badkey' }, encryption: { enabled: true, key } });
        await sync.ready;
        return 'opened';
      } catch (error) {
        return [error.name, error.code];
      }
    };
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return {
      string: await attempt('a passphrase'),
      hmac: await attempt(() => hmac),
      throws: await attempt(() => { throw new Error('no key'); }),
    };
  });
  assert.deepEqual(badKey, {
    string: ['TypeError', 'INVALID_CONFIG'],
    hmac: ['StorageError', 'INVALID_KEY'],
    throws: ['StorageError', 'INVALID_KEY'],
  });
  await context.close();
});

test('without a key, one is generated once, kept in IndexedDB and used after a reload', async () => {
  const { page, context } = await openSdkPage(env);
  await writeSecrets(page, 'enc-generated', 'generated');
  const dump = await page.evaluate(() => idb.dumpDatabase('enc-generated'));
  assert.deepEqual(found(dump), []);
  assert.match(dump, /meta\/key = \[object CryptoKey\]/);
  await page.reload();
  await page.waitForFunction(() => window.sdkLoaded === true);
  assert.deepEqual(await reopen(page, 'enc-generated', { kind: 'generated' }), restored);
  await context.close();
});

test('a plaintext database is encrypted when encryption is turned on, and rotateEncryptionKey re-encrypts it', async () => {
  const { page, context } = await openSdkPage(env);
  await writeSecrets(page, 'enc-rotate', 'off');
  const passphrase = 'correct horse battery staple';
  assert.deepEqual(await reopen(page, 'enc-rotate', { kind: 'key', passphrase }), restored);
  assert.deepEqual(found(await page.evaluate(() => idb.dumpDatabase('enc-rotate'))), [], 'the plaintext is gone');
  const rotated = await page.evaluate(async (passphrase) => {
    const sync = new sdk.SrvraDataSync({
      offline: { dbName: 'enc-rotate' },
      encryption: { enabled: true, key: await idb.keyFromPassphrase(passphrase) },
    });
    await sync.ready;
    sync.setState('during', 'rotation');
    await sync.rotateEncryptionKey(await idb.keyFromPassphrase('new passphrase'));
    sync.setState('after', 'rotation');
    await sync.whenPersisted();
    await sync.close();
    const plain = new sdk.SrvraDataSync({ offline: { dbName: 'enc-plain-rotate' } });
    await plain.ready;
    const refused = await plain.rotateEncryptionKey(await idb.keyFromPassphrase('x')).catch((e) => [e.name, e.code]);
    await plain.close();
    return refused;
  }, passphrase);
  assert.deepEqual(rotated, ['StorageError', 'NOT_ENCRYPTED']);
  assert.deepEqual(await reopen(page, 'enc-rotate', { kind: 'key', passphrase }), { error: ['StorageError', 'DECRYPT_FAILED'] });
  assert.deepEqual(await reopen(page, 'enc-rotate', { kind: 'key', passphrase: 'new passphrase' }), restored);
  const extra = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({
      offline: { dbName: 'enc-rotate' },
      encryption: { enabled: true, key: await idb.keyFromPassphrase('new passphrase') },
    });
    await sync.ready;
    const out = [sync.getState('during'), sync.getState('after')];
    await sync.close();
    return out;
  });
  assert.deepEqual(extra, ['rotation', 'rotation']);
  await context.close();
});

test('offline changes in an encrypted outbox survive a reload and sync exactly once', async () => {
  const open = (page, dbName) => page.evaluate(async ({ url, dbName, fast }) => {
    const sync = new sdk.SrvraDataSync({
      url, room: 'enc-outbox', offline: { dbName }, ...fast,
      encryption: { enabled: true, key: () => idb.keyFromPassphrase('outbox passphrase') },
    });
    window.sync = sync;
    await sync.ready;
  }, { url: server.ws, dbName, fast });
  const a = await openSdkPage(env);
  await open(a.page, 'enc-outbox-a');
  await waitFor(a.page, () => sync.status === 'synced');
  await a.page.evaluate(async () => {
    sync.setState('secret-key-name', { note: 'first-plaintext-value' });
    await sync.sync();
  });
  // The server goes away (the page itself can still reload).
  await server.kill();
  await waitFor(a.page, () => sync.status !== 'synced');
  await a.page.evaluate(async () => {
    sync.setState('secret-key-name', { note: 'plaintext-value-42' });
    for (let i = 0; i < 5; i++) sync.stateManager.increment('batch-secret', 1);
    sync.batch([{ key: 'nested-field-name', value: 1 }, { op: 'increment', key: 'batch-secret', by: 10 }]);
    await sync.whenPersisted();
  });
  const dump = await a.page.evaluate(() => idb.dumpDatabase('enc-outbox-a'));
  assert.deepEqual(found(dump), [], 'outbox and base records are sealed too');
  assert.match(dump, /outbox\/\d+ = /, 'the changes wait in the outbox');
  assert.match(dump, /sync\/base:[0-9a-f]{32} = /, 'base records are under keyed-hash ids');

  // Reload while the server is away, then it comes back: everything is sent, once.
  await a.page.reload();
  await a.page.waitForFunction(() => window.sdkLoaded === true);
  await open(a.page, 'enc-outbox-a');
  assert.equal(await a.page.evaluate(() => sync.getStatistics().outboxLength > 0), true);
  await server.start();
  await waitFor(a.page, () => sync.status === 'synced' && sync.getStatistics().outboxLength === 0);
  const b = await openSdkPage(env);
  await open(b.page, 'enc-outbox-b');
  await waitFor(b.page, () => sync.getState('batch-secret') === 15 && sync.getState('nested-field-name') === 1);
  assert.deepEqual(
    await b.page.evaluate(() => [sync.getState('secret-key-name'), sync.getState('batch-secret')]),
    [{ note: 'plaintext-value-42' }, 15],
  );
  await a.context.close();
  await b.context.close();
});

test('tabs of one app share the key: a follower takes over an encrypted database', async () => {
  const context = await env.browser.newContext();
  const [first, second] = await leaderAndFollower(context, 'enc-tabs', 'tabs passphrase');
  const open = (page) => openTab(page, 'enc-tabs', 'tabs passphrase');
  await second.page.evaluate(async () => {
    sync.setState('secret-key-name', { note: 'plaintext-value-42' });
    await sync.whenPersisted();
  });
  assert.deepEqual(found(await first.page.evaluate(() => idb.dumpDatabase('enc-tabs'))), []);
  await first.page.close();
  await waitFor(second.page, () => sync.getStatistics().tab === 'leader');
  await second.page.evaluate(async () => {
    sync.setState('batch-secret', 'batch-secret');
    await sync.whenPersisted();
    await sync.close();
  });
  const third = await openSdkPage(env, context);
  assert.equal(await open(third.page), 'leader');
  assert.deepEqual(
    await third.page.evaluate(() => [sync.getState('secret-key-name'), sync.getState('batch-secret')]),
    [{ note: 'plaintext-value-42' }, 'batch-secret'],
  );
  assert.deepEqual(found(await third.page.evaluate(() => idb.dumpDatabase('enc-tabs'))), []);
  await context.close();
});

test('after the leader rotates the key, a follower takes over with what its key function returns now', async () => {
  const context = await env.browser.newContext();
  const [first, second] = await leaderAndFollower(context, 'enc-tabs-rotate', 'old');
  const open = (page) => openTab(page, 'enc-tabs-rotate', 'old');
  await first.page.evaluate(async () => {
    sync.setState('secret-key-name', { note: 'plaintext-value-42' });
    localStorage.setItem('passphrase', 'new');
    await sync.rotateEncryptionKey(await idb.keyFromPassphrase('new'));
  });
  const refused = await second.page.evaluate(() => sync.rotateEncryptionKey(() => idb.keyFromPassphrase('x')).catch((e) => e.code));
  assert.equal(refused, 'NOT_LEADER');
  await first.page.close();
  await waitFor(second.page, () => sync.getStatistics().tab === 'leader');
  await second.page.evaluate(async () => {
    sync.setState('batch-secret', 'batch-secret');
    await sync.whenPersisted();
  });
  assert.deepEqual(await second.page.evaluate(() => window.errors), []);
  await second.page.evaluate(() => sync.close());
  const third = await openSdkPage(env, context);
  assert.equal(await open(third.page), 'leader');
  assert.deepEqual(
    await third.page.evaluate(() => [sync.getState('secret-key-name'), sync.getState('batch-secret')]),
    [{ note: 'plaintext-value-42' }, 'batch-secret'],
  );
  await context.close();
});

test('close() during a key rotation closes the database once the rotation is done (issue 14, defect 6)', async () => {
  const { page, context } = await openSdkPage(env);
  const result = await page.evaluate(async () => {
    const sync = new sdk.SrvraDataSync({
      offline: { dbName: 'enc-close' },
      encryption: { enabled: true, key: await idb.keyFromPassphrase('one') },
    });
    await sync.ready;
    for (let i = 0; i < 2000; i++) sync.setState(`k${i}`, { i });
    await sync.whenPersisted();
    const rotation = sync.rotateEncryptionKey(await idb.keyFromPassphrase('two'));
    await sync.close();
    await rotation;
    // With every connection closed, deleting the database is not blocked.
    // (`blocked` fires at once if a connection is still open.)
    return new Promise((resolve) => {
      const request = indexedDB.deleteDatabase('enc-close');
      request.onblocked = () => resolve({ blocked: true, deleted: false });
      request.onsuccess = () => resolve({ blocked: false, deleted: true });
      request.onerror = () => resolve({ blocked: false, deleted: false });
    });
  });
  assert.deepEqual(result, { blocked: false, deleted: true });
  await context.close();
});
