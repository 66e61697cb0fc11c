// Public types of srvra-sync. Checked against the built package by `tsc --noEmit`
// over tests/types/usage.ts in the test run.

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A value the SDK accepts where JSON goes: `T` itself when every member is JSON, else
 * `never` at the member that is not (a function, a `Date`, a `Map`, `undefined`...). It
 * checks `interface` types member by member, so an app's `interface Task { ... }` passes
 * (a plain `JsonValue` parameter would ask it for an index signature).
 */
export type JsonCompatible<T> = T extends string | number | boolean | null
  ? T
  : T extends Function | symbol | bigint | undefined | Date | Map<unknown, unknown> | Set<unknown>
    ? never
    : T extends readonly (infer U)[]
      ? readonly JsonCompatible<U>[]
      : T extends object
        ? { [K in keyof T]: JsonCompatible<T[K]> }
        : never;

export type Priority = 'critical' | 'high' | 'normal' | 'low';
/** Where a change came from; `load`: state loaded from IndexedDB at `ready`. */
export type Origin = 'local' | 'remote' | 'rollback' | 'load';
export type MergeStrategyName = 'last-write-wins' | 'first-write-wins' | 'smart-merge' | 'manual';
/**
 * Names of custom strategies an app registers, declared by the app so that `tsc` checks
 * the names it uses (a typo such as `'manuel'` fails to compile):
 * `declare module 'srvra-sync' { interface CustomStrategies { 'keep-longest': true } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface CustomStrategies {}
/** A strategy `setMergeRule` takes: a built-in one or a declared custom one. */
export type StrategyName = MergeStrategyName | Extract<keyof CustomStrategies, string>;
/** Built-in strategies `resolveConflict` applies (besides registered custom ones). */
export type ResolveStrategyName = 'mine' | 'theirs' | 'last-write-wins' | 'first-write-wins' | 'smart-merge';
export type SyncStatus = 'initial' | 'syncing' | 'synced' | 'error' | 'offline' | 'reconnecting' | 'partial-sync';

/** `new SrvraDataSync(config)`; every field is optional. */
export interface SrvraConfig {
  /**
   * The server's `/sync` URL, or several URLs of instances of one server (sharing its
   * storage), tried in order: on a failure the client moves to the next.
   */
  url?: string | string[] | null;
  room?: string;
  token?: string | (() => string | Promise<string>) | null;
  /**
   * A WebSocket class used instead of `globalThis.WebSocket` (in Node 20: the `ws`
   * package's `WebSocket`). Needed with `url` where no global WebSocket exists.
   */
  webSocket?: (new (url: string, ...rest: any[]) => object) | null;
  clientId?: string | null;
  syncInterval?: number;
  retryAttempts?: number;
  backoff?: { initialDelay?: number; maxDelay?: number; factor?: number; jitter?: boolean };
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
  batchSize?: number;
  enableDeltaUpdates?: boolean;
  historySize?: number;
  enableVersioning?: boolean;
  /** A built-in strategy (a custom default: `setMergeRule('*', name)` once registered). */
  mergeStrategy?: MergeStrategyName;
  autoResolveThreshold?: number;
  compression?: { enabled?: boolean; threshold?: number };
  /**
   * IndexedDB cache and outbox. `fallback`: where there is no IndexedDB, `'error'` (the
   * default) rejects `ready` with `StorageError` `STORAGE_UNAVAILABLE`; `'memory'` keeps
   * working with state and outbox in memory.
   */
  offline?: { enabled?: boolean; dbName?: string; fallback?: 'error' | 'memory' };
  /** Presence updates go out at most once per `throttle` ms (default 50; the last wins). */
  presence?: { throttle?: number };
  /**
   * Encryption at rest of everything stored in IndexedDB (AES-256-GCM, WebCrypto). `key`:
   * a `CryptoKey` (AES-GCM, 256 bits, encrypt + decrypt) or a function returning one;
   * without it a non-extractable key is generated once and kept in IndexedDB.
   */
  encryption?: { enabled?: boolean; algorithm?: 'AES-256-GCM'; key?: CryptoKey | (() => CryptoKey | Promise<CryptoKey>) | null };
}

/** Result of every mutation. */
export interface Applied {
  key: string;
  version: number;
}

export interface WithMetadata<T = JsonValue> {
  value: T;
  version: number;
  updatedAt: number;
  updatedBy: string;
  pending: boolean;
}

