import { describe, expect, it } from 'vitest';
import { readServerSentEvents, type ServerSentEvent } from '../../api/client/read-server-sent-events.ts';

/** A body that delivers `text` in the given chunk sizes (bytes), as a network would. */
function body(text: string, sizes: number[]): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const n = sizes[i++ % sizes.length];
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<ServerSentEvent[]> {
  const out: ServerSentEvent[] = [];
  for await (const e of readServerSentEvents(stream)) out.push(e);
  return out;
}

const STREAM =
  ': keep-alive\n\n' +
  'event: progress\r\ndata: {"a":1}\r\n\r\n' +
  'id: 7\rdata: line one\rdata:line two\r\r' +
  'event: end\ndata: {"é":"ü"}\nretry: 3000\n\n' +
  'event: ignored-without-data\n\n' +
  'data: unterminated';

const EXPECTED: ServerSentEvent[] = [
  { event: 'progress', data: '{"a":1}', id: '' },
  { event: 'message', data: 'line one\nline two', id: '7' },
  { event: 'end', data: '{"é":"ü"}', id: '7', retry: 3000 },
];

describe('readServerSentEvents', () => {
  it('parses LF, CRLF and CR line ends, comments, ids, multi-line data and retry', async () => {
    expect(await collect(body(STREAM, [1_000_000]))).toEqual(EXPECTED);
  });

  it.each([[[1]], [[2, 3]], [[5, 1, 7]], [[13]]])('gives the same messages whatever the chunking (%j bytes)', async (sizes) => {
    // One-byte chunks split CRLF pairs and multi-byte UTF-8 characters.
    expect(await collect(body(STREAM, sizes))).toEqual(EXPECTED);
  });

  it('cancels the body when the consumer stops early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('data: 1\n\ndata: 2\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const e of readServerSentEvents(stream)) {
      expect(e.data).toBe('1');
      break;
    }
    expect(cancelled).toBe(true);
  });
});
