/**
 * Probe challenges: a render node's GET /ping answers a nonce with HMAC-SHA256(probeKey, nonce), where
 * probeKey is a per-node secret the API hands out at registration and keeps. A client or peer pings with a
 * fresh nonce and reports the answer with its RTT; the API recomputes the HMAC and trusts the RTT only when
 * it matches, so a `data:` URL, a cache or a ping server that is not the node earns no routing credit.
 * Web Crypto only (Node, browsers, Workers).
 */
import { z } from 'zod';

/** A nonce as a client or peer sends it: 16–128 URL-safe characters. */
export const ProbeNonce = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'a probe nonce is 16–128 URL-safe characters');

/** An HMAC-SHA256 answer as 64 lowercase hex digits. */
export const ProbeProof = z.string().regex(/^[0-9a-f]{64}$/, 'a probe proof is 64 lowercase hex digits');

const encoder = new TextEncoder();

/** HMAC-SHA256(key, nonce) as lowercase hex: the answer only the node holding `key` can give. */
export async function probeProof(key: string, nonce: string): Promise<string> {
  const k = await crypto.subtle.importKey('raw', encoder.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', k, encoder.encode(nonce)));
  let hex = '';
  for (const b of mac) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** Whether `proof` answers `nonce` for the node holding `key` (compared in constant time). */
export async function verifyProbeProof(key: string, nonce: string, proof: string): Promise<boolean> {
  const expected = await probeProof(key, nonce);
  if (expected.length !== proof.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ proof.charCodeAt(i);
  return diff === 0;
}

/** A fresh random nonce for one ping. */
export function newProbeNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
