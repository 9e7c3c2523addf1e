/**
 * Session tickets: minted by the API, checked by the node without calling the API.
 *
 * Scheme: HMAC-SHA256 under a per-node secret. The API derives each node's secret from its own ticket key
 * (secret = HMAC(apiKey, "tessera-node-ticket-v1:" + nodeId)) and hands it to the node once, in the
 * registration answer (over the same channel as its bearer token). A ticket is
 * `base64url(JSON payload) "." base64url(HMAC(secret, payload))`, the payload binding version, session id,
 * node id, expiry and a random nonce. A node checks the MAC with its own secret, that the node id is its own,
 * the expiry, and that it has not seen the nonce before (single use).
 *
 * Why HMAC rather than Ed25519: verification is one Web Crypto HMAC (in Node 20, browsers and Workers alike,
 * where Ed25519 support still differs between runtimes), tickets stay short (no 64-byte signature), and
 * the API keeps no private signing key beyond one random value it can rotate. Its known cost — whoever
 * holds a secret can mint tickets — is confined by making the secret per node: node A can only mint tickets
 * that node A itself accepts (it could serve its own sessions to anyone anyway), and node B refuses them,
 * because B's MAC check uses B's secret and B's id. A node cannot derive another node's secret (HMAC is a
 * PRF keyed by the API's key, which never leaves the API).
 */
import { z } from 'zod';

export const TicketPayload = z
  .object({
    v: z.literal(1),
    /** Session id. */
    sid: z.string().min(1).max(128),
    /** The node the ticket is for. */
    nid: z.string().min(1).max(128),
    /** Expiry, epoch ms. */
    exp: z.number().int().positive(),
    /** Random, makes each ticket single-use. */
    n: z.string().min(16).max(64),
  })
  .strict();
export type TicketPayload = z.infer<typeof TicketPayload>;

/** Why a ticket was refused. */
export type TicketProblem = 'malformed' | 'bad-signature' | 'wrong-node' | 'expired' | 'reused';

const enc = new TextEncoder();

export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new RangeError('not base64url');
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Imported HMAC keys by their secret's array: the API signs and checks with a few long-lived secrets (the node
 * credential key, the upload-capability key) on every node request, and importing one costs as much as the MAC.
 * Keyed by the array itself (weakly), so a secret made for one call is never looked up, and never kept.
 */
const importedKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();

function hmacKey(secret: Uint8Array): Promise<CryptoKey> {
  let key = importedKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', secret as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    importedKeys.set(secret, key);
    // A failed import is not kept (the next call tries again).
    key.catch(() => importedKeys.delete(secret));
  }
  return key;
}

/** HMAC-SHA256 of `data` under `secret`. */
export async function hmacSha256(secret: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), data as BufferSource));
}

/** A node's ticket secret, derived from the API's ticket key (see the module comment). */
export async function deriveNodeTicketSecret(apiTicketKey: Uint8Array, nodeId: string): Promise<Uint8Array> {
  return hmacSha256(apiTicketKey, enc.encode(`tessera-node-ticket-v1:${nodeId}`));
}

/** Mint a ticket (the API side). */
export async function mintTicket(nodeSecret: Uint8Array, payload: Omit<TicketPayload, 'v' | 'n'>): Promise<string> {
  const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
  const body = toBase64Url(enc.encode(JSON.stringify({ v: 1, ...payload, n: nonce })));
  return `${body}.${toBase64Url(await hmacSha256(nodeSecret, enc.encode(body)))}`;
}

/**
 * Check a ticket's form, signature (under this node's secret), node and expiry; the caller checks reuse with
 * the nonce. Never throws.
 */
export async function checkTicket(ticket: string, nodeSecret: Uint8Array, nodeId: string, now: number): Promise<{ ok: true; payload: TicketPayload } | { ok: false; problem: TicketProblem }> {
  if (typeof ticket !== 'string' || ticket.length > 2048) return { ok: false, problem: 'malformed' };
  const [body, mac, extra] = ticket.split('.');
  if (!body || !mac || extra !== undefined) return { ok: false, problem: 'malformed' };
  let macBytes: Uint8Array;
  let payload: TicketPayload;
  try {
    macBytes = fromBase64Url(mac);
    const parsed = TicketPayload.safeParse(JSON.parse(new TextDecoder().decode(fromBase64Url(body))));
    if (!parsed.success) return { ok: false, problem: 'malformed' };
    payload = parsed.data;
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  // crypto.subtle.verify compares in constant time.
  const valid = await crypto.subtle.verify('HMAC', await hmacKey(nodeSecret), macBytes as BufferSource, enc.encode(body));
  if (!valid) return { ok: false, problem: 'bad-signature' };
  if (payload.nid !== nodeId) return { ok: false, problem: 'wrong-node' };
  if (payload.exp <= now) return { ok: false, problem: 'expired' };
  return { ok: true, payload };
}

/**
 * Remembers the nonces of accepted tickets until they expire, so each ticket is accepted once. Bounded: past
 * `max` remembered tickets, new ones are refused (as reused) rather than forgetting unexpired ones.
 */
export class TicketLedger {
  readonly #seen = new Map<string, number>();
  constructor(private readonly max = 100_000) {}

  /** Record the ticket's nonce; false when it was seen already (or the ledger is full). */
  use(payload: TicketPayload, now: number): boolean {
    if (this.#seen.size >= this.max / 2) for (const [n, exp] of this.#seen) if (exp <= now) this.#seen.delete(n);
    if (this.#seen.has(payload.n) || this.#seen.size >= this.max) return false;
    this.#seen.set(payload.n, payload.exp);
    return true;
  }
}
