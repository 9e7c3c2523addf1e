/**
 * Red team: slow bodies (slowloris). Node's default lets a request take 300 s to arrive, so a client that sends a
 * scene upload's headers and then trickles its body a few bytes at a time held a connection (and the body buffered so
 * far) for five minutes, and a few hundred such clients held the API. The Node API now sets Node's requestTimeout and
 * headersTimeout (REQUEST_TIMEOUT_MS 120 s, HEADERS_TIMEOUT_MS 20 s; see start-api.ts for why) and checks them often
 * enough to matter: a request that has not fully arrived by then gets 408 and its connection closed. Here the
 * timeouts are cut to a fraction of a second; the trickling client keeps sending until the API hangs up.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApiConfig } from '../../api/node/api-config.ts';
import { triangleGlb } from '../hostile/glb-builder.ts';
import { call, startHarness, TEST_API_KEY, type Harness } from '../support/api-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ requestTimeoutMs: 600, headersTimeoutMs: 400 });
});
afterAll(async () => {
  await h?.close();
});

/** Send `head`, then one byte of body every 50 ms until the server closes the connection; what it answered. */
function trickle(head: string): Promise<{ answer: string; sentBytes: number }> {
  const { hostname, port } = new URL(h.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    let sentBytes = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        // A bound on the test, not a timing assertion: the API must hang up long before 400 bytes at 50 ms each.
        if (sentBytes >= 400) {
          clearInterval(timer);
          socket.destroy();
          reject(new Error(`still connected after ${sentBytes} trickled bytes`));
          return;
        }
        if (!socket.destroyed) socket.write('x', () => sentBytes++);
      }, 50);
    });
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {}); // a write racing the server's close: the close below reports it
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, sentBytes });
    });
  });
}

describe('a client that trickles its request', () => {
  it('a scene upload whose body trickles in is cut off with 408; the API still answers, and an honest upload succeeds', async () => {
    const host = new URL(h.url).host;
    const cut = await trickle(
      `POST /v1/scenes HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nContent-Type: model/gltf-binary\r\nContent-Length: 100000\r\n\r\n`,
    );
    expect(cut.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(cut.sentBytes).toBeLessThan(100000);
    expect((await call(h.url, 'GET', '/v1/health')).status).toBe(200);
    const honest = await call(h.url, 'POST', '/v1/scenes', { body: triangleGlb() as Uint8Array<ArrayBuffer>, type: 'model/gltf-binary' });
    expect(honest.status, JSON.stringify(honest.body)).toBe(201);
  });

  it('headers that trickle in are cut off too', async () => {
    const cut = await trickle(`POST /v1/scenes HTTP/1.1\r\nHost: x\r\nX-Slow: `);
    expect(cut.answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('an operator whose clients upload over slow links raises the timeout with TESSERA_REQUEST_TIMEOUT_MS', () => {
    expect(readApiConfig({ TESSERA_REQUEST_TIMEOUT_MS: '600000' }).requestTimeoutMs).toBe(600_000);
    expect(readApiConfig({}).requestTimeoutMs).toBeUndefined();
    expect(() => readApiConfig({ TESSERA_REQUEST_TIMEOUT_MS: '5' })).toThrow(/TESSERA_REQUEST_TIMEOUT_MS/);
  });
});
