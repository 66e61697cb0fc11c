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
 * `cheap`, on every call: `read` then keeps the identity itself). `notify(next)` with a
 * value hands over the new snapshot itself, so it is not read a second time. Listeners
 * share one subscription to the instance, made by the first and undone by the last.
 */
function externalStore(read, listen, cheap = false) {
  const listeners = new Set();
  let stale = true;
  let snapshot;
  let stop = null;
  const notify = (...next) => {
    if (next.length === 0) {
      stale = true;
    } else {
      [snapshot] = next;
      stale = false;
    }
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
      const id = sync.stateManager.subscribe(path, () => notify());
      return () => sync.stateManager.unsubscribe(id);
    },
    true,
  );
}

function eventStore(sync, events, read) {
  return externalStore(read, (notify) => {
    const ids = events.map((type) => sync.eventBus.subscribe(type, () => notify()));
    return () => ids.forEach((id) => sync.eventBus.unsubscribe(id));
  });
}

const noStore = { subscribe: () => () => {}, getSnapshot: () => undefined };

/** The snapshot of `sync`'s store `name` (made by `make` on first use; none without `sync`). */
function useShared(sync, name, make) {
  const store = sync == null ? noStore : storeOf(sync, name, make);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

/**
 * `[value, setValue]` of `path`. `setValue(next)` calls `setState(path, next)`;
 * `setValue((current) => next)` computes it from the current value. A change to another
 * key does not re-render the component.
 */
export function useSyncedState(sync, path) {
  const value = useShared(sync, `state:${path}`, () => pathStore(sync, path));
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
  const events = ['network-status', 'reconnecting', 'sync-complete', 'sync-error'];
  return useShared(sync, 'status', () => eventStore(sync, events, () => sync.status)) ?? 'initial';
}

/** `[others, setMine]`: the other tabs present, and `presence.set` for this one. */
export function usePresence(sync) {
  // The presence event carries the new list: it becomes the snapshot as it is.
  const others = useShared(sync, 'presence', () => externalStore(
    () => sync.presence.others(),
    (notify) => {
      const id = sync.presence.subscribe(notify);
      return () => sync.presence.unsubscribe(id);
    },
  )) ?? NOTHING;
  const setMine = useCallback((state) => sync?.presence.set(state), [sync]);
  return [others, setMine];
}

/** Conflicts waiting for the app (each with `resolve(value)`). */
export function usePendingConflicts(sync) {
  const events = ['conflict', 'conflict-resolved'];
  const read = () => sync.conflictResolver.getPendingConflicts();
  return useShared(sync, 'conflicts', () => eventStore(sync, events, read)) ?? NOTHING;
}

/**
 * `[items, collection]` of `sync.collection(prefix)`: the items in order (`[{ id, value }]`,
 * re-rendering after they change here, in another tab, from the server or at load) and
 * the collection to add, update, move and remove them.
 */
export function useCollection(sync, prefix) {
  const collection = sync == null ? null : storeOf(sync, `collection-object:${prefix}`, () => sync.collection(prefix));
  const items = useShared(sync, `collection:${prefix}`, () => externalStore(
    () => collection.list(),
    (notify) => collection.subscribe((next) => notify(next)),
  )) ?? NOTHING;
  return [items, collection];
}
