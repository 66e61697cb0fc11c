// `sync.conflictResolver` (README "Conflicts"): merge rules, custom strategies, pending
// conflicts and history. The core decides; this side adds `resolve(value)` to `conflict`
// payloads and runs custom strategies, which live in JS.

import { encode, requireFunction, requireString } from './codec.js';
import { typeError } from './errors.js';

const BUILT_IN = new Set(['last-write-wins', 'first-write-wins', 'smart-merge', 'manual']);

/** `sync.conflictResolver`. */
export class ConflictResolver {
  #link;
  #custom = new Map();

  constructor(link) {
    this.#link = link;
  }

  /** Uses `strategy` for changes at paths `pattern` matches (`*` inside one segment). */
  setMergeRule(pattern, strategy) {
    requireString(pattern, 'pattern');
    requireString(strategy, 'strategy');
    this.#link.core.setMergeRule(pattern, strategy);
  }

  /** Registers `fn(conflict) => ({ value })` (or a promise of it) as strategy `name`. */
  registerCustomStrategy(name, fn) {
    requireString(name, 'name');
    requireFunction(fn, 'fn');
    if (BUILT_IN.has(name)) throw typeError(`'${name}' is a built-in strategy`, 'INVALID_STRATEGY');
    if (this.#custom.size === 0) {
      // Runs after the app's own `conflict` handlers, so they can settle first.
      const id = this.#link.core.on('conflict', 'low');
      this.#link.handlers.set(id, { fn: (conflict) => this.#runCustom(conflict) });
    }
    this.#custom.set(name, fn);
  }

  /** Conflicts settled so far, oldest first (at most 1,000). */
  getConflictHistory() {
    return JSON.parse(this.#link.core.conflictHistory());
  }

  /** Conflicts waiting for `resolve(value)`, each with its `resolve`. */
  getPendingConflicts() {
    return JSON.parse(this.#link.core.pendingConflicts()).map((c) => withResolve(this.#link, c));
  }

  async #runCustom(conflict) {
    const fn = this.#custom.get(conflict.strategy);
    if (fn === undefined || conflict.id === undefined) return;
    try {
      const result = await fn(conflict);
      if (result === null || typeof result !== 'object' || !('value' in result)) {
        throw typeError(`custom strategy '${conflict.strategy}' must return { value }`, 'INVALID_RESOLUTION');
      }
      conflict.resolve(result.value);
    } catch (error) {
      // The app's own handler may have settled it first.
      if (error?.code === 'UNKNOWN_CONFLICT') return;
      this.#link.emit('sync-error', { phase: 'conflict', error, key: conflict.key });
    }
  }
}

/** Adds `resolve(value)` to a held conflict's payload (`undefined` deletes the key). */
export function withResolve(link, conflict) {
  if (conflict.id === undefined) return conflict;
  const resolve = (value) => {
    const json = value === undefined ? undefined : encode(value, 'value');
    link.core.resolveConflict(conflict.id, json);
    link.settle();
  };
  return { ...conflict, resolve };
}
