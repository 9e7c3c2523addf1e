/**
 * Typed reads of fields from untrusted glTF JSON. Every helper either returns a value of the
 * promised shape or throws SCENE_MALFORMED with a message that names the object and the field,
 * e.g. `node 3: mesh refers to mesh 9, which does not exist (the file has 2 meshes)`.
 */
import { TesseraError } from '../api/protocol/errors.ts';

export type JsonObject = { [key: string]: unknown };

/** A kind of glTF object, for messages: `{ one: 'mesh', many: 'meshes' }`. */
export interface Noun {
  one: string;
  many: string;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short, printable rendering of a JSON value for error messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  text ??= String(value);
  return text.length > 48 ? `${text.slice(0, 45)}...` : text;
}

export function malformed(message: string, cause?: unknown): TesseraError {
  return new TesseraError('SCENE_MALFORMED', message, cause === undefined ? undefined : { cause });
}

function prefix(where: string): string {
  return where ? `${where}: ` : '';
}

function count(n: number, noun: Noun): string {
  return `${n} ${n === 1 ? noun.one : noun.many}`;
}

/** `obj[key]` as an array of objects; missing means empty. */
export function objectArray(obj: JsonObject, key: string, where: string): JsonObject[] {
  const value = obj[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw malformed(`${prefix(where)}${key} must be an array, got ${show(value)}`);
  for (let i = 0; i < value.length; i++) {
    if (!isJsonObject(value[i])) throw malformed(`${prefix(where)}${key}[${i}] must be an object, got ${show(value[i])}`);
  }
  return value as JsonObject[];
}

/** `obj[key]` as an object, or undefined when absent. */
export function optObject(obj: JsonObject, key: string, where: string): JsonObject | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) throw malformed(`${prefix(where)}${key} must be an object, got ${show(value)}`);
  return value;
}

export function reqObject(obj: JsonObject, key: string, where: string): JsonObject {
  const value = optObject(obj, key, where);
  if (value === undefined) throw malformed(`${prefix(where)}${key} is missing`);
  return value;
}

function checkIndex(value: unknown, label: string, where: string, length: number, noun: Noun): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(`${prefix(where)}${label} must be an index (a whole number ≥ 0), got ${show(value)}`);
  }
  if (value >= length) {
    throw malformed(
      `${prefix(where)}${label} refers to ${noun.one} ${value}, which does not exist (the file has ${count(length, noun)})`,
    );
  }
  return value;
}

/** `obj[key]` as an index into a list of `length` objects, or undefined when absent. */
export function optIndex(obj: JsonObject, key: string, where: string, length: number, noun: Noun): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  return checkIndex(value, key, where, length, noun);
}

export function reqIndex(obj: JsonObject, key: string, where: string, length: number, noun: Noun): number {
  if (obj[key] === undefined) throw malformed(`${prefix(where)}${key} is missing`);
  return checkIndex(obj[key], key, where, length, noun);
}

/** `obj[key]` as an array of indices; missing means empty. */
export function indexArray(
  obj: JsonObject,
  key: string,
  where: string,
  length: number,
  noun: Noun,
  required = false,
): number[] {
  const value = obj[key];
  if (value === undefined) {
    if (required) throw malformed(`${prefix(where)}${key} is missing`);
    return [];
  }
  if (!Array.isArray(value)) throw malformed(`${prefix(where)}${key} must be an array of indices, got ${show(value)}`);
  if (required && value.length === 0) throw malformed(`${prefix(where)}${key} must not be empty`);
  for (let i = 0; i < value.length; i++) checkIndex(value[i], `${key}[${i}]`, where, length, noun);
  return value as number[];
}

/** Each value of the object `obj[key]` as an index (e.g. primitive attributes); missing means empty. */
export function indexRecord(
  obj: JsonObject,
  key: string,
  where: string,
  length: number,
  noun: Noun,
): Array<[string, number]> {
  const record = optObject(obj, key, where);
  return record ? indexEntries(record, `${key}.`, where, length, noun) : [];
}

/** Each value of `record` as an index; `label` prefixes the key in messages. */
export function indexEntries(
  record: JsonObject,
  label: string,
  where: string,
  length: number,
  noun: Noun,
): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const name of Object.keys(record)) {
    out.push([name, checkIndex(record[name], `${label}${name}`, where, length, noun)]);
  }
  return out;
}

export interface IntOptions {
  min?: number;
  max?: number;
}

export function optInt(obj: JsonObject, key: string, where: string, options: IntOptions = {}): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = options;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw malformed(`${prefix(where)}${key} must be a whole number ${range}, got ${show(value)}`);
  }
  return value;
}

export function reqInt(obj: JsonObject, key: string, where: string, options: IntOptions = {}): number {
  if (obj[key] === undefined) throw malformed(`${prefix(where)}${key} is missing`);
  return optInt(obj, key, where, options)!;
}

export interface NumberOptions {
  /** Value must be greater than this. */
  above?: number;
  /** Value must be at least this. */
  atLeast?: number;
  nonZero?: boolean;
}

export function optNumber(obj: JsonObject, key: string, where: string, options: NumberOptions = {}): number | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (options.above === undefined || value > options.above) &&
    (options.atLeast === undefined || value >= options.atLeast) &&
    (!options.nonZero || value !== 0);
  if (!ok) {
    const rule =
      options.above !== undefined
        ? ` greater than ${options.above}`
        : options.atLeast !== undefined
          ? ` ≥ ${options.atLeast}`
          : options.nonZero
            ? ' other than 0'
            : '';
    throw malformed(`${prefix(where)}${key} must be a finite number${rule}, got ${show(value)}`);
  }
  return value as number;
}

export function reqNumber(obj: JsonObject, key: string, where: string, options: NumberOptions = {}): number {
  if (obj[key] === undefined) throw malformed(`${prefix(where)}${key} is missing`);
  return optNumber(obj, key, where, options)!;
}

/** `obj[key]` as an array of finite numbers, of exactly `length` items when given. */
export function optNumberArray(obj: JsonObject, key: string, where: string, length?: number): number[] | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  const ok =
    Array.isArray(value) &&
    (length === undefined || value.length === length) &&
    value.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (!ok) {
    const what = length === undefined ? 'an array of finite numbers' : `${length} finite numbers`;
    throw malformed(`${prefix(where)}${key} must be ${what}, got ${show(value)}`);
  }
  return value as number[];
}

export function optString(obj: JsonObject, key: string, where: string): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw malformed(`${prefix(where)}${key} must be a string, got ${show(value)}`);
  return value;
}

export function optBoolean(obj: JsonObject, key: string, where: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw malformed(`${prefix(where)}${key} must be true or false, got ${show(value)}`);
  return value;
}

/** `obj[key]` as one of `allowed`, or undefined when absent. */
export function optEnum<T extends string | number>(
  obj: JsonObject,
  key: string,
  where: string,
  allowed: readonly T[],
): T | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    const list = allowed.map((a) => (typeof a === 'string' ? `"${a}"` : String(a)));
    const choices = list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list.at(-1)}` : list[0];
    throw malformed(`${prefix(where)}${key} must be ${choices}, got ${show(value)}`);
  }
  return value as T;
}

/** `obj[key]` as an array of strings; missing means empty. */
export function stringArray(obj: JsonObject, key: string, where: string): string[] {
  const value = obj[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw malformed(`${prefix(where)}${key} must be an array of strings, got ${show(value)}`);
  }
  return value as string[];
}
