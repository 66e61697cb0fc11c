// Types of `srvra-sync/react` (js/react.js).
import type { Collection, JsonValue, PresencePeer, PresenceState, SrvraDataSync } from './index.js';

/** `[value, setValue]` of `path`; `setValue` also takes `(current) => next`. */
export declare function useSyncedState<T = JsonValue>(
  sync: SrvraDataSync | null | undefined,
  path: string,
): [T | undefined, (next: T | ((current: T | undefined) => T)) => void];

/** `sync.status` (`'initial'` without an instance). */
export declare function useSyncStatus(sync: SrvraDataSync | null | undefined): SrvraDataSync['status'];

/** `[others, setMine]`: the other tabs present, and `presence.set` for this one. */
export declare function usePresence<S = PresenceState>(
  sync: SrvraDataSync | null | undefined,
): [PresencePeer<S>[], (state: S | null) => void];

/** Conflicts waiting for the app. */
export declare function usePendingConflicts(
  sync: SrvraDataSync | null | undefined,
): ReturnType<SrvraDataSync['conflictResolver']['getPendingConflicts']>;

/** `[items, collection]` of `sync.collection(prefix)`, re-rendering when the items change. */
export declare function useCollection<T extends object = { [key: string]: JsonValue }>(
  sync: SrvraDataSync | null | undefined,
  prefix: string,
): [Array<{ id: string; value: T & { order: string } }>, Collection<T> | null];
