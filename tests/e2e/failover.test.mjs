// `url` as an array (SPEC §12) in Chromium: the first URL refuses connections, so the
// client moves to the next one, syncs there, and reports it in getStatistics().url.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

/** A loopback URL where nothing listens. */
async function deadUrl() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return `ws://127.0.0.1:${port}/sync`;
}

test('a client moves past a URL that refuses it and syncs on the next one', async () => {
  const dead = await deadUrl();
  const handle = await openSdkPage(env);
  await handle.page.evaluate(async ({ urls, fast }) => {
    window.sync = new sdk.SrvraDataSync({ url: urls, room: 'failover', offline: { dbName: 'fo-a' }, ...fast });
    await sync.ready;
  }, { urls: [dead, server.ws], fast });
  await waitFor(handle.page, () => sync.status === 'synced');
  assert.equal(await handle.page.evaluate(() => sync.getStatistics().url), server.ws);
  const other = await openPeer(env, server.ws, 'failover', 'fo-b');
  await other.page.evaluate(() => sync.setState('greeting', 'hello over the second URL'));
  await waitFor(handle.page, () => sync.getState('greeting') === 'hello over the second URL');
  const refused = await handle.page.evaluate(() => {
    try {
      new sdk.SrvraDataSync({ url: [], offline: { enabled: false } });
      return 'accepted';
    } catch (error) {
      return `${error.name} ${error.code}`;
    }
  });
  assert.equal(refused, 'TypeError INVALID_CONFIG');
  await handle.context.close();
  await other.context.close();
});
