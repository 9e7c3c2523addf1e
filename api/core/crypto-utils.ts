/** Hashes and random identifiers with Web Crypto, which Node 20 and Workers both provide as `crypto`. */
import { toHex } from '../protocol/sha256-hex.ts';

export { sha256Hex } from '../protocol/sha256-hex.ts';

/** A random id with a readable prefix, e.g. `job_3f9c…` (128 random bits). */
export function randomId(prefix: string): string {
  return `${prefix}_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
}

/** A bearer token (256 random bits); only its sha256 is stored. */
export function randomToken(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** A task's opaque token (64 random bits): in its id and output key, so nothing about them tells a verifying render apart. */
export function taskToken(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(8)));
}
