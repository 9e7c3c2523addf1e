/**
 * TEST ONLY: a render node that misbehaves on purpose, so tests and the soak can prove the API catches it.
 * `TESSERA_TEST_FAULT=truncate` uploads the first half of every output, `corrupt` flips one byte in the
 * middle (same size: only the checksum tells); either way the node reports the size and sha256 of the
 * output it should have uploaded. Unset (always, outside tests), outputs go up untouched.
 * This is the one place the switch is read.
 */
const FAULT = process.env.TESSERA_TEST_FAULT;
if (FAULT !== undefined && FAULT !== '' && FAULT !== 'truncate' && FAULT !== 'corrupt') {
  throw new Error(`TESSERA_TEST_FAULT must be truncate or corrupt, not ${JSON.stringify(FAULT)}`);
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
