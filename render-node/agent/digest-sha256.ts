/** Lower-case hex sha256 with WebCrypto (browsers in a secure context, Node, Workers). */
export async function digestSha256(bytes: Uint8Array): Promise<string> {
  if (!globalThis.crypto?.subtle) throw new Error('WebCrypto is unavailable (a browser gives it only to https pages and localhost)');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
