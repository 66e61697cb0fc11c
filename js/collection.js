// `sync.collection(prefix)` (README "Collections"): a list of things users edit, one key
// per item (`prefix:id`) with a fractional `order`, so that concurrent adds, moves,
// removes and edits of different fields all survive. The core decides; this side checks
// arguments and delivers what the core queued.

import { encode, plainObject, requireString } from './codec.js';
import { typeError } from './errors.js';

/** One collection of `sync`: items under keys `prefix:id`. */
export class Collection {
  #link;

  #read;

  constructor(link, prefix, read) {
    requireString(prefix, 'prefix');
    this.#link = link;
    this.#read = read;
    /** The prefix of the items' keys (`prefix:id`). */
    this.prefix = prefix;
    // Checks the prefix now rather than at the first call.
    this.#link.core.checkCollectionPrefix(prefix);
  }

  /** Adds `value` (a plain object) at the end; returns its id. */
  add(value) {
    if (!plainObject(value)) throw typeError('add takes a plain object (a collection item is an object)');
    const id = this.#link.core.collectionAdd(this.prefix, encode(value, 'value'));
    this.#link.flush();
    return id;
  }

  /** Writes the fields of `partial` (each as its own change; other fields are kept). */
  update(id, partial) {
    requireString(id, 'id');
    if (!plainObject(partial)) throw typeError('update takes a plain object of fields');
    this.#link.core.collectionUpdate(this.prefix, id, encode(partial, 'partial'));
    this.#link.flush();
  }

  /** Removes item `id`. */
  remove(id) {
    requireString(id, 'id');
    this.#link.core.collectionRemove(this.prefix, id);
    this.#link.flush();
  }

  /** Moves item `id` just before or after another: `{ before: otherId }` or `{ after: otherId }`. */
  move(id, place) {
    requireString(id, 'id');
    const before = plainObject(place) ? place.before : undefined;
    const after = plainObject(place) ? place.after : undefined;
    if ((before === undefined) === (after === undefined)) {
      throw typeError('move takes { before: id } or { after: id }');
    }
    const other = before ?? after;
    requireString(other, before === undefined ? 'after' : 'before');
    this.#link.core.collectionMove(this.prefix, id, before !== undefined, other);
    this.#link.flush();
  }

  /** Item `id`'s value (with its `order`), or `undefined`. */
  get(id) {
    requireString(id, 'id');
    return this.#read(`${this.prefix}:${id}`);
  }

  /** Every item, in order: `[{ id, value }]`. */
  list() {
    return JSON.parse(this.#link.core.collectionList(this.prefix));
  }

  /**
   * Calls `callback(items)` after items are added, changed, moved or removed (here, in
   * another tab, by the server, or loaded at `ready`): once per burst of changes, in a
   * microtask. Returns a function that unsubscribes.
   */
  subscribe(callback) {
    // A key pattern: changes of other keys do not cross into JS for this view.
    const id = this.#link.core.subscribe(`${this.prefix}:*`, 'normal');
    let due = false;
    let open = true;
    this.#link.subscribers.set(id, () => {
      if (due) return;
      due = true;
      queueMicrotask(() => {
        due = false;
        if (open) callback(this.list());
      });
    });
    return () => {
      open = false;
      this.#link.subscribers.delete(id);
      this.#link.core.unsubscribe(id);
    };
  }
}
