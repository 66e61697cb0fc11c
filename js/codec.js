// JSON encoding at the JS boundary. Values cross into wasm as JSON text; this module
// rejects everything that is not plain JSON *before* encoding, because JSON.stringify would
// silently turn NaN into null, drop functions and undefined, and flatten Maps and Dates.

import { typeError, ValidationError } from './errors.js';

/** Deepest nesting accepted in a value. */
export const MAX_DEPTH = 100;

const objectProto = Object.prototype;

function describe(value) {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (typeof value === 'bigint') return 'a bigint';
  if (typeof value === 'number') return String(value);
  const name = value?.constructor?.name;
  return name ? `a ${name}` : 'an object with a custom prototype';
}

// The path of the value being checked, as `value.a[2].b`: built only for an error message
// (building it for every value would cost more than the check).
function pathOf(where, trail) {
  let path = where;
  for (const part of trail) path += typeof part === 'number' ? `[${part}]` : `.${part}`;
  return path;
}

// Whether `Object.prototype` has an enumerable key (someone added one), which `for...in`
// over a plain object would yield. Looked up once per `encode`.
let polluted = false;

function prototypeHasKeys() {
  for (const key in objectProto) return key !== undefined;
  return false;
}

// Whether `value` needs no check beyond its type: a string, a boolean or a finite number.
function isPlainLeaf(value) {
  const type = typeof value;
  return type === 'string' || type === 'boolean' || (type === 'number' && Number.isFinite(value));
}

// Checks `value`, found at `trail` (keys and indices) under `where`; `ancestors` are the
// objects around it, for cycles.
function check(value, where, trail, ancestors) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw typeError(`${pathOf(where, trail)} is ${value}; numbers must be finite`, 'INVALID_VALUE');
      return;
    case 'object': {
      if (value === null) return;
      if (trail.length >= MAX_DEPTH) {
        throw new ValidationError(`${pathOf(where, trail)} is nested deeper than ${MAX_DEPTH} levels`, 'VALUE_TOO_DEEP');
      }
      if (ancestors.includes(value)) throw typeError(`${pathOf(where, trail)} contains a cycle`, 'INVALID_VALUE');
      ancestors.push(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          if (isPlainLeaf(item)) continue;
          trail.push(i);
          check(item, where, trail, ancestors);
          trail.pop();
        }
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== objectProto && proto !== null) {
          throw typeError(`${pathOf(where, trail)} is ${describe(value)}; only plain objects, arrays and primitives are JSON`, 'INVALID_VALUE');
        }
        // `for...in` is the fastest walk of the keys; it also yields enumerable keys of
        // the prototype, which only a polluted `Object.prototype` has (and JSON skips).
        const ownOnly = polluted && proto !== null;
        for (const key in value) {
          if (ownOnly && !Object.hasOwn(value, key)) continue;
          const item = value[key];
          if (isPlainLeaf(item)) continue;
          trail.push(key);
          check(item, where, trail, ancestors);
          trail.pop();
        }
        if (Object.getOwnPropertySymbols(value).length > 0) {
          throw typeError(`${pathOf(where, trail)} has symbol keys, which JSON cannot hold`, 'INVALID_VALUE');
        }
      }
      ancestors.pop();
      return;
    }
    default:
      throw typeError(`${pathOf(where, trail)} is ${describe(value)}, which is not JSON`, 'INVALID_VALUE');
  }
}

/** Validates `value` as JSON and returns its text; throws `TypeError` naming `where`. */
export function encode(value, where = 'value') {
  polluted = prototypeHasKeys();
  check(value, where, [], []);
  return JSON.stringify(value);
}

/** Parses JSON text from wasm; `undefined` stays `undefined`. */
export function decode(text) {
  return text === undefined ? undefined : JSON.parse(text);
}

/** Throws `TypeError` unless `value` is a string. */
/** Whether `value` is an object that is not an array (nor null). */
export function plainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function requireString(value, name) {
  if (typeof value !== 'string') throw typeError(`${name} must be a string, got ${describe(value)}`);
}

/** Throws `TypeError` unless `value` is a function. */
export function requireFunction(value, name) {
  if (typeof value !== 'function') throw typeError(`${name} must be a function, got ${describe(value)}`);
}
