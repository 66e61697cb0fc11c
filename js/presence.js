// `sync.presence` (README "Presence", SPEC §10): this tab's ephemeral state (who is here,
// where their cursor is) and everyone else's, as the server reports them. Never stored.
import { encode, requireFunction } from './codec.js';
import { typeError } from './errors.js';

export class Presence {
  #link;
  #events;
  #onPageHide = null;

  constructor(link, events) {
    this.#link = link;
    this.#events = events;
  }

  /** This tab's state: a plain object (at most 4 KiB as JSON), or `null` to clear it. */
  set(state) {
    if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
      throw typeError('presence.set takes a plain object, or null to clear it', 'INVALID_PRESENCE');
    }
    this.#link.core.presenceSet(encode(state, 'the presence state'));
    this.#link.flush();
    // A closing tab leaves everyone's view at once, not when its leader's socket ends.
    if (state !== null && this.#onPageHide === null && typeof globalThis.addEventListener === 'function') {
      this.#onPageHide = () => {
        try {
          this.#link.core.presenceSet('null');
        } catch {
          // closed already
        }
      };
      globalThis.addEventListener('pagehide', this.#onPageHide);
    }
  }

  /** This tab's state, or `null`. */
  get() {
    return JSON.parse(this.#link.core.presenceGet());
  }

  /** Every other tab present: `[{ clientId, tab, userId?, state, lastSeen }]`. */
  others() {
    return JSON.parse(this.#link.core.presenceOthers());
  }

  /** Calls `callback(others)` whenever who is present changes; returns an id. */
  subscribe(callback) {
    requireFunction(callback, 'callback');
    return this.#events.subscribe('presence', (payload) => callback(payload.others));
  }

  unsubscribe(id) {
    return this.#events.unsubscribe(id);
  }

  /** Stops listening for `pagehide` (the instance closes). */
  dispose() {
    if (this.#onPageHide !== null) {
      globalThis.removeEventListener('pagehide', this.#onPageHide);
      this.#onPageHide = null;
    }
  }
}
