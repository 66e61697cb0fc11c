// `wss://` end to end (SPEC §13): the server terminates TLS itself (`--tls-cert`,
// `--tls-key`) with a self-signed certificate that this Chromium trusts by its key hash;
// two devices sync through it. Real server binary, real Chromium, real IndexedDB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useBrowser } from './harness.mjs';
import { openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';
import { selfSigned } from './tls.mjs';

const certificate = selfSigned();
const env = useBrowser({}, () => [certificate.chromiumFlag]);
const server = useSyncServer([], { tls: () => certificate });

test('two devices sync over wss:// to the server\'s own TLS listener', async () => {
  assert.match(server.ws, /^wss:\/\//);
  const a = await openPeer(env, server.ws, 'tls-room', 'a-tls');
  const b = await openPeer(env, server.ws, 'tls-room', 'b-tls');
  await a.page.evaluate(async () => {
    sync.setState('secret', { over: 'TLS' });
    await sync.sync();
  });
  await waitFor(b.page, () => sync.getState('secret')?.over === 'TLS');
  await b.page.evaluate(() => sync.stateManager.increment('count', 2));
  await waitFor(a.page, () => sync.getState('count') === 2);
  for (const p of [a.page, b.page]) {
    const stats = await p.evaluate(() => ({ status: sync.status, errors: window.events.filter((e) => e.type === 'sync-error') }));
    assert.deepEqual(stats, { status: 'synced', errors: [] });
  }
  await a.context.close();
  await b.context.close();
});
