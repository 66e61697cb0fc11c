// A copied client id cannot speak for its owner (issue 29 item 1), with the real SDK in
// Chromium and the default server (no JWT, as `npm start` runs it): a raw socket says
// `hello` with the SDK's id (ids are public in presence) and would send a sequence far
// past its watermark, after which the owner's writes were acknowledged and never stored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { useBrowser } from './harness.mjs';
import { openPeer, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

/** A protocol-2 frame (uncompressed JSON) of `message`. */
const frame = (message) => Buffer.concat([Buffer.from([2, 0]), Buffer.from(JSON.stringify(message))]);

/** Says hello as `clientId`, then sends a change with a far sequence; resolves with
 * the error the server answered (or 'accepted') and the close code. */
function hijack(clientId) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.ws);
    let answer = 'no answer';
    ws.on('open', () => {
      ws.send(frame({ hello: { protocol: 2, clientId, room: 'hijack', position: 0 } }));
      const op = {
        id: { client: clientId, seq: 2 ** 32 }, key: 'note', fields: [], kind: { set: 'stolen' },
        base_version: 0, timestamp: Date.now(),
      };
      ws.send(frame({ changes: { ops: [op], atomic: false } }));
    });
    ws.on('message', (data) => {
      const text = Buffer.from(data).subarray(2).toString();
      if (text.startsWith('{"error"')) answer = JSON.parse(text).error.code;
      else if (text.startsWith('{"welcome"')) answer = 'accepted';
    });
    ws.on('close', (code) => resolve({ answer, code }));
    ws.on('error', reject);
  });
}

test('a hello with another client\'s id is refused, and the owner\'s writes are all stored', async () => {
  const owner = await openPeer(env, server.ws, 'hijack', 'owner-db');
  const other = await openPeer(env, server.ws, 'hijack', 'other-db');
  const clientId = await owner.page.evaluate(async () => {
    sync.setState('note', 'first');
    await sync.sync();
    return sync.clientId;
  });
  assert.deepEqual(await hijack(clientId), { answer: 'FORBIDDEN', code: 4007 });
  // The owner goes on, also across a reload (its stored secret), and nothing vanishes.
  await owner.page.evaluate(async () => {
    sync.setState('note', 'second');
    await sync.sync();
  });
  await waitFor(other.page, () => sync.getState('note') === 'second');
  await owner.page.reload();
  await owner.page.waitForFunction(() => window.sdkLoaded === true);
  const third = await owner.page.evaluate(async ({ url }) => {
    const sync = new sdk.SrvraDataSync({ url, room: 'hijack', offline: { dbName: 'owner-db' } });
    await sync.ready;
    sync.setState('note', 'third');
    await sync.sync();
    return { status: sync.status, id: sync.clientId };
  }, { url: server.ws });
  assert.deepEqual(third, { status: 'synced', id: clientId });
  await waitFor(other.page, () => sync.getState('note') === 'third');
  await owner.context.close();
  await other.context.close();
});
