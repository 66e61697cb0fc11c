// Error classes thrown by srvra-sync. Every error has a stable `code`.
// The wasm binding imports `makeError` from this file, so Rust-raised errors are instances
// of these same classes.

/** Base class of every error srvra-sync throws (except `TypeError` for wrong argument types). */
export class SrvraError extends Error {
  constructor(message, code = 'SRVRA_ERROR', options) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A well-typed argument the operation cannot accept (bad path, unknown version...). */
export class ValidationError extends SrvraError {
  constructor(message, code = 'VALIDATION_ERROR', options) {
    super(message, code, options);
  }
}

/** A change conflicted with the server's state and could not be applied. */
export class ConflictError extends SrvraError {
  constructor(message, code = 'CONFLICT', options) {
    super(message, code, options);
  }
}

/** The network or the server failed. */
export class NetworkError extends SrvraError {
  constructor(message, code = 'NETWORK_ERROR', options) {
    super(message, code, options);
  }
}

/** Local storage (IndexedDB) failed. */
export class StorageError extends SrvraError {
  constructor(message, code = 'STORAGE_ERROR', options) {
    super(message, code, options);
  }
}

/** A `TypeError` with a stable `code`, for wrong argument types and invalid config. */
export function typeError(message, code = 'INVALID_ARGUMENT') {
  const error = new TypeError(message);
  error.code = code;
  return error;
}

/** Builds the error for a `kind` reported by the core. Used by the wasm binding. */
export function makeError(kind, code, message) {
  switch (kind) {
    case 'type': return typeError(message, code);
    case 'validation': return new ValidationError(message, code);
    case 'conflict': return new ConflictError(message, code);
    case 'network': return new NetworkError(message, code);
    case 'storage': return new StorageError(message, code);
    default: return new SrvraError(message, code);
  }
}

// Instances to tell when the wasm stops on an internal error (a Rust panic aborts it).
const panicListeners = new Set();

/** Calls `listener(error)` if the wasm stops after an internal error; returns an unsubscribe. */
export function onPanic(listener) {
  panicListeners.add(listener);
  return () => panicListeners.delete(listener);
}

/**
 * Called by the binding's panic hook, just before the wasm aborts: every live instance
 * raises `sync-error` with a `SrvraError` (`PANIC`) from a fresh microtask.
 */
export function reportPanic(message) {
  const error = new SrvraError(`srvra-sync stopped after an internal error: ${message}`, 'PANIC');
  for (const listener of panicListeners) queueMicrotask(() => listener(error));
}
