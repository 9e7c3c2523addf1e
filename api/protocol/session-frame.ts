/**
 * The binary frame message (node → client), isomorphic (Node, browsers, Workers):
 *
 *   [u32 big-endian: header length N][N bytes: UTF-8 JSON FrameHeader][image bytes][depth bytes]
 *
 * The header says which pose the frame answers (seq, sentAt and the eyes' matrices, so a headset can
 * reproject it), where the time went, the layout (two eyes side by side in one image) and the byte lengths
 * of the image and of the optional depth image (linear millimetres, packed into R (high byte) and G (low
 * byte) of a lossless PNG: browsers truncate 16-bit PNGs to 8 bits).
 */
import { z } from 'zod';
import { EyePose, SESSION_PROTOCOL, SessionFormat } from './session.ts';

/** Largest header a decoder accepts. */
export const MAX_FRAME_HEADER_BYTES = 64 * 1024;

export const FrameHeader = z.object({
  v: z.number().int(),
  /** The pose this frame answers. */
  seq: z.number().int().min(0),
  /** The pose's sentAt (client clock), echoed. */
  sentAt: z.number(),
  eyes: z.array(EyePose).min(1).max(2),
  /**
   * Where the node's time went (ms): waiting for the render process (`queueMs`: pose received → sent to it), `renderMs`
   * (draw + readback), `encodeMs`, `ipcMs` (the round trip to the render process less its own work: both IPC hops and
   * its event loop). `nodeInAt`/`nodeOutAt`: pose received and frame handed to the socket, as epoch ms with sub-ms
   * resolution (performance.timeOrigin + performance.now()): comparable with a client's clock on the same host only.
   */
  timings: z.object({
    queueMs: z.number(),
    renderMs: z.number(),
    encodeMs: z.number(),
    ipcMs: z.number().optional(),
    nodeInAt: z.number().optional(),
    nodeOutAt: z.number().optional(),
  }),
  layout: z.literal('side-by-side'),
  /** The whole image: eyes × eye width, by eye height. */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  format: SessionFormat,
  imageBytes: z.number().int().min(0),
  /** Depth image: `rg8-mm` PNG of the same size, or absent. */
  depth: z.object({ encoding: z.literal('rg8-mm-png'), bytes: z.number().int().min(0) }).nullable(),
  /** Poses dropped on the node since the previous frame (a newer one arrived). */
  dropped: z.number().int().min(0),
  /**
   * The node's signature over this frame (session-sample.ts `frameMacMessage`): HMAC-SHA256 under a key only the node
   * and the API hold, base64url. A client reports sampled frames with it; absent from nodes that predate it.
   */
  mac: z.string().max(64).optional(),
});
export type FrameHeader = z.infer<typeof FrameHeader>;

export interface DecodedFrame {
  header: FrameHeader;
  image: Uint8Array;
  depth: Uint8Array | null;
}

/** One binary message from a header and its image (and depth) bytes; the byte lengths are filled in. */
export function encodeFrame(header: Omit<FrameHeader, 'imageBytes' | 'depth' | 'v'> & { depthEncoding?: 'rg8-mm-png' }, image: Uint8Array, depth?: Uint8Array): Uint8Array {
  const { depthEncoding, ...rest } = header;
  const full: FrameHeader = { v: SESSION_PROTOCOL, ...rest, imageBytes: image.length, depth: depth ? { encoding: depthEncoding ?? 'rg8-mm-png', bytes: depth.length } : null };
  const json = new TextEncoder().encode(JSON.stringify(full));
  const out = new Uint8Array(4 + json.length + image.length + (depth?.length ?? 0));
  new DataView(out.buffer).setUint32(0, json.length, false);
  out.set(json, 4);
  out.set(image, 4 + json.length);
  if (depth) out.set(depth, 4 + json.length + image.length);
  return out;
}

/** Split a binary frame message; throws RangeError when it is malformed (lengths that do not add up, bad header). */
export function decodeFrame(message: ArrayBuffer | Uint8Array): DecodedFrame {
  const bytes = message instanceof Uint8Array ? message : new Uint8Array(message);
  if (bytes.length < 4) throw new RangeError('frame message shorter than its length prefix');
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  if (n > MAX_FRAME_HEADER_BYTES || 4 + n > bytes.length) throw new RangeError(`frame header length ${n} does not fit the ${bytes.length}-byte message`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n)));
  } catch (cause) {
    throw new RangeError('frame header is not JSON', { cause });
  }
  const parsed = FrameHeader.safeParse(json);
  if (!parsed.success) throw new RangeError(`frame header is invalid: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
  const header = parsed.data;
  if (header.v !== SESSION_PROTOCOL) throw new RangeError(`frame protocol ${header.v}; this client speaks ${SESSION_PROTOCOL}`);
  const depthBytes = header.depth?.bytes ?? 0;
  if (4 + n + header.imageBytes + depthBytes !== bytes.length) throw new RangeError('frame byte lengths do not add up to the message size');
  const image = bytes.subarray(4 + n, 4 + n + header.imageBytes);
  const depth = header.depth ? bytes.subarray(4 + n + header.imageBytes) : null;
  return { header, image, depth };
}
