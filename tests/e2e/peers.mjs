// A page whose `window.sync` is an SDK instance connected to the test sync server, with
// its sync events recorded in `window.events`; shared by the network and conflict tests.
import { openSdkPage } from './harness.mjs';

/** Short timings so reconnects happen quickly in tests. */
export const fast = {
  backoff: { initialDelay: 50, maxDelay: 500, factor: 2, jitter: true },
  heartbeatInterval: 1000,
  heartbeatTimeout: 1000,
};

/**
 * Opens a page whose `window.sync` is an instance in `room` with database `db`, talking
 * to `url`; `before(sync)` runs in the page (as source text) right after construction.
 */
export async function openPeer(env, url, room, db, context, { waitSynced = true, before = '' } = {}) {
  const handle = await openSdkPage(env, context);
  await handle.page.evaluate(
    async ({ url, room, db, fast, waitSynced, before }) => {
      window.events = [];
      const sync = new sdk.SrvraDataSync({ url, room, offline: { dbName: db }, ...fast });
      window.sync = sync;
      for (const type of ['network-status', 'reconnecting', 'sync-complete', 'sync-error']) {
        sync.eventBus.subscribe(type, (payload, meta) => {
          const error = payload?.error;
          window.events.push({ type, payload: error ? { ...payload, error: { name: error.name, code: error.code } } : payload, detail: meta.detail });
        });
      }
      // eslint-disable-next-line no-new-func
      if (before) new Function('sync', before)(sync);
      await sync.ready;
      if (waitSynced) {
        await new Promise((resolve) => {
          const check = () => (sync.status === 'synced' ? resolve() : setTimeout(check, 10));
          check();
        });
      }
    },
    { url, room, db, fast, waitSynced, before },
  );
  return handle;
}

/** Waits until `fn(arg)` is truthy in `page`. */
export async function waitFor(page, fn, arg, timeout = 20_000) {
  await page.waitForFunction(fn, arg, { timeout, polling: 20 });
}
