/** One message of a `text/event-stream` (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export interface ServerSentEvent {
  /** The `event:` field; `message` when the server sent none. */
  event: string;
  /** The `data:` lines joined with newlines. */
  data: string;
  /** The last `id:` seen on the stream, or ''. */
  id: string;
  /** A `retry:` field, in ms, if this message carried one. */
  retry?: number;
}

/**
 * Parse a `text/event-stream` body into messages as they arrive. Works on any fetch body (Node, browsers,
 * workers): lines may end in CRLF, LF or CR and may be split anywhere across chunks; comments (`:`) and
 * messages without data are skipped, as EventSource does.
 */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id = '';
  let retry: number | undefined;
  // A CR at the end of a chunk may be the first half of a CRLF: keep it until the next chunk decides.
  const takeLine = (final: boolean): string | undefined => {
    const m = /\r\n|\n|\r/.exec(buffer);
    if (!m) return undefined;
    if (m[0] === '\r' && m.index === buffer.length - 1 && !final) return undefined;
    const line = buffer.slice(0, m.index);
    buffer = buffer.slice(m.index + m[0].length);
    return line;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (let line = takeLine(done); line !== undefined; line = takeLine(done)) {
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n'), id, ...(retry === undefined ? {} : { retry }) };
          event = '';
          data = [];
          retry = undefined;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id' && !value.includes('\0')) id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
      }
      // A message not ended by a blank line when the stream closes is dropped, as EventSource does.
      if (done) return;
    }
  } finally {
    // Stops the body download when the consumer breaks out early.
    await reader.cancel().catch(() => {});
  }
}
