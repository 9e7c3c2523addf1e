/** sha256 with Web Crypto, which Node 20, browsers and Workers all provide: shared by the API and the SDK. */

/** sha256 of `data`, as lowercase hex. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  // digest() wants an ArrayBuffer-backed view; a Node Buffer may sit on a SharedArrayBuffer pool.
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return toHex(new Uint8Array(digest));
}

/** Bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
