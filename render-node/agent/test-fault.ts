/**
 * TEST ONLY: a render node that misbehaves on purpose, so tests and the soak can prove the API catches it.
 * `TESSERA_TEST_FAULT=truncate` uploads the first half of every output, `corrupt` flips one byte in the
 * middle (same size: only the checksum tells); either way the node reports the size and sha256 of the
 * output it should have uploaded. `lie` tints every render before it is encoded: wrong pixels with a
 * matching checksum, which only verification by re-issue (another node rendering the same tile) catches.
 * Unset (always, outside tests), outputs go up untouched. This is the one place the switch is read.
 */
const FAULT = process.env.TESSERA_TEST_FAULT;
if (FAULT !== undefined && FAULT !== '' && FAULT !== 'truncate' && FAULT !== 'corrupt' && FAULT !== 'lie') {
  throw new Error(`TESSERA_TEST_FAULT must be truncate, corrupt or lie, not ${JSON.stringify(FAULT)}`);
}

/** The pixels this node encodes for a render: the same, unless it lies (a red tint over every pixel). */
export function pixelsToEncode<T extends { data: Uint8Array }>(image: T): T {
  if (FAULT !== 'lie') return image;
  const data = Uint8Array.from(image.data);
  for (let p = 0; p < data.length; p += 4) data[p] = Math.min(255, data[p] + 80);
  return { ...image, data };
}

/** The bytes this node actually uploads for `bytes`: the same, unless a test fault is switched on. */
export function bytesToUpload(bytes: Uint8Array): Uint8Array {
  if (FAULT === 'truncate') return bytes.subarray(0, Math.floor(bytes.length / 2));
  if (FAULT === 'corrupt') {
    const out = Uint8Array.from(bytes); // a copy: Buffer#slice would share (and so corrupt) the original
    out[out.length >> 1] ^= 0xff;
    return out;
  }
  return bytes;
}
