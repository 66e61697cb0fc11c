// `srvra-sync/react`: React hooks over one `SrvraDataSync` instance, built on
// `useSyncExternalStore`. Each hook's snapshot keeps its identity until what it reads
// changes, so a component re-renders only for its own path; stores are shared per
// instance and path, and subscribed while at least one component uses them (StrictMode's
// double mount subscribes and unsubscribes in pairs). With no instance (`null`, as during
// server rendering before the app creates one) the hooks return empty values.
import { useCallback, useSyncExternalStore } from 'react';

const NOTHING = Object.freeze([]);
const stores = new WeakMap();

/** The store for `name` of `sync`, made once by `make()` and shared. */
function storeOf(sync, name, make) {
  let byName = stores.get(sync);
  if (byName === undefined) stores.set(sync, (byName = new Map()));
  let store = byName.get(name);
  if (store === undefined) byName.set(name, (store = make()));
  return store;
}

/**
 * A snapshot that is read again only after `listen(notify)` reported a change (or, with
 * `cheap`, on every call: `read` then keeps the identity itself); listeners share one
 * subscription to the instance, made by the first and undone by the last.
 */
function externalStore(read, listen, cheap = false) {
  const listeners = new Set();
  let stale = true;
  let snapshot;
  let stop = null;
  const notify = () => {
    stale = true;
    for (const listener of [...listeners]) listener();
  };
  return {
    subscribe(listener) {
      listeners.add(listener);
      if (stop === null) {
        stale = true;
        stop = listen(notify);
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && stop !== null) {
          stop();
          stop = null;
        }
      };
    },
    getSnapshot() {
      if (stale || cheap) {
        snapshot = read(snapshot);
        stale = false;
      }
      return snapshot;
    },
  };
}

function keyOf(path) {
  const dot = path.indexOf('.');
  return dot < 0 ? path : path.slice(0, dot);
}

function pathStore(sync, path) {
  const key = keyOf(path);
  let version = -1;
  return externalStore(
    (previous) => {
      const now = sync.stateManager.getVersion(key);
      if (now === version) return previous;
      version = now;
      return sync.getState(path);
    },
    (notify) => {
      const id = sync.stateManager.subscribe(path, notify);
      return () => sync.stateManager.unsubscribe(id);
    },
    true,
  );
}

function eventStore(sync, events, read) {
  return externalStore(read, (notify) => {
    const ids = events.map((type) => sync.eventBus.subscribe(type, notify));
    return () => ids.forEach((id) => sync.eventBus.unsubscribe(id));
  });
}

const noStore = { subscribe: () => () => {}, getSnapshot: () => undefined };

function useStore(store) {
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

/**
 * `[value, setValue]` of `path`. `setValue(next)` calls `setState(path, next)`;
 * `setValue((current) => next)` computes it from the current value. A change to another
 * key does not re-render the component.
 */
export function useSyncedState(sync, path) {
  const store = sync == null ? noStore : storeOf(sync, `state:${path}`, () => pathStore(sync, path));
  const value = useStore(store);
  const setValue = useCallback(
    (next) => {
      if (sync == null) return;
      const resolved = typeof next === 'function' ? next(sync.getState(path)) : next;
      sync.setState(path, resolved);
    },
    [sync, path],
  );
  return [value, setValue];
}

/** `sync.status`, re-rendering when it changes. */
export function useSyncStatus(sync) {
  const store = sync == null
    ? noStore
    : storeOf(sync, 'status', () => eventStore(
      sync,
      ['network-status', 'reconnecting', 'sync-complete', 'sync-error'],
      () => sync.status,
    ));
  return useStore(store) ?? 'initial';
}

/** `[others, setMine]`: the other tabs present, and `presence.set` for this one. */
export function usePresence(sync) {
  const store = sync == null
    ? noStore
    : storeOf(sync, 'presence', () => externalStore(
      () => sync.presence.others(),
      (notify) => {
        const id = sync.presence.subscribe(notify);
        return () => sync.presence.unsubscribe(id);
      },
    ));
  const others = useStore(store) ?? NOTHING;
  const setMine = useCallback((state) => sync?.presence.set(state), [sync]);
  return [others, setMine];
}

/** Conflicts waiting for the app (each with `resolve(value)`). */
export function usePendingConflicts(sync) {
  const store = sync == null
    ? noStore
    : storeOf(sync, 'conflicts', () => eventStore(
      sync,
      ['conflict', 'conflict-resolved'],
      () => sync.conflictResolver.getPendingConflicts(),
    ));
  return useStore(store) ?? NOTHING;
}
