const rowScratch = { buf: new Uint8Array(0) };

/** Reverse the row order of an RGBA8 image in place. */
export function flipRows(buf: Uint8Array, width: number, height: number): void {
  const stride = width * 4;
  if (rowScratch.buf.length < stride) rowScratch.buf = new Uint8Array(stride);
  const tmp = rowScratch.buf;
  for (let top = 0, bottom = height - 1; top < bottom; top++, bottom--) {
    const a = top * stride;
    const b = bottom * stride;
    tmp.set(buf.subarray(a, a + stride));
    buf.copyWithin(a, b, b + stride);
    buf.set(tmp.subarray(0, stride), b);
  }
}
