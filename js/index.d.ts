// Public types of srvra-sync. Checked against the built package by `tsc --noEmit`
// over tests/types/usage.ts in the test run.

/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type Priority = 'critical' | 'high' | 'normal' | 'low';
export type Origin = 'local' | 'remote' | 'rollback';
export type MergeStrategyName = 'last-write-wins' | 'first-write-wins' | 'smart-merge' | 'manual';
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
  mergeStrategy?: MergeStrategyName | (string & {});
  autoResolveThreshold?: number;
  compression?: { enabled?: boolean; threshold?: number };
  offline?: { enabled?: boolean; dbName?: string };
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
  origin: Origin;
}

export type OpName = 'set' | 'update' | 'delete' | 'increment' | 'append' | 'batch';

/** Second argument of a state subscriber. */
export interface StateUpdate {
  key: string;
  path: string;
  version: number;
  previousValue: JsonValue | undefined;
  origin: Origin;
  op: OpName;
}

export type StateSubscriber = (value: JsonValue | undefined, update: StateUpdate) => void;

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
 * (`manual`, custom strategies, `smart-merge` below `autoResolveThreshold`) carry `id`
 * and `resolve`; the others are settled by the server and followed by `conflict-resolved`.
 */
export interface Conflict {
  key: string;
  type: ConflictType;
  /**
   * The strategy that applies. Always set on `conflict` payloads, but non-enumerable, so
   * a spread does not copy it (typed optional so `{ strategy: 'x', ...conflict }` checks).
   */
  strategy?: MergeStrategyName | (string & {});
  clientValue: JsonValue | undefined;
  serverValue: JsonValue | undefined;
  baseValue: JsonValue | undefined;
  id?: number;
  /** `smart-merge` could not merge enough fields cleanly and asks the app. */
  escalated?: boolean;
  /** Settles the conflict with `value` (`undefined` deletes the key); throws `ConflictError` once settled. */
  resolve?(value: JsonValue | undefined): void;
}

export interface ConflictResolved {
  key: string;
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
  setMergeRule(pattern: string, strategy: MergeStrategyName | (string & {})): void;
  registerCustomStrategy(name: string, fn: CustomStrategy): void;
  /**
   * Settles a held conflict with a named strategy, as in
   * `resolveConflict({ strategy: 'mine', ...conflict })` (the payload's own `strategy` is
   * non-enumerable, so the spread keeps the one named first). Throws `TypeError`
   * `UNKNOWN_STRATEGY`, or `ConflictError` `CONFLICT_SETTLED` / `UNKNOWN_CONFLICT`.
   */
  resolveConflict(request: Partial<Conflict> & { strategy: ResolveStrategyName | (string & {}) }): Promise<void>;
  getConflictHistory(): ConflictRecord[];
  getPendingConflicts(): Array<Conflict & { id: number; resolve(value: JsonValue | undefined): void }>;
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

/** One other tab present in the room (README "Presence"). */
export interface PresencePeer {
  clientId: string;
  /** The tab of that client (each tab has its own presence). */
  tab: string;
  /** The user from the client's token (JWT auth only); never set by clients. */
  userId?: string;
  state: { [key: string]: JsonValue };
  /** When the server last heard from it, ms since the epoch. */
  lastSeen: number;
}

/** `sync.presence`: ephemeral per-tab state, never stored. */
export declare class Presence {
  private constructor();
  /** A plain object (at most 4 KiB as JSON), or `null` to clear it. */
  set(state: { [key: string]: JsonValue } | null): void;
  get(): { [key: string]: JsonValue } | null;
  others(): PresencePeer[];
  subscribe(callback: (others: PresencePeer[]) => void): number;
  unsubscribe(id: number): boolean;
}

export type EventType = keyof EventMap;

export interface EventMeta {
  type: EventType;
  timestamp: number;
  detail?: string;
}

export declare class StateManager {
  private constructor();
  setState(path: string, value: JsonValue, options?: Record<string, never>): Applied;
  updateState(path: string, partial: { [key: string]: JsonValue }): Applied;
  deleteState(path: string): Applied;
  increment(path: string, by?: number): Applied;
  append(path: string, item: JsonValue): Applied;
  /** The value at `path`: frozen and shared, the same object until its key is written (here, in another tab or by the server). */
  getState<T extends JsonValue = JsonValue>(path: string): T | undefined;
  getState<T extends JsonValue = JsonValue>(path: string, options: { withMetadata: true }): WithMetadata<T> | undefined;
  getState<T extends JsonValue = JsonValue>(path: string, options?: { withMetadata?: boolean }): T | WithMetadata<T> | undefined;
  batch(entries: BatchEntry[]): Applied[];
  getHistory(key: string): HistoryEntry[];
  rollback(key: string, version: number): Applied;
  getVersion(key: string): number;
  keys(): string[];
  subscribe(pathOrKey: string, callback: StateSubscriber, options?: { priority?: Priority }): number;
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
  setState(path: string, value: JsonValue, options?: Record<string, never>): Applied;
  /** The value at `path`: frozen and shared, the same object until its key is written (here, in another tab or by the server). */
  getState<T extends JsonValue = JsonValue>(path: string): T | undefined;
  getState<T extends JsonValue = JsonValue>(path: string, options: { withMetadata: true }): WithMetadata<T> | undefined;
  batch(entries: BatchEntry[]): Applied[];
  getStatistics(): Statistics;
  /** Resolves when every change made so far is stored in IndexedDB. */
  whenPersisted(): Promise<void>;
  /** Sends pending changes now; resolves once the server acknowledged all made so far. */
  sync(options?: { priority?: Priority; immediate?: boolean }): Promise<void>;
  /** Closes the socket and timers, writes pending state and closes storage (the outbox
   * stays stored); later mutations throw `SrvraError` `CLOSED`. */
  /** Re-encrypts everything stored with `key`; later loads need it. */
  rotateEncryptionKey(key: CryptoKey | (() => CryptoKey | Promise<CryptoKey>)): Promise<void>;
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
