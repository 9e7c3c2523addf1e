/**
 * `tessera render --api` saves a frame from its event's `inline` bytes only when those bytes have the sha256 the event
 * announces: a stream that carries other bytes (a proxy, a bug) gets the frame downloaded from its URL instead.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderOnFarm } from '../../infra/cli/render-on-farm.ts';
import { call, fakePng, sha256, startHarness, TEST_API_KEY, TestNode, type Harness } from '../support/api-harness.ts';

let h: Harness;
let proxy: Server;
let proxyUrl: string;
/** Frame events the proxy passed on, and how many it tampered with. */
const seen = { frames: 0, tampered: 0 };

beforeAll(async () => {
  h = await startHarness();
  // Passes everything to the API; in event streams it swaps each frame's `inline` bytes for other (valid base64) bytes.
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'connection') as [string, string][]);
    const upstream = await fetch(h.url + req.url, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    const type = upstream.headers.get('content-type') ?? '';
    const back: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) back[k] = v;
    });
    res.writeHead(upstream.status, back);
    if (!upstream.body) return res.end();
    if (!type.includes('text/event-stream')) return res.end(Buffer.from(await upstream.arrayBuffer()));
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      // Whole events only (they end with a blank line), so a frame event is rewritten in one piece.
      const end = pending.lastIndexOf('\n\n');
      if (end < 0) continue;
      let events = pending.slice(0, end + 2);
      pending = pending.slice(end + 2);
      events = events.replace(/"inline":"[^"]*"/g, () => {
        seen.tampered++;
        return `"inline":"${Buffer.from('not the frame').toString('base64')}"`;
      });
      seen.frames += (events.match(/^event: frame$/gm) ?? []).length;
      res.write(events);
    }
    res.end(pending);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await h?.close();
});

describe("a frame event's inline bytes", () => {
  it('is written only when it has the announced sha256; other bytes are ignored and the frame is downloaded', async () => {
    const png = fakePng('the real frame');
    const node = await TestNode.register(h, 'inline-node');
    // The node completes the job's one task inline, so the API holds the frame and its event carries it.
    const working = (async () => {
      for (;;) {
        const task = await node.lease(5);
        if (!task) continue;
        const done = await call(h.url, 'POST', `/v1/tasks/${task.taskId}/complete`, {
          json: { leaseId: task.leaseId, bytes: png.length, checksum: sha256(png), inline: Buffer.from(png).toString('base64'), timings: { render: 1 } },
          token: node.reg.nodeToken,
        });
        expect(done.status, JSON.stringify(done.body)).toBe(200);
        return;
      }
    })();
    const out = mkdtempSync(join(tmpdir(), 'tessera-event-data-'));
    const summary = await renderOnFarm({ api: proxyUrl, apiKey: TEST_API_KEY, probe: false, scene: 'scenes/animated-trs.glb', request: { frames: '0', size: { width: 16, height: 16 }, format: 'png' }, outDir: out });
    await working;
    expect(seen.tampered).toBeGreaterThanOrEqual(1);
    expect(summary.files).toHaveLength(1);
    expect(new Uint8Array(readFileSync(summary.files[0]))).toEqual(png);
  });
});
