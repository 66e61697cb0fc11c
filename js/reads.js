// The values `getState` returned, kept decoded and frozen by path, so that reading a path
// again costs no trip into wasm: a value keeps its identity until its key is written
// (locally, by another tab or by the server), whatever happens to other keys.

import { decode } from './codec.js';

/** Most paths whose decoded values are kept. */
const READ_CACHE_LIMIT = 250_000;

/** Freezes a decoded JSON value and everything in it (it is shared between readers). */
function deepFreeze(value) {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Decoded `getState` answers of one core, dropped key by key as the core writes them. */
export class ReadCache {
  #core;
  // Values by path; valid as of the core's state generation `#generation`.
  #values = new Map();
  // The dotted paths kept under each key (a path that is a whole key is not listed).
  #nested = new Map();
  #generation = -1;

  constructor(core) {
    this.#core = core;
  }

  /** The frozen value at `path` (`undefined` when there is none). */
  get(path) {
    // One call without arguments tells whether anything was written since the last read;
    // if so (and values are kept), a second one names the keys, and only their values are
    // dropped.
    const generation = this.#core.stateGeneration();
    if (generation !== this.#generation) {
      if (this.#values.size !== 0) this.#forget(this.#core.writtenSince(this.#generation));
      this.#generation = generation;
    }
    let value = this.#values.get(path);
    if (value === undefined && !this.#values.has(path)) {
      value = deepFreeze(decode(this.#core.getState(path)));
      this.#keep(path, value);
    }
    return value;
  }

  #keep(path, value) {
    if (this.#values.size >= READ_CACHE_LIMIT) this.#forget(undefined);
    this.#values.set(path, value);
    const dot = path.indexOf('.');
    if (dot < 0) return;
    const key = path.slice(0, dot);
    const paths = this.#nested.get(key);
    if (paths === undefined) this.#nested.set(key, [path]);
    else paths.push(path);
  }

  // Drops the values of the keys in `written` (JSON text of an array), or every value
  // when it is `undefined` (the core no longer knows every key written).
  #forget(written) {
    if (written === undefined) {
      this.#values.clear();
      this.#nested.clear();
      return;
    }
    for (const key of JSON.parse(written)) {
      this.#values.delete(key);
      const paths = this.#nested.get(key);
      if (paths === undefined) continue;
      for (const path of paths) this.#values.delete(path);
      this.#nested.delete(key);
    }
  }
}