export interface HistoryEntry {
  version: number;
  /** `undefined` when this version deleted the key. */
  value?: JsonValue;
  updatedAt: number;
  updatedBy: string;
  origin: Exclude<Origin, 'load'>;
}

export type OpName = 'set' | 'update' | 'delete' | 'increment' | 'append' | 'batch' | 'remote' | 'load';

/** Second argument of a state subscriber. */
export interface StateUpdate<T = JsonValue> {
  key: string;
  path: string;
  version: number;
  previousValue: T | undefined;
  origin: Origin;
  op: OpName;
}

export type StateSubscriber<T = JsonValue> = (value: T | undefined, update: StateUpdate<T>) => void;

export type BatchEntry =
  | { op?: 'set'; key: string; value: JsonValue }
  | { op: 'update'; key: string; value: { [key: string]: JsonValue } }
  | { op: 'delete'; key: string }
  | { op: 'increment'; key: string; by?: number }
  | { op: 'append'; key: string; value: JsonValue };

export interface Statistics {
  operations: number;
  localOperations: number;
  remoteOperations: number;
  batches: number;
  rollbacks: number;
  conflicts: number;
  conflictsResolved: number;
  conflictsPending: number;
  bytesSent: number;
  bytesReceived: number;
  compressionRatio: number;
  outboxLength: number;
  reconnects: number;
  lastRoundTripMs: number | null;
  keys: number;
  /** This tab's part among the tabs of one app sharing this client. */
  tab: 'leader' | 'follower' | 'alone';
  subscriberErrors: number;
  storageWrites: number;
  /** `ok`: IndexedDB; `unavailable`: everything in memory (no storage, or `fallback: 'memory'`). */
  storage: 'ok' | 'unavailable';
  /** The server URL in use (`null` without a server, and in a follower tab). */
  url: string | null;
}

export interface ChangeEvent {
  key: string;
  path: string;
  value: JsonValue | undefined;
  version: number;
  origin: Origin;
}

export interface SyncErrorEvent {
  phase: 'subscriber' | 'event-handler' | 'storage' | 'restore' | 'connect' | 'rejected' | 'server' | 'protocol' | 'sync' | 'panic' | (string & {});
  error: Error;
  key?: string;
  subscription?: number;
  event?: string;
  /** For `phase: 'rejected'`: the id of the change the server refused. */
  id?: { client: string; seq: number };
}

export type ConflictType = 'modify-modify' | 'delete-modify' | 'modify-delete' | 'add-add' | 'type-change';

/**
 * A conflict on one of this client's changes (README "Conflicts"). Conflicts the app settles
 * (`manual`, custom strategies, `smart-merge` below `autoResolveThreshold`) carry `id`;
 * the others are settled by the server and followed by `conflict-resolved` (their
 * `resolve` throws `ConflictError` `CONFLICT_SETTLED`). `T` is the type of the value at
 * `path`.
 */
export interface Conflict<T = JsonValue> {
  key: string;
  /**
   * The dotted path the conflict is about: the key, or the path of the merge rule (or of
   * the change) it is scoped to. The values below are the values at this path.
   */
  path: string;
  type: ConflictType;
  /**
   * The strategy that applies. Always set on `conflict` payloads, but non-enumerable, so
   * a spread does not copy it (typed optional so `{ strategy: 'x', ...conflict }` checks).
   */
  strategy?: StrategyName;
  clientValue: T | undefined;
  serverValue: T | undefined;
  baseValue: T | undefined;
  id?: number;
  /** `smart-merge` could not merge enough fields cleanly and asks the app. */
  escalated?: boolean;
  /**
   * Settles the conflict: `path` takes `value` (`undefined` deletes it), and nothing else
   * of the key changes. Throws `ConflictError` once settled.
   */
  resolve(value: T | undefined): void;
}

export interface ConflictResolved {
  key: string;
  /** The dotted path the conflict was about (see `Conflict.path`). */
  path: string;
  type: ConflictType;
  strategy: string;
  /** `client`, `server`, `merged` (server-settled) or `resolved` (by the app). */
  outcome: 'client' | 'server' | 'merged' | 'resolved';
  value: JsonValue | undefined;
}

/** One entry of `conflictResolver.getConflictHistory()`. */
export interface ConflictRecord extends Omit<Conflict, 'resolve' | 'id' | 'escalated'> {
  outcome: ConflictResolved['outcome'];
  value: JsonValue | undefined;
  at: number;
}

