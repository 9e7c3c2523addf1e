/**
 * The API's side of session tickets (scheme: `api/protocol/session-ticket.ts`): one random ticket key per
 * farm, kept in the store's meta table (or given as an option, e.g. a Workers secret) so every API process
 * and every restart derives the same per-node secrets; a node's secret is handed to it when it registers.
 */
import { deriveNodeTicketSecret, fromBase64Url, hmacSha256, mintTicket, toBase64Url } from '../protocol/session-ticket.ts';
import type { JobStore } from './job-store.ts';

/** Where the ticket key is kept. */
export const TICKET_KEY_META = 'sessions.ticket-key';

export class SessionTickets {
  readonly #jobs: JobStore;
  readonly #configured: string | undefined;
  #key: Promise<Uint8Array> | undefined;
  readonly #secrets = new Map<string, Promise<Uint8Array>>();
  readonly #derived = new Map<string, Promise<Uint8Array>>();

  /** `configuredKey`: base64url of at least 32 bytes; absent, one is made and stored on first use. */
  constructor(jobs: JobStore, configuredKey?: string) {
    this.#jobs = jobs;
    this.#configured = configuredKey;
  }

  #apiKey(): Promise<Uint8Array> {
    this.#key ??= this.#loadKey().catch((err: unknown) => {
      this.#key = undefined;
      throw new Error('could not load the session ticket key', { cause: err });
    });
    return this.#key;
  }

  async #loadKey(): Promise<Uint8Array> {
    if (this.#configured) {
      const key = fromBase64Url(this.#configured);
      if (key.length < 32) throw new RangeError('the session ticket key must be at least 32 bytes (base64url)');
      return key;
    }
    const stored = await this.#jobs.getMeta(TICKET_KEY_META);
    if (stored) return fromBase64Url(stored);
    await this.#jobs.setMeta(TICKET_KEY_META, toBase64Url(crypto.getRandomValues(new Uint8Array(32))));
    // Read back: when two API processes raced to make one, both use whichever was stored last.
    return fromBase64Url((await this.#jobs.getMeta(TICKET_KEY_META))!);
  }

  /** The node's ticket secret. */
  nodeSecret(nodeId: string): Promise<Uint8Array> {
    let s = this.#secrets.get(nodeId);
    if (!s) {
      s = this.#apiKey().then((key) => deriveNodeTicketSecret(key, nodeId));
      if (this.#secrets.size > 10_000) this.#secrets.clear();
      this.#secrets.set(nodeId, s);
      s.catch(() => this.#secrets.delete(nodeId));
    }
    return s;
  }

  /** A key for `purpose` derived from the farm's ticket key (the same in every API process and after restarts). */
  derivedKey(purpose: string): Promise<Uint8Array> {
    let k = this.#derived.get(purpose);
    if (!k) {
      k = this.#apiKey().then((key) => hmacSha256(key, new TextEncoder().encode(`tessera ${purpose}`)));
      this.#derived.set(purpose, k);
      k.catch(() => this.#derived.delete(purpose));
    }
    return k;
  }

  /** The node's secret as handed to it at registration. */
  async nodeSecretText(nodeId: string): Promise<string> {
    return toBase64Url(await this.nodeSecret(nodeId));
  }

  /** A single-use ticket for `sessionId` on `nodeId`, valid until `expiresAt`. */
  async mint(sessionId: string, nodeId: string, expiresAt: number): Promise<string> {
    return mintTicket(await this.nodeSecret(nodeId), { sid: sessionId, nid: nodeId, exp: expiresAt });
  }
}
