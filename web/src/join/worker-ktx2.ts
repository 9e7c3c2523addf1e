/**
 * The /join tab's KTX2 transcoder: each texture goes to the Basis worker (basis-worker.ts, started on the first
 * KTX2 texture) and comes back as RGBA8 level 0. A worker that dies (a trap, out of memory) fails the textures it
 * held and is started afresh for the next one.
 */
import type { TranscodedImage, TranscodeOptions } from '../../../render-node/scene/ktx2-transcoder.ts';

export interface Ktx2Request {
  id: number;
  bytes: Uint8Array;
  maxPixels: number;
}
export type Ktx2Reply = { id: number; ok: true; image: TranscodedImage } | { id: number; ok: false; message: string };

type Pending = { resolve(image: TranscodedImage): void; reject(err: Error): void };

/** A transcoder over a Basis worker of its own (created lazily). */
export function createWorkerKtx2Transcoder(): (bytes: Uint8Array, options: TranscodeOptions) => Promise<TranscodedImage> {
  let worker: Worker | null = null;
  let next = 1;
  const pending = new Map<number, Pending>();
  const fail = (why: string) => {
    worker?.terminate();
    worker = null;
    for (const p of pending.values()) p.reject(new Error(`the KTX2 transcoding worker stopped: ${why}`));
    pending.clear();
  };
  const start = (): Worker => {
    const w = new Worker(new URL('./basis-worker.ts', import.meta.url));
    w.onmessage = (e: MessageEvent<Ktx2Reply>) => {
      const p = pending.get(e.data.id);
      if (!p) return;
      pending.delete(e.data.id);
      if (e.data.ok) p.resolve(e.data.image);
      else p.reject(new Error(e.data.message));
    };
    w.onerror = (e) => {
      e.preventDefault();
      fail(e.message || 'error');
    };
    w.onmessageerror = () => fail('a message could not be read');
    return w;
  };
  return (bytes, options) =>
    new Promise<TranscodedImage>((resolve, reject) => {
      worker ??= start();
      const id = next++;
      pending.set(id, { resolve, reject });
      // A copy of the texture's bytes (they are a view into the scene's GLB), handed over without another copy.
      const copy = bytes.slice();
      const request: Ktx2Request = { id, bytes: copy, maxPixels: options.maxPixels };
      worker.postMessage(request, [copy.buffer]);
    });
}
