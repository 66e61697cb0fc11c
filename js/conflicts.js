// `sync.conflictResolver` (README "Conflicts"): merge rules, custom strategies, pending
// conflicts and history. The core decides; this side adds `resolve(value)` to `conflict`
// payloads and runs custom strategies, which live in JS.

import { encode, requireFunction, requireString } from './codec.js';
import { ConflictError, typeError } from './errors.js';

const BUILT_IN = new Set(['last-write-wins', 'first-write-wins', 'smart-merge', 'manual']);
// What `resolveConflict` applies itself (in the core): the built-ins but `manual`, and
// the two sides by name.
const CHOICES = new Set(['mine', 'theirs', 'last-write-wins', 'first-write-wins', 'smart-merge']);

/** `sync.conflictResolver`. */
export class ConflictResolver {
  #link;
  #custom = new Map();

  constructor(link) {
    this.#link = link;
  }

  /**
   * Uses `strategy` for changes at paths `pattern` matches (`*` inside one segment); the
   * conflicts it settles are scoped to the rule's path. `strategy` is a built-in name or
   * one registered with `registerCustomStrategy` first; any other name throws `TypeError`
   * `INVALID_STRATEGY` (a conflict must never wait on a strategy that does not exist).
   */
  setMergeRule(pattern, strategy) {
    requireString(pattern, 'pattern');
    requireString(strategy, 'strategy');
    if (!BUILT_IN.has(strategy) && !this.#custom.has(strategy)) {
      throw typeError(
        `'${strategy}' is not a strategy: use last-write-wins, first-write-wins, smart-merge, `
          + 'manual, or register a custom one with registerCustomStrategy first',
        'INVALID_STRATEGY',
      );
    }
    this.#link.core.setMergeRule(pattern, strategy);
  }

  /** Registers `fn(conflict) => ({ value })` (or a promise of it) as strategy `name`. */
  registerCustomStrategy(name, fn) {
    requireString(name, 'name');
    requireFunction(fn, 'fn');
    if (BUILT_IN.has(name) || CHOICES.has(name)) throw typeError(`'${name}' is a built-in strategy`, 'INVALID_STRATEGY');
    if (this.#custom.size === 0) {
      // Runs after the app's own `conflict` handlers, so they can settle first.
      const id = this.#link.core.on('conflict', 'low');
      this.#link.handlers.set(id, { fn: (conflict) => this.#runCustom(conflict) });
    }
    this.#custom.set(name, fn);
  }

  /**
   * Settles a held conflict with a named strategy: `mine`, `theirs`, `last-write-wins`,
   * `first-write-wins`, `smart-merge` or a registered custom one, as in
   * `resolveConflict({ strategy: 'mine', ...conflict })`. Throws `TypeError`
   * (`INVALID_STRATEGY`) for any other name and `ConflictError` when the conflict is not
   * held (`CONFLICT_SETTLED`: the server settled it; `UNKNOWN_CONFLICT`: already resolved).
   * The promise resolves once the resolution is applied locally (after an async custom
   * strategy), or rejects with the strategy's error.
   */
  resolveConflict(request) {
    if (request === null || typeof request !== 'object' || Array.isArray(request)) {
      throw typeError('resolveConflict takes { strategy, ...conflict }');
    }
    const { strategy, id } = request;
    requireString(strategy, 'strategy');
    const custom = this.#custom.get(strategy);
    // `manual` goes on to the core, which explains how a manual conflict is settled.
    if (!CHOICES.has(strategy) && strategy !== 'manual' && custom === undefined) {
      throw typeError(
        `'${strategy}' is not a strategy resolveConflict knows: use mine, theirs, `
          + 'last-write-wins, first-write-wins, smart-merge or a registered custom one',
        'INVALID_STRATEGY',
      );
    }
    if (id === undefined) {
      throw new ConflictError(
        `the conflict on '${request.key}' was already settled by the server; only held `
          + 'conflicts (with an id) can be resolved',
        'CONFLICT_SETTLED',
      );
    }
    if (custom === undefined) {
      this.#link.core.resolveConflictWith(id, strategy);
      this.#link.flush();
      return Promise.resolve();
    }
    const held = JSON.parse(this.#link.core.pendingConflicts()).find((c) => c.id === id);
    if (held === undefined) {
      throw new ConflictError(`no conflict ${id} is waiting to be resolved`, 'UNKNOWN_CONFLICT');
    }
    return this.#apply(custom, withResolve(this.#link, held), strategy);
  }

  /** Conflicts settled so far, oldest first (at most 1,000). */
  getConflictHistory() {
    return JSON.parse(this.#link.core.conflictHistory());
  }

  /** Conflicts waiting for `resolve(value)`, each with its `resolve`. */
  getPendingConflicts() {
    return JSON.parse(this.#link.core.pendingConflicts()).map((c) => withResolve(this.#link, c));
  }

  // Runs custom strategy `name` (`fn`) on a held conflict and settles it with its `{ value }`.
  async #apply(fn, conflict, name = conflict.strategy) {
    const result = await fn(conflict);
    if (result === null || typeof result !== 'object' || !('value' in result)) {
      throw typeError(`custom strategy '${name}' must return { value }`, 'INVALID_RESOLUTION');
    }
    conflict.resolve(result.value);
  }

  async #runCustom(conflict) {
    const fn = this.#custom.get(conflict.strategy);
    if (fn === undefined || conflict.id === undefined) return;
    try {
      await this.#apply(fn, conflict);
    } catch (error) {
      // The app's own handler may have settled it first.
      if (error?.code === 'UNKNOWN_CONFLICT') return;
      this.#link.emit('sync-error', { phase: 'conflict', error, key: conflict.key });
    }
  }
}

/**
 * A `conflict` payload for the app: `resolve(value)` (`undefined` deletes the conflict's
 * path), and `strategy` made non-enumerable, so that the seed's
 * `resolveConflict({ strategy: 'mine', ...conflict })` keeps the strategy it names. On a
 * conflict the server already settled, `resolve` throws `ConflictError`
 * `CONFLICT_SETTLED`.
 */
export function withResolve(link, conflict) {
  const { strategy, ...rest } = conflict;
  const payload = rest;
  payload.resolve = (value) => {
    if (conflict.id === undefined) {
      throw new ConflictError(
        `the conflict on '${conflict.path ?? conflict.key}' was settled by the server `
          + `(${strategy}); there is nothing to resolve`,
        'CONFLICT_SETTLED',
      );
    }
    const json = value === undefined ? undefined : encode(value, 'value');
    link.core.resolveConflict(conflict.id, json);
    link.flush();
  };
  Object.defineProperty(payload, 'strategy', { value: strategy, enumerable: false });
  return payload;
}
