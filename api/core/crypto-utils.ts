/** Hashes and random identifiers with Web Crypto, which Node 20 and Workers both provide as `crypto`. */

/** sha256 of `data`, as lowercase hex. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  // digest() wants an ArrayBuffer-backed view; a Node Buffer may sit on a SharedArrayBuffer pool.
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return toHex(new Uint8Array(digest));
}

function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** A random id with a readable prefix, e.g. `job_3f9c…` (128 random bits). */
export function randomId(prefix: string): string {
  return `${prefix}_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
}

/** A bearer token (256 random bits); only its sha256 is stored. */
export function randomToken(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}
