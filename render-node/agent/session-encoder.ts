/**
 * A session render process's encoder thread (worker_threads). The process's main thread draws a frame, hands its
 * pixels here (transferred, not copied) and goes on to draw the next pose at once; this thread encodes the frame
 * (JPEG with libjpeg-turbo or WebP; the depth PNG) and writes it straight to the node on the process's frame pipe
 * (fd 4, frame-records.ts), so a frame leaves while the main thread, blocked in GL, still draws the next. Frames are
 * encoded one at a time, in the order they came (the node sends them in that order). The pixel buffers go back to
 * the main thread for reuse.
 */
import { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import type { SessionRender } from '../../api/protocol/session.ts';
import { encodeDepthPng } from '../output/encode-image.ts';
import { encodeRecord } from './frame-records.ts';

/** Main thread → encoder: one rendered frame (straight-alpha RGBA rows top-down; depth RGBA8 or null). */
export interface EncodeRequest {
  id: number;
  data: Uint8Array;
  depth: Uint8Array | null;
  width: number;
  height: number;
  render: Pick<SessionRender, 'format' | 'quality'>;
}

/**
 * Main thread → encoder: a frame encoded already (by the Chromium page, in the session's format; depth as an RGBA PNG),
 * to go out on the frame pipe in its turn, after the frames before it.
 */
export interface EncodedFrame {
  id: number;
  encoded: { image: Uint8Array; depth: Uint8Array | null; encodeMs: number };
}

/** Encoder → main thread: a pixel buffer to reuse. */
export interface EncoderReturn {
  type: 'buffer';
  buffer: ArrayBuffer;
}

/** The frame pipe's record header for one frame (parts: image, then the depth image when there is one). */
export interface FrameRecordHeader {
  id: number;
  ok: boolean;
  encodeMs: number;
  message?: string;
}

/** Encode straight-alpha RGBA as the session's format. */
export async function encodeSessionImage(data: Uint8Array, width: number, height: number, r: Pick<SessionRender, 'format' | 'quality'>): Promise<Buffer> {
  const img = sharp(data, { raw: { width, height, channels: 4 } }).removeAlpha();
  return r.format === 'webp' ? img.webp({ quality: r.quality, effort: 0 }).toBuffer() : img.jpeg({ quality: r.quality, mozjpeg: false, chromaSubsampling: '4:2:0' }).toBuffer();
}

if (parentPort) {
  const port = parentPort;
  const pipe = new Socket({ fd: (workerData as { fd: number }).fd, readable: false, writable: true });
  // The node went away: the process is ending anyway.
  pipe.on('error', () => {});
  let queue = Promise.resolve();
  port.on('message', (m: EncodeRequest | EncodedFrame) => {
    if ('encoded' in m) {
      const { image, depth, encodeMs } = m.encoded;
      const header: FrameRecordHeader = { id: m.id, ok: true, encodeMs };
      queue = queue.then(() => void pipe.write(encodeRecord(header, depth ? [image, depth] : [image])));
      return;
    }
    queue = queue.then(async () => {
      const t0 = performance.now();
      let record: Buffer;
      try {
        const [image, depth] = await Promise.all([encodeSessionImage(m.data, m.width, m.height, m.render), m.depth ? encodeDepthPng(m.depth, m.width, m.height) : null]);
        const header: FrameRecordHeader = { id: m.id, ok: true, encodeMs: performance.now() - t0 };
        record = encodeRecord(header, depth ? [image, depth] : [image]);
      } catch (err) {
        const header: FrameRecordHeader = { id: m.id, ok: false, encodeMs: performance.now() - t0, message: (err as Error)?.message ?? String(err) };
        record = encodeRecord(header, []);
      }
      pipe.write(record);
      const back: EncoderReturn = { type: 'buffer', buffer: m.data.buffer as ArrayBuffer };
      port.postMessage(back, [m.data.buffer as ArrayBuffer]);
    });
  });
}
