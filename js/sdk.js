// srvra-sync's API: wraps the wasm `SyncCore` into the documented classes (README "API"):
// argument checks, JSON encoding at the boundary, and delivery of subscriber calls and
// events in the order the core decides. The entries (`index.js` for browsers and bundlers,
// `node.js` for Node) load the wasm first and re-export this module: no init call is needed.

import { SyncCore } from './srvra_sync.js';
import { decode, encode, plainObject, requireFunction, requireString } from './codec.js';
import { makeError, onPanic, typeError } from './errors.js';
import { ConflictResolver, withResolve } from './conflicts.js';
import { Presence } from './presence.js';
import { ReadCache } from './reads.js';
import { guardedSocketClass } from './socket.js';
import { Collection } from './collection.js';

export { SrvraError, ValidationError, ConflictError, NetworkError, StorageError } from './errors.js';

const report = typeof globalThis.reportError === 'function'
  ? (error) => globalThis.reportError(error)
  : (error) => console.error(error);

function keyOf(path) {
  const dot = path.indexOf('.');
  return dot < 0 ? path : path.slice(0, dot);
}

// Options left `undefined` mean "use the default", as in most JS APIs.
function withoutUndefined(object) {
  const out = {};
  for (const [name, value] of Object.entries(object)) {
    if (value === undefined) continue;
    out[name] = plainObject(value) && Object.getPrototypeOf(value) === Object.prototype
      ? withoutUndefined(value)
      : value;
  }
  return out;
}

// What the facades share: the core, the JS handler tables and the delivery loop.
class Link {
  constructor() {
    this.core = null;
    this.subscribers = new Map();
    this.handlers = new Map();
    this.draining = false;
  }

  // Called after every mutation: deliver what the core queued, if anyone listens.
  flush() {
    if (this.subscribers.size !== 0 || this.handlers.size !== 0) this.drain();
  }

  drain() {
    if (this.draining) return; // re-entrant change: the running loop picks it up
    this.draining = true;
    try {
      let text;
      while ((text = this.core.takeDispatches()) !== undefined) {
        for (const item of JSON.parse(text)) this.deliver(item);
      }
    } finally {
      this.draining = false;
    }
  }

  deliver(item) {
    if (item.k === 'sub') {
      const updates = item.values.map((v) => ({ ...item.update, previousValue: v.previousValue }));
      const { ids, at } = item;
      for (let n = 0; n < ids.length; n++) {
        const id = ids[n];
        const fn = this.subscribers.get(id);
        if (fn === undefined) continue;
        const index = at === undefined ? 0 : at[n];
        try {
          fn(item.values[index].value, updates[index]);
        } catch (error) {
          this.core.countSubscriberError();
          this.emit('sync-error', { phase: 'subscriber', error, key: item.update.key, subscription: id });
        }
      }
      return;
    }
    let payload = item.payload;
    if (item.type === 'sync-error' && payload.error && !(payload.error instanceof Error)) {
      const { kind, code, message } = payload.error;
      payload = { ...payload, error: makeError(kind, code, message) };
    } else if (item.type === 'conflict') {
      payload = withResolve(this, payload);
    }
    this.call(item.ids, item.type, payload, item.ts, item.detail);
  }

  // The wasm stopped (a panic): `sync-error` handlers hear it without asking the core,
  // which can no longer answer.
  failed(error) {
    const ids = [...this.handlers].filter(([, h]) => h.type === 'sync-error').map(([id]) => id);
    if (ids.length === 0) report(error);
    this.call(ids, 'sync-error', { phase: 'panic', error }, Date.now());
  }

  // Raises an event from the JS side (the core orders the handlers).
  emit(type, payload) {
    const ids = this.core.handlers(type);
    if (ids.length === 0 && type === 'sync-error') report(payload.error);
    this.call(ids, type, payload, Date.now());
  }

  call(ids, type, payload, timestamp, detail) {
    const meta = detail === undefined ? { type, timestamp } : { type, timestamp, detail };
    for (const id of ids) {
      const handler = this.handlers.get(id);
      if (handler === undefined) continue;
      try {
        if (handler.filter !== undefined && !handler.filter(payload)) continue;
        handler.fn(payload, meta);
      } catch (error) {
        if (type === 'sync-error') report(error);
        else this.emit('sync-error', { phase: 'event-handler', error, event: type });
      }
    }
  }
}

function isCryptoKey(value) {
  return typeof globalThis.CryptoKey === 'function' && value instanceof globalThis.CryptoKey;
}

function checkVersion(version) {
  if (!Number.isSafeInteger(version) || version < 0) {
    throw typeError(`version must be a non-negative integer, got ${String(version)}`);
  }
}

/** `sync.stateManager`: local-first state with versions, history and subscribers. */
export class StateManager {
  #link;
  #reads;

  constructor(link) {
    this.#link = link;
    this.#reads = new ReadCache(link.core);
  }

