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

function check(value, where, depth, ancestors) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw typeError(`${where} is ${value}; numbers must be finite`, 'INVALID_VALUE');
      return;
    case 'object': {
      if (value === null) return;
      if (depth >= MAX_DEPTH) {
        throw new ValidationError(`${where} is nested deeper than ${MAX_DEPTH} levels`, 'VALUE_TOO_DEEP');
      }
      if (ancestors.includes(value)) throw typeError(`${where} contains a cycle`, 'INVALID_VALUE');
      ancestors.push(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) check(value[i], `${where}[${i}]`, depth + 1, ancestors);
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== objectProto && proto !== null) {
          throw typeError(`${where} is ${describe(value)}; only plain objects, arrays and primitives are JSON`, 'INVALID_VALUE');
        }
        for (const key in value) {
          if (Object.hasOwn(value, key)) check(value[key], `${where}.${key}`, depth + 1, ancestors);
        }
        if (Object.getOwnPropertySymbols(value).length > 0) {
          throw typeError(`${where} has symbol keys, which JSON cannot hold`, 'INVALID_VALUE');
        }
      }
      ancestors.pop();
      return;
    }
    default:
      throw typeError(`${where} is ${describe(value)}, which is not JSON`, 'INVALID_VALUE');
  }
}

/** Validates `value` as JSON and returns its text; throws `TypeError` naming `where`. */
export function encode(value, where = 'value') {
  check(value, where, 0, []);
  return JSON.stringify(value);
}

/** Parses JSON text from wasm; `undefined` stays `undefined`. */
export function decode(text) {
  return text === undefined ? undefined : JSON.parse(text);
}

/** Throws `TypeError` unless `value` is a string. */
export function requireString(value, name) {
  if (typeof value !== 'string') throw typeError(`${name} must be a string, got ${describe(value)}`);
}

/** Throws `TypeError` unless `value` is a function. */
export function requireFunction(value, name) {
  if (typeof value !== 'function') throw typeError(`${name} must be a function, got ${describe(value)}`);
}