export type CustomStrategy = (conflict: Conflict) => { value: JsonValue | undefined } | Promise<{ value: JsonValue | undefined }>;

/** `sync.conflictResolver`. */
export declare class ConflictResolver {
  /**
   * Uses `strategy` for changes at paths `pattern` matches; a rule's conflicts are scoped
   * to its path. An unknown name throws `TypeError` `INVALID_STRATEGY`.
   */
  setMergeRule(pattern: string, strategy: StrategyName): void;
  /** Registers a custom strategy (declare its name in `CustomStrategies` for `tsc`). */
  registerCustomStrategy(name: Exclude<StrategyName, MergeStrategyName> | (string & {}), fn: CustomStrategy): void;
  /**
   * Settles a held conflict with a named strategy, as in
   * `resolveConflict({ strategy: 'mine', ...conflict })` (the payload's own `strategy` is
   * non-enumerable, so the spread keeps the one named first). Throws `TypeError`
   * `INVALID_STRATEGY`, or `ConflictError` `CONFLICT_SETTLED` / `UNKNOWN_CONFLICT`.
   */
  resolveConflict(request: Omit<Partial<Conflict>, 'strategy'> & { strategy: ResolveStrategyName | StrategyName }): Promise<void>;
  getConflictHistory(): ConflictRecord[];
  getPendingConflicts<T = JsonValue>(): Array<Conflict<T> & { id: number }>;
}

/** Payload of each event type. */
export interface EventMap {
  'data-change': ChangeEvent;
  'state-updated': ChangeEvent;
  'version-change': { key: string; version: number; previousVersion: number };
  'batch-complete': { keys: string[]; count: number; origin: Origin };
  'sync-complete': { sent: number; received: number; position: number };
  conflict: Conflict;
  'conflict-resolved': ConflictResolved;
  'network-status': 'online' | 'offline';
  reconnecting: { attempt: number; delay: number };
  'sync-error': SyncErrorEvent;
  presence: { others: PresencePeer[] };
}

/** A presence state: any plain JSON object. */
export type PresenceState = { [key: string]: JsonValue };

/** One other tab present in the room (README "Presence"); `S` is the app's state type. */
export interface PresencePeer<S = PresenceState> {
  clientId: string;
  /** The tab of that client (each tab has its own presence). */
  tab: string;
  /** The user from the client's token (JWT auth only); never set by clients. */
  userId?: string;
  state: S;
  /** When the server last heard from it, ms since the epoch. */
  lastSeen: number;
}

/** `sync.presence`: ephemeral per-tab state, never stored. */
export declare class Presence {
  private constructor();
  /** A plain object (at most 4 KiB as JSON), or `null` to clear it. */
  set<S extends object>(state: (S & JsonCompatible<S>) | null): void;
  get<S = PresenceState>(): S | null;
  others<S = PresenceState>(): PresencePeer<S>[];
  subscribe<S = PresenceState>(callback: (others: PresencePeer<S>[]) => void): number;
  unsubscribe(id: number): boolean;
}

/** `sync.collection(prefix)`: items under keys `prefix:id`, each an object with a fractional `order`. */
export declare class Collection<T extends object = { [key: string]: JsonValue }> {
  private constructor();
  /** The prefix of the items' keys. */
  readonly prefix: string;
  /** Adds `value` at the end; returns its id (unique without coordination). */
  add(value: T & JsonCompatible<T>): string;
  /** Writes these fields, each as its own change (another client's edit of another field survives). */
  update(id: string, partial: Partial<T> & JsonCompatible<Partial<T>>): void;
  remove(id: string): void;
  move(id: string, place: { before: string } | { after: string }): void;
  /** Item `id`'s value (with its `order`), or `undefined`. */
  get(id: string): (T & { order: string }) | undefined;
  /** Every item, in order. */
  list(): Array<{ id: string; value: T & { order: string } }>;
  /** Calls `callback(items)` once per burst of changes to the items; returns a function that unsubscribes. */
  subscribe(callback: (items: Array<{ id: string; value: T & { order: string } }>) => void): () => void;
}

export type EventType = keyof EventMap;

export interface EventMeta {
  type: EventType;
  timestamp: number;
  detail?: string;
}

