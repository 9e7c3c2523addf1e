/**
 * Bytes ↔ standard base64 (padded), for outputs that travel inside a JSON completion (TaskComplete.inline).
 * Runtime-free: Node's and Workers' (nodejs_compat) Buffer when there is one (native, fast), else atob/btoa
 * (browsers).
 */

interface BufferLike {
  from(data: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: 'base64'): string };
  from(data: string, encoding: 'base64'): Uint8Array;
}
const NativeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Padded standard base64 of `bytes`. */
export function bytesToBase64(bytes: Uint8Array): string {
  // A view of the same memory (no copy).
  if (NativeBuffer) return NativeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  // Chunks keep String.fromCharCode's argument list short.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The bytes of padded standard base64 `text`; RangeError when it is not that. */
export function base64ToBytes(text: string): Uint8Array {
  const bad = () => new RangeError('not padded standard base64');
  if (text.length % 4 !== 0) throw bad();
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const expected = (text.length / 4) * 3 - padding;
  if (NativeBuffer) {
    // Buffer skips characters that are not base64 rather than refusing them: a decoded length short of what the
    // text's length promises is how such a text shows (a scan of every character here would cost as much as decoding).
    const b = NativeBuffer.from(text, 'base64');
    if (b.byteLength !== expected || /[^A-Za-z0-9+/=]/.test(text.slice(-4))) throw bad();
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw bad();
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
