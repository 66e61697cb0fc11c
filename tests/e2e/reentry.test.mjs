// A `config.webSocket` class runs the app's code inside the SDK's calls (constructor,
// `send`, `close`). That code may call the SDK again; before issue 14's fix (defect 7) it
// did so while the client core was borrowed, and the wasm aborted: a dead page. The
// socket calls are now made outside any borrow. Real server, real Chromium.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSdkPage, useBrowser } from './harness.mjs';
import { fast, waitFor } from './peers.mjs';
import { useSyncServer } from './sync-server.mjs';

const env = useBrowser();
const server = useSyncServer();

test('a WebSocket class that calls back into the SDK from its constructor and send works', async () => {
  const { page, context, errors } = await openSdkPage(env);
  const result = await page.evaluate(async ({ url, fast }) => {
    window.calls = [];
    class Reentrant extends WebSocket {
      constructor(address) {
        super(address);
        window.calls.push(['constructor', window.sync?.getState('k') ?? null, window.sync?.status ?? null]);
      }

      send(data) {
        window.calls.push(['send', window.sync.getStatistics().outboxLength]);
        super.send(data);
      }

      close(code, reason) {
        window.calls.push(['close', window.sync.status]);
        super.close(code, reason);
      }
    }
    const sync = new sdk.SrvraDataSync({ url, room: 'reentry', offline: { dbName: 'reentry' }, webSocket: Reentrant, ...fast });
    window.sync = sync;
    sync.setState('k', 1);
    await sync.ready;
    await sync.sync();
    sync.setState('k', 2);
    await sync.sync();
    const value = sync.getState('k');
    await sync.close();
    return { value, calls: window.calls.map(([name]) => name) };
  }, { url: server.ws, fast });
  assert.deepEqual(errors, []);
  assert.equal(result.value, 2);
  assert.equal(result.calls[0], 'constructor');
  assert.ok(result.calls.filter((c) => c === 'send').length >= 2, 'hello and changes went through send');
  assert.ok(result.calls.includes('close'));
  await waitFor(page, () => true);
  await context.close();
});

test('the panic hook reaches every live instance as a typed sync-error', async () => {
  const { page, context } = await openSdkPage(env);
  const seen = await page.evaluate(async () => {
    const a = new sdk.SrvraDataSync({ offline: { enabled: false } });
    const b = new sdk.SrvraDataSync({ offline: { enabled: false } });
    const closed = new sdk.SrvraDataSync({ offline: { enabled: false } });
    const seen = [];
    for (const [name, sync] of [['a', a], ['b', b], ['closed', closed]]) {
      sync.eventBus.subscribe('sync-error', (e) => seen.push([name, e.phase, e.error.constructor.name, e.error.code]));
    }
    await closed.close();
    // What the binding's panic hook calls just before the wasm aborts.
    const errors = await import('/pkg/errors.js');
    errors.reportPanic('panicked at src/example.rs:1:1');
    await new Promise((r) => setTimeout(r, 0));
    return seen;
  });
  assert.deepEqual(seen, [
    ['a', 'panic', 'SrvraError', 'PANIC'],
    ['b', 'panic', 'SrvraError', 'PANIC'],
  ]);
  await context.close();
});