export declare class StateManager {
  private constructor();
  /** Paths are dotted names, array indices as numbers (`todos.0.done`); brackets throw `INVALID_PATH`. */
  setState<T>(path: string, value: T & JsonCompatible<T>, options?: Record<string, never>): Applied;
  updateState<T extends object>(path: string, partial: T & JsonCompatible<T>): Applied;
  deleteState(path: string): Applied;
  increment(path: string, by?: number): Applied;
  append<T>(path: string, item: T & JsonCompatible<T>): Applied;
  /** The value at `path`: frozen and shared, the same object until its key is written (here, in another tab or by the server). */
  getState<T = JsonValue>(path: string): T | undefined;
  getState<T = JsonValue>(path: string, options: { withMetadata: true }): WithMetadata<T> | undefined;
  getState<T = JsonValue>(path: string, options?: { withMetadata?: boolean }): T | WithMetadata<T> | undefined;
  batch(entries: BatchEntry[]): Applied[];
  getHistory(key: string): HistoryEntry[];
  rollback(key: string, version: number): Applied;
  getVersion(key: string): number;
  /** Key names holding a value, sorted; with `pattern` (`*` matches any characters), the ones it matches whole. */
  keys(pattern?: string): string[];
  /**
   * Fires for changes at `pathOrKey` or beneath it, and once at `ready` for loaded state
   * (origin `load`). A target with `*` and no `.` is a key pattern (`'todo:*'`).
   */
  subscribe<T = JsonValue>(pathOrKey: string, callback: StateSubscriber<T>, options?: { priority?: Priority }): number;
  unsubscribe(id: number): boolean;
}

export declare class EventBus {
  private constructor();
  subscribe<K extends EventType>(
    type: K,
    handler: (payload: EventMap[K], meta: EventMeta) => void,
    options?: { priority?: Priority; filter?: (payload: EventMap[K]) => boolean },
  ): number;
  unsubscribe(id: number): boolean;
}

export declare class SrvraDataSync {
  constructor(config?: SrvraConfig);
  readonly stateManager: StateManager;
  readonly eventBus: EventBus;
  readonly conflictResolver: ConflictResolver;
  readonly presence: Presence;
  /** Resolves when cached state is loaded from IndexedDB. */
  readonly ready: Promise<void>;
  readonly status: SyncStatus;
  readonly clientId: string;
  setState<T>(path: string, value: T & JsonCompatible<T>, options?: Record<string, never>): Applied;
  /** The value at `path`: frozen and shared, the same object until its key is written (here, in another tab or by the server). */
  getState<T = JsonValue>(path: string): T | undefined;
  getState<T = JsonValue>(path: string, options: { withMetadata: true }): WithMetadata<T> | undefined;
  updateState<T extends object>(path: string, partial: T & JsonCompatible<T>): Applied;
  deleteState(path: string): Applied;
  increment(path: string, by?: number): Applied;
  append<T>(path: string, item: T & JsonCompatible<T>): Applied;
  subscribe<T = JsonValue>(pathOrKey: string, callback: StateSubscriber<T>, options?: { priority?: Priority }): number;
  unsubscribe(id: number): boolean;
  batch(entries: BatchEntry[]): Applied[];
  /** The items under keys `prefix:id` (README "Collections"). */
  collection<T extends object = { [key: string]: JsonValue }>(prefix: string): Collection<T>;
  getStatistics(): Statistics;
  /** Resolves when every change made so far is stored in IndexedDB. */
  whenPersisted(): Promise<void>;
  /** Resolves once this instance's first catch-up from the server is applied (at once without `url`). */
  whenSynced(): Promise<void>;
  /** Sends pending changes now; resolves once the server acknowledged all made so far. */
  sync(options?: { priority?: Priority; immediate?: boolean }): Promise<void>;
  /** Re-encrypts everything stored with `key`; later loads need it. */
  rotateEncryptionKey(key: CryptoKey | (() => CryptoKey | Promise<CryptoKey>)): Promise<void>;
  /** Closes the socket and timers, writes pending state and closes storage (the outbox
   * stays stored); later mutations throw `SrvraError` `CLOSED`. */
  close(): Promise<void>;
}

export declare class SrvraError extends Error {
  constructor(message: string, code?: string, options?: ErrorOptions);
  readonly code: string;
}
export declare class ValidationError extends SrvraError {}
export declare class ConflictError extends SrvraError {}
export declare class NetworkError extends SrvraError {}
export declare class StorageError extends SrvraError {}
