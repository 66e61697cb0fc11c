// Types of `srvra-sync/react` (js/react.js).
import type { JsonValue, PresencePeer, SrvraDataSync } from './index.js';

/** `[value, setValue]` of `path`; `setValue` also takes `(current) => next`. */
export declare function useSyncedState<T extends JsonValue = JsonValue>(
  sync: SrvraDataSync | null | undefined,
  path: string,
): [T | undefined, (next: T | ((current: T | undefined) => T)) => void];

/** `sync.status` (`'initial'` without an instance). */
export declare function useSyncStatus(sync: SrvraDataSync | null | undefined): SrvraDataSync['status'];

/** `[others, setMine]`: the other tabs present, and `presence.set` for this one. */
export declare function usePresence(
  sync: SrvraDataSync | null | undefined,
): [PresencePeer[], (state: { [key: string]: JsonValue } | null) => void];

/** Conflicts waiting for the app. */
export declare function usePendingConflicts(
  sync: SrvraDataSync | null | undefined,
): ReturnType<SrvraDataSync['conflictResolver']['getPendingConflicts']>;
