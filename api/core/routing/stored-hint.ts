/**
 * Reading the routing hints kept as JSON in storage (per-PoP learning, the edge's RTTs): a stored value is a
 * claim, so anything malformed reads as nothing, and no key may reach Object.prototype.
 */

/** The JSON object in `text`, or undefined for nothing, bad JSON, an array or any other value. */
export function parseStoredObject(text: string | null): Record<string, unknown> | undefined {
  if (!text) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  return raw as Record<string, unknown>;
}

/** Keys that would reach Object.prototype through `obj[key]` are not safe. */
export function safeKey(key: string): boolean {
  return key !== '__proto__' && key !== 'constructor' && key !== 'prototype';
}
