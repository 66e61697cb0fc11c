// JWT auth end to end (SPEC §11): the real server with `--jwt-secret`, real Chromium, the
// SDK's `token` function. Rooms granted by pattern, read-only access whose writes roll
// back with a `sync-error`, a forbidden room, and a token that expires mid-session and is
// refreshed by asking the function again.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const SECRET = 'e2e-jwt-secret';
const env = useBrowser();
const server = useSyncServer(['--jwt-secret', SECRET]);

/** An HS256 JWT for `sub`, valid `ttl` seconds, with room rights `rooms`. */
function mint(sub, ttl, rooms) {
  const part = (object) => Buffer.from(JSON.stringify(object)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + ttl, rooms })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

/**
 * A page whose `window.sync` joins `room` with a `token` function that mints a token for
 * `sub` from the test (each call counted in `window.tokenCalls`); `ttls` are the lifetimes
 * of the successive tokens (the last one repeats).
 */
async function openWithToken(room, db, sub, rooms, ttls = [600]) {
  const handle = await openSdkPage(env);
  let calls = 0;
  await handle.page.exposeFunction('mintToken', () => {
    const ttl = ttls[Math.min(calls, ttls.length - 1)];
    calls += 1;
    return mint(sub, ttl, rooms);
  });
  await handle.page.evaluate(
    async ({ url, room, db, fast }) => {
      window.events = [];
      window.tokenCalls = 0;
      const token = async () => {
        window.tokenCalls += 1;
        return window.mintToken();
      };
      const sync = new sdk.SrvraDataSync({ url, room, token, offline: { dbName: db }, ...fast });
      window.sync = sync;
      for (const type of ['network-status', 'sync-error']) {
        sync.eventBus.subscribe(type, (payload) => {
          window.events.push({ type, code: payload?.error?.code, status: payload?.status });
        });
      }
      await sync.ready;
    },
    { url: server.ws, room, db, fast },
  );
  return handle;
}

const errorCodes = (page) => page.evaluate(() => window.events.filter((e) => e.type === 'sync-error').map((e) => e.code));

test('a write grant syncs; a read grant receives but its writes roll back with FORBIDDEN', async () => {
  const rooms = { 'team-*': 'write', board: 'read' };
  const writer = await openWithToken('team-a', 'jwt-w', 'ada', rooms);
  await waitFor(writer.page, () => sync.status === 'synced');
  await writer.page.evaluate(() => sync.setState('note', 'from a writer'));

  const boardWriter = await openWithToken('board', 'jwt-bw', 'boss', { board: 'write' });
  const boardReader = await openWithToken('board', 'jwt-br', 'ada', rooms);
  await waitFor(boardReader.page, () => sync.status === 'synced');
  await boardWriter.page.evaluate(() => sync.setState('headline', 'hello readers'));
  await waitFor(boardReader.page, () => sync.getState('headline') === 'hello readers');

  await boardReader.page.evaluate(() => sync.setState('headline', 'defaced'));
  await waitFor(boardReader.page, () => window.events.some((e) => e.code === 'FORBIDDEN'));
  await waitFor(boardReader.page, () => sync.getState('headline') === 'hello readers');
  assert.equal(await boardWriter.page.evaluate(() => sync.getState('headline')), 'hello readers');
  assert.equal(await boardReader.page.evaluate(() => sync.status), 'synced', 'a rejected write does not end the session');
  for (const h of [writer, boardWriter, boardReader]) await h.context.close();
});

test('a room the token does not grant is FORBIDDEN and the client stops', async () => {
  const handle = await openWithToken('secret-room', 'jwt-f', 'ada', { 'team-*': 'write' });
  await waitFor(handle.page, () => sync.status === 'error');
  assert.deepEqual(await errorCodes(handle.page), ['FORBIDDEN']);
  await handle.context.close();
});

test('a token that expires mid-session is refreshed from the token function', async () => {
  // The first token lives 2 s, later ones 10 minutes.
  const handle = await openWithToken('team-refresh', 'jwt-r', 'ada', { '*': 'write' }, [2, 600]);
  await waitFor(handle.page, () => sync.status === 'synced');
  await handle.page.evaluate(() => sync.setState('before', 1));
  await waitFor(handle.page, () => window.events.some((e) => e.code === 'TOKEN_EXPIRED'), undefined, 10_000);
  await waitFor(handle.page, () => sync.status === 'synced' && window.tokenCalls >= 2);
  await handle.page.evaluate(async () => {
    sync.setState('after', 2);
    await sync.sync();
  });
  const other = await openWithToken('team-refresh', 'jwt-r2', 'bob', { '*': 'write' });
  await waitFor(other.page, () => sync.getState('before') === 1 && sync.getState('after') === 2);
  assert.deepEqual(await errorCodes(handle.page), ['TOKEN_EXPIRED']);
  await handle.context.close();
  await other.context.close();
});

test('an expired token at connect is retried with a fresh one', async () => {
  const handle = await openWithToken('team-late', 'jwt-l', 'ada', { '*': 'write' }, [-10, 600]);
  await waitFor(handle.page, () => sync.status === 'synced');
  assert.ok((await handle.page.evaluate(() => window.tokenCalls)) >= 2);
  assert.deepEqual(await errorCodes(handle.page), ['TOKEN_EXPIRED']);
  await handle.context.close();
});
