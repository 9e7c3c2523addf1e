/**
 * The body of `res`, counted as it arrives rather than trusted from its content-length: a declared length past `max`
 * is refused unread, and a body that runs past `max` anyway (no length given, or a lying one) is cancelled there.
 * Null when the body is larger than `max`; an empty array when there is none.
 */
export async function readAtMost(res: Response, max: number): Promise<Uint8Array | null> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max || !res.body) {
    await res.body?.cancel().catch(() => {});
    return declared > max ? null : new Uint8Array(0);
  }
  return readStreamAtMost(res.body, max);
}

/** A byte stream read to its end, counted as it arrives: cancelled and null once it runs past `max` bytes. */
export async function readStreamAtMost(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
