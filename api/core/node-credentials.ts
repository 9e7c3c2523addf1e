/**
 * Signed node tokens: what `POST /v1/nodes` hands a node is `tn1.<nodeId>.<expiry>.<nonce>.<mac>`, the MAC an
 * HMAC-SHA256 under the farm's credential key, so an API process (a Worker in any location) knows whose token it is
 * and that it is unexpired without asking the store: a forged, altered (another node's id under its MAC) or expired
 * token is refused (401) before any store call (on Workers, before any Durable Object request). The store still
 * keeps only the token's sha256 and every node call checks it there, in the call that does the work, so what the
 * store decides (a node blocklisted, a token not the route's node's, an unknown node: 404) holds whatever the
 * signature says.

 *
 * The key: `nodeCredentials.key` (base64url of ≥ 32 bytes; a Workers secret), else one made on first use and kept in
 * the store's meta table, so every API process and restart shares it. An expired token gets 401 like an unknown
 * one, and the render node registers again (a new identity, on probation): `ttlMs` defaults to a year.
 */
import { fromBase64Url, hmacSha256, toBase64Url } from '../protocol/session-ticket.ts';
import { TesseraError } from '../protocol/errors.ts';
import type { JobStore } from './job-store.ts';

export interface NodeCredentialOptions {
  /** How long a node token stays valid after registration. */
  ttlMs: number;
  /** base64url of ≥ 32 random bytes: the farm's credential key (e.g. a Workers secret); absent, one is made and kept in the store. */
  key?: string;
  /**
   * Accept tokens of the earlier unsigned form (64 hex characters), checked by the store alone: nodes registered
   * before signed tokens keep working. Off, they get 401 and register again.
   */
  acceptUnsigned: boolean;
}

export const NODE_CREDENTIAL_DEFAULTS: NodeCredentialOptions = { ttlMs: 365 * 24 * 3600 * 1000, acceptUnsigned: true };

/** Where the generated key is kept. */
export const CREDENTIAL_KEY_META = 'nodes.credential-key';

const PREFIX = 'tn1';
const enc = new TextEncoder();
/** A signed token: prefix, node id (no dots), expiry (epoch ms, base 36), nonce, MAC (32 bytes, base64url). */
const SIGNED = /^tn1\.([A-Za-z0-9_-]{1,128})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;
const UNSIGNED = /^[0-9a-f]{64}$/;

/** Constant-time comparison of two MACs. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export class NodeCredentials {
  readonly #jobs: JobStore;
  readonly #options: NodeCredentialOptions;
  #key: Promise<Uint8Array> | undefined;

  constructor(jobs: JobStore, options: NodeCredentialOptions) {
    this.#jobs = jobs;
    this.#options = options;
  }

  #macKey(): Promise<Uint8Array> {
    this.#key ??= this.#loadKey()
      // The MAC key proper, apart from the stored key (which may serve other derivations later).
      .then((key) => hmacSha256(key, enc.encode('tessera-node-credential-v1')))
      .catch((err: unknown) => {
        this.#key = undefined;
        throw new Error('could not load the node credential key', { cause: err });
      });
    return this.#key;
  }

  async #loadKey(): Promise<Uint8Array> {
    if (this.#options.key) {
      const key = fromBase64Url(this.#options.key);
      if (key.length < 32) throw new RangeError('the node credential key must be at least 32 bytes (base64url)');
      return key;
    }
    // Insert-if-absent: API processes racing to make the first key all keep the one stored first.
    return fromBase64Url(await this.#jobs.initMeta(CREDENTIAL_KEY_META, toBase64Url(crypto.getRandomValues(new Uint8Array(32)))));
  }

  /** A new token for `nodeId`, valid `ttlMs` from `now`. */
  async issue(nodeId: string, now: number): Promise<string> {
    if (nodeId.includes('.')) throw new RangeError(`a node id with a dot cannot be signed: ${nodeId}`);
    const body = `${PREFIX}.${nodeId}.${Math.floor(now + this.#options.ttlMs).toString(36)}.${toBase64Url(crypto.getRandomValues(new Uint8Array(12)))}`;
    return `${body}.${toBase64Url(await hmacSha256(await this.#macKey(), enc.encode(body)))}`;
  }

  /**
   * Whose token this is, checked without the store: the node id of a signed token whose MAC and expiry check out;
   * null for an unsigned token while those are accepted (the store alone checks it). Throws UNAUTHORIZED otherwise.
   */
  async check(token: string, now: number): Promise<{ nodeId: string; expiresAt: number } | null> {
    const m = SIGNED.exec(token);
    if (!m) {
      if (this.#options.acceptUnsigned && UNSIGNED.test(token)) return null;
      throw new TesseraError('UNAUTHORIZED', 'The node token is not valid; register again.');
    }
    const [, nodeId, exp, , mac] = m;
    const body = token.slice(0, token.lastIndexOf('.'));
    const expected = await hmacSha256(await this.#macKey(), enc.encode(body));
    if (!sameBytes(expected, fromBase64Url(mac))) throw new TesseraError('UNAUTHORIZED', 'The node token is not valid; register again.');
    const expiresAt = parseInt(exp, 36);
    if (!(expiresAt > now)) throw new TesseraError('UNAUTHORIZED', `The node token expired at ${new Date(expiresAt).toISOString()}; register again.`);
    return { nodeId, expiresAt };
  }
}
