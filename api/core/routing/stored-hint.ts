/**
 * Reading the routing hints kept as JSON in storage (per-PoP learning, the edge's RTTs): a stored value is a
 * claim, so anything malformed reads as nothing, and no key may reach Object.prototype.
 */
import { parseJsonClaim } from '../../protocol/parse-json-claim.ts';

/** The JSON object in `text`, or undefined for nothing, bad JSON, an array or any other value. */
export function parseStoredObject(text: string | null): Record<string, unknown> | undefined {
  const raw = parseJsonClaim(text);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  return raw as Record<string, unknown>;
}

/** Keys that would reach Object.prototype through `obj[key]` are not safe. */
export function safeKey(key: string): boolean {
  return key !== '__proto__' && key !== 'constructor' && key !== 'prototype';
}
