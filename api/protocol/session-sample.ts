/**
 * Session frame verification: a node signs every frame it streams, a client reports some frames it received
 * (a sample) to the API, and the API has other nodes render the same pose as a batch task and compares.
 *
 * The signature (`mac` in the frame header) is HMAC-SHA256 under a key derived from the node's ticket secret
 * (`frameMacKey`: HMAC(secret, "tessera-frame-mac-v1"), so a frame MAC can never be read as a ticket MAC). Only the
 * node and the API can make it; the client cannot. It binds the session, the pose's sequence number and eyes, the
 * image's size and format and the image bytes' SHA-256, so a client cannot report a frame the node did not send,
 * nor pin a real frame on another pose. A sample whose MAC does not check out blames nobody (the client may have
 * forged it): it is refused, and the SDK moves to another node.
 *
 * Every field here comes from a client and is bounded.
 */
import { z } from 'zod';
import { EyePose, MAX_EYE_EDGE, SessionFormat } from './session.ts';

/** Largest sample image a client may report (a 2×2048² JPEG at high quality stays well below). */
export const MAX_SAMPLE_IMAGE_BYTES = 4 * 1024 * 1024;
/** Most samples one session may report (each costs the farm two reference renders at most). */
export const MAX_SAMPLES_PER_SESSION = 8;
/** Frame MAC length in base64url characters (32 bytes). */
export const FRAME_MAC_CHARS = 43;

const enc = new TextEncoder();

/** The bytes a frame's MAC covers. `eyes` as they travel (JSON numbers round-trip exactly). */
export function frameMacMessage(f: { sessionId: string; seq: number; eyes: readonly EyePose[]; width: number; height: number; format: SessionFormat; imageSha256: string }): Uint8Array {
  return enc.encode(['tessera-frame-v1', f.sessionId, String(f.seq), JSON.stringify(f.eyes.map((e) => ({ view: e.view, projection: e.projection }))), String(f.width), String(f.height), f.format, f.imageSha256].join('\n'));
}

/** What the frame MAC key is derived with from the node's ticket secret. */
export const FRAME_MAC_PURPOSE = 'tessera-frame-mac-v1';

/** `POST /v1/sessions/:id/samples`: one received frame, as the node sent it. */
export const SessionSampleRequest = z
  .object({
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    eyes: z.array(EyePose).min(1).max(2),
    width: z.number().int().min(16).max(2 * MAX_EYE_EDGE),
    height: z.number().int().min(16).max(MAX_EYE_EDGE),
    format: SessionFormat,
    /** The frame's image bytes, base64. */
    image: z.string().min(1).max(Math.ceil(MAX_SAMPLE_IMAGE_BYTES / 3) * 4),
    /** The frame header's `mac`. */
    mac: z.string().length(FRAME_MAC_CHARS).regex(/^[A-Za-z0-9_-]+$/),
  })
  .strict();
export type SessionSampleRequest = z.infer<typeof SessionSampleRequest>;

/**
 * A sample's state: `checking` (the first other node renders the pose), `second-opinion` (the first disagreed: a
 * third node renders it), `agreed` (the frame matches), `disproven` (two other nodes agree with each other and not
 * with the frame: the node is outvoted, its session uncredited and closed), `inconclusive` (no other node could
 * render it, or the references disagree with each other: nobody is blamed).
 */
export const SessionSampleState = z.enum(['checking', 'second-opinion', 'agreed', 'disproven', 'inconclusive']);
export type SessionSampleState = z.infer<typeof SessionSampleState>;

export const SessionSampleView = z.object({
  sampleId: z.string(),
  sessionId: z.string(),
  nodeId: z.string(),
  seq: z.number(),
  state: SessionSampleState,
  /** The reference jobs (one per other node asked), in order. */
  referenceJobs: z.array(z.string()),
  /** Nodes that rendered the references. */
  referenceNodes: z.array(z.string()),
  /** Share of (downscaled) pixels that differ between the frame's left eye and each reference, in order. */
  diffs: z.array(z.number()),
  reason: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type SessionSampleView = z.infer<typeof SessionSampleView>;

/** Whether a sample's verdict is final. */
export function sampleSettled(state: SessionSampleState): boolean {
  return state === 'agreed' || state === 'disproven' || state === 'inconclusive';
}