  #done(path, version) {
    this.#link.flush();
    return { key: keyOf(path), version };
  }

  setState(path, value, options) {
    requireString(path, 'path');
    if (options !== undefined && !plainObject(options)) throw typeError('options must be an object');
    return this.#done(path, this.#link.core.setState(path, encode(value)));
  }

  updateState(path, partial) {
    requireString(path, 'path');
    if (!plainObject(partial)) throw typeError('updateState takes a plain object of fields');
    return this.#done(path, this.#link.core.updateState(path, encode(partial, 'partial')));
  }

  deleteState(path) {
    requireString(path, 'path');
    return this.#done(path, this.#link.core.deleteState(path));
  }

  increment(path, by = 1) {
    requireString(path, 'path');
    if (typeof by !== 'number' || !Number.isFinite(by)) throw typeError(`by must be a finite number, got ${String(by)}`);
    return this.#done(path, this.#link.core.increment(path, by));
  }

  append(path, item) {
    requireString(path, 'path');
    return this.#done(path, this.#link.core.append(path, encode(item, 'item')));
  }

  getState(path, options) {
    requireString(path, 'path');
    if (options?.withMetadata) return decode(this.#link.core.getStateWithMetadata(path));
    return this.#reads.get(path);
  }

  batch(entries) {
    if (!Array.isArray(entries)) throw typeError('batch takes an array of entries');
    const versions = this.#link.core.batch(encode(entries, 'entries'));
    this.#link.flush();
    return entries.map((entry, i) => ({ key: keyOf(entry.key), version: versions[i] }));
  }

  getHistory(key) {
    requireString(key, 'key');
    return JSON.parse(this.#link.core.getHistory(key));
  }

  rollback(key, version) {
    requireString(key, 'key');
    checkVersion(version);
    return this.#done(key, this.#link.core.rollback(key, version));
  }

  getVersion(key) {
    requireString(key, 'key');
    return this.#link.core.getVersion(key);
  }

  /** Key names holding a value, sorted; with `pattern` (`*`: any characters), those it matches whole. */
  keys(pattern) {
    if (pattern !== undefined) requireString(pattern, 'pattern');
    return JSON.parse(this.#link.core.keys(pattern));
  }

  subscribe(pathOrKey, callback, { priority = 'normal' } = {}) {
    requireString(pathOrKey, 'pathOrKey');
    requireFunction(callback, 'callback');
    requireString(priority, 'priority');
    const id = this.#link.core.subscribe(pathOrKey, priority);
    this.#link.subscribers.set(id, callback);
    return id;
  }

  unsubscribe(id) {
    this.#link.subscribers.delete(id);
    return typeof id === 'number' && this.#link.core.unsubscribe(id);
  }
}

/** `sync.eventBus`: typed events with priorities and filters. */
export class EventBus {
  #link;

  constructor(link) {
    this.#link = link;
  }

  subscribe(type, handler, { priority = 'normal', filter } = {}) {
    requireString(type, 'type');
    requireFunction(handler, 'handler');
    requireString(priority, 'priority');
    if (filter !== undefined) requireFunction(filter, 'filter');
    const id = this.#link.core.on(type, priority);
    this.#link.handlers.set(id, { fn: handler, filter, type });
    return id;
  }

  unsubscribe(id) {
    this.#link.handlers.delete(id);
    return typeof id === 'number' && this.#link.core.off(id);
  }
}

/** The SDK: `new SrvraDataSync(config)`. */
export class SrvraDataSync {
  #link = new Link();
  #onOnline = null;
  #onOffline = null;
  #onVisibility = null;
  #offPanic = null;

  constructor(config = {}) {
    if (!plainObject(config)) throw typeError('config must be an object', 'INVALID_CONFIG');
    const { token = null, webSocket = null, encryption, ...rest } = config;
    let encryptionKey = null;
    if (encryption !== undefined) {
      if (!plainObject(encryption)) throw typeError('config.encryption must be an object', 'INVALID_CONFIG');
      const { key = null, ...settings } = encryption;
      if (key !== null && typeof key !== 'function' && !isCryptoKey(key)) {
        throw typeError('config.encryption.key must be a CryptoKey, a function returning one, or null', 'INVALID_CONFIG');
      }
      if (key !== null && settings.enabled !== true) {
        throw typeError('config.encryption.key is set but config.encryption.enabled is not true', 'INVALID_CONFIG');
      }
      rest.encryption = settings;
      encryptionKey = key;
    }
    if (token !== null && typeof token !== 'string' && typeof token !== 'function') {
      throw typeError('config.token must be a string, a function or null', 'INVALID_CONFIG');
    }
    if (webSocket !== null && typeof webSocket !== 'function') {
      throw typeError('config.webSocket must be a WebSocket class (constructor) or null', 'INVALID_CONFIG');
    }
    if (rest.url != null && webSocket === null && typeof globalThis.WebSocket !== 'function') {
      throw typeError(
        'config.url is set but this environment has no WebSocket: pass config.webSocket '
        + "(in Node 20, the 'ws' package: import { WebSocket } from 'ws')",
        'INVALID_CONFIG',
      );
    }
    const online = globalThis.navigator?.onLine ?? true;
    this.#link.core = new SyncCore(
      encode(withoutUndefined(rest), 'config'),
      token,
      webSocket === null ? undefined : guardedSocketClass(webSocket),
      online,
      () => this.#link.drain(),
      encryptionKey,
    );
    if (rest.url != null && typeof globalThis.addEventListener === 'function') {
      this.#onOnline = () => this.#link.core.setOnline(true);
      this.#onOffline = () => this.#link.core.setOnline(false);
      globalThis.addEventListener('online', this.#onOnline);
      globalThis.addEventListener('offline', this.#onOffline);
    }
    // Tabs of one app prefer a visible leader: a hidden one hands over when a visible tab
    // claims the lead (README "Tabs").
    const page = globalThis.document;
    if (typeof page?.addEventListener === 'function') {
      this.#onVisibility = () => this.#link.core.setVisible(page.visibilityState !== 'hidden');
      page.addEventListener('visibilitychange', this.#onVisibility);
      this.#onVisibility();
    }
    /** State reads, writes and subscriptions. */
    this.stateManager = new StateManager(this.#link);
    /** Events. */
    this.eventBus = new EventBus(this.#link);
    /** Conflict rules, custom strategies, pending conflicts and history. */
    this.conflictResolver = new ConflictResolver(this.#link);
    /** This tab's presence and everyone else's (README "Presence"). */
    this.presence = new Presence(this.#link, this.eventBus);
    /** Resolves when cached state is loaded; rejects with `StorageError` if it cannot be. */
    this.ready = this.#link.core.ready;
    const link = new WeakRef(this.#link);
    this.#offPanic = onPanic((error) => link.deref()?.failed(error));
  }

  /** `initial`, `syncing`, `synced`, `error`, `offline`, `reconnecting` or `partial-sync`. */
  get status() {
    return this.#link.core.status;
  }

  /** This client's stable id. */
  get clientId() {
    return this.#link.core.clientId;
  }

  setState(path, value, options) {
    return this.stateManager.setState(path, value, options);
  }

  getState(path, options) {
    return this.stateManager.getState(path, options);
  }

  batch(entries) {
    return this.stateManager.batch(entries);
  }

  updateState(path, partial) {
    return this.stateManager.updateState(path, partial);
  }

  deleteState(path) {
    return this.stateManager.deleteState(path);
  }

  increment(path, by) {
    return this.stateManager.increment(path, by);
  }

  append(path, item) {
    return this.stateManager.append(path, item);
  }

  subscribe(pathOrKey, callback, options) {
    return this.stateManager.subscribe(pathOrKey, callback, options);
  }

  unsubscribe(id) {
    return this.stateManager.unsubscribe(id);
  }

  /** The collection of items under keys `prefix:id` (README "Collections"). */
  collection(prefix) {
    return new Collection(this.#link, prefix, (path) => this.stateManager.getState(path));
  }

  /**
   * Resolves once this instance's first catch-up from the server is applied (at once
   * without a `url`): what a Node script or a first render awaits before it reads.
   * Rejects with `NetworkError` `CLOSED` if the instance closes first.
   */
  whenSynced() {
    return this.#link.core.whenSynced();
  }

  getStatistics() {
    return JSON.parse(this.#link.core.statistics());
  }

  whenPersisted() {
    return this.#link.core.whenPersisted();
  }

  /**
   * Sends pending changes now. Resolves once the server acknowledged every change made
   * so far (at once without a `url`); rejects with `NetworkError` if the instance closes
   * first. `options` (`{ priority, immediate }`) are accepted for compatibility with the documented API:
   * every call flushes immediately.
   */
  sync(options) {
    if (options !== undefined && !plainObject(options)) throw typeError('options must be an object');
    const done = this.#link.core.sync();
    this.#link.flush();
    return done;
  }

  /**
   * Re-encrypts everything stored with `key` (a `CryptoKey` or a function returning one),
   * in one transaction. Later loads need the new key. Rejects with `StorageError`
   * (`NOT_ENCRYPTED`, `NOT_LEADER` in a follower tab, `INVALID_KEY`).
   */
  rotateEncryptionKey(key) {
    if (typeof key !== 'function' && !isCryptoKey(key)) {
      throw typeError('rotateEncryptionKey takes a CryptoKey or a function returning one');
    }
    return this.#link.core.rotateEncryptionKey(key);
  }

  close() {
    this.#offPanic?.();
    this.presence.dispose();
    if (this.#onOnline !== null) {
      globalThis.removeEventListener('online', this.#onOnline);
      globalThis.removeEventListener('offline', this.#onOffline);
      this.#onOnline = this.#onOffline = null;
    }
    if (this.#onVisibility !== null) {
      globalThis.document.removeEventListener('visibilitychange', this.#onVisibility);
      this.#onVisibility = null;
    }
    return this.#link.core.close();
  }
}
