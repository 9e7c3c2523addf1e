/**
 * The zip-bomb defences inside workerd: the Worker's scene upload runs the same zip reader as Node, so a zip
 * whose deflated entries declare 1 byte but inflate to 64 MiB, and one whose central directory points many
 * entries at one stored entry, are refused with {code, message} (within the isolate's 128 MB), and the API
 * answers the next request as usual.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { deflateSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import worker from '../../api/edge/worker.ts';

const farmEnv = { ...env, FARM: `zip-bomb-${Date.now()}` };

async function upload(zip: Uint8Array): Promise<{ status: number; body: { code?: string; message?: string } }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request('https://api.example/v1/scenes', {
      method: 'POST',
      headers: { authorization: `Bearer ${env.TESSERA_API_KEY}`, 'content-type': 'application/zip' },
      body: zip,
    }) as Request<unknown, IncomingRequestCfProperties>,
    farmEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
}

/** Rewrite the declared unpacked size of every entry (local headers and central directory) to `size`. */
function declareSize(zip: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(zip);
  const view = new DataView(out.buffer);
  for (let i = 0; i + 4 <= out.length; i++) {
    const sig = view.getUint32(i, true);
    if (sig === 0x04034b50) view.setUint32(i + 22, size, true);
    if (sig === 0x02014b50) view.setUint32(i + 24, size, true);
  }
  return out;
}

describe('zip bombs in the Worker', () => {
  it('deflated entries declaring 1 byte that inflate to 64 MiB each → 422 SCENE_MALFORMED', async () => {
    const entries: Record<string, Uint8Array> = {};
    for (let i = 0; i < 2; i++) entries[`b${i}.bin`] = new Uint8Array(64 * 1024 * 1024);
    const zip = declareSize(zipSync(entries, { level: 9 }), 1);
    expect(zip.length).toBeLessThan(2 * 1024 * 1024);
    const { status, body } = await upload(zip);
    expect(status).toBe(422);
    expect(body.code).toBe('SCENE_MALFORMED');
    expect(body.message).toMatch(/more than the 1 bytes it declares/);
  });

  it('many directory entries pointing at one stored entry → refused; a plain honest zip gets past the zip reader', async () => {
    const blob = new Uint8Array(1024 * 1024).fill(7);
    const one = zipSync({ 'a.bin': blob }, { level: 0 });
    const view = new DataView(one.buffer);
    const eocd = one.length - 22;
    const cdStart = view.getUint32(eocd + 16, true);
    const cdEntry = one.subarray(cdStart, eocd);
    const copies = 200;
    const out = new Uint8Array(cdStart + cdEntry.length * copies + 22);
    out.set(one.subarray(0, cdStart));
    for (let i = 0; i < copies; i++) out.set(cdEntry, cdStart + i * cdEntry.length);
    out.set(one.subarray(eocd), cdStart + cdEntry.length * copies);
    const ov = new DataView(out.buffer);
    const end = out.length - 22;
    ov.setUint16(end + 8, copies, true);
    ov.setUint16(end + 10, copies, true);
    ov.setUint32(end + 12, cdEntry.length * copies, true);
    const { status, body } = await upload(out);
    expect(status).toBe(422);
    expect(body.message).toMatch(/overlap|twice/);

    // An honest zip with no scene in it passes the zip reader and is refused for what it holds, not as a bomb.
    const honest = await upload(zipSync({ 'notes.txt': new TextEncoder().encode('hello') }));
    expect(honest.status).toBe(422);
    expect(honest.body.message).toMatch(/no \.gltf file/);
  });
});
