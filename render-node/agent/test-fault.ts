/**
 * TEST ONLY: a render node that misbehaves on purpose, so tests and the soak can prove the API catches it.
 * `TESSERA_TEST_FAULT=truncate` uploads the first half of every output, `corrupt` flips one byte in the
 * middle (same size: only the checksum tells); either way the node reports the size and sha256 of the
 * output it should have uploaded (and storage, checking the PUT against them, refuses the body). `lie` tints every render before it is encoded: wrong pixels with a
 * matching checksum, which only verification by re-issue (another node rendering the same tile) catches.
 * `doctor-stitch` renders honestly but alters one tile's region of every frame it stitches (a red tint over the
 * first tile), again with a matching checksum: only verifying stitches catches it. `inflate-card` renders
 * honestly but claims the fastest speed a card may (its lie is the claim, which routing must not believe).
 * `claim-webgl2` renders on its real backends but its card says every one has WebGL 2: it is given transmission
 * scenes and returns them opaque, which only verification (another WebGL 2 node's pixels) catches.
 * `fake-probe` renders honestly but its probe server forges the ping challenge: it answers every nonce at once
 * with a proof made with a key that is not its own (a client or peer timing it measures nothing it can trust),
 * so it must never be routed to as a client's nearest node. `hoard` leases every task its slots allow and sits
 * on them: it heartbeats their leases but never renders or completes, so only the lease lifetime cap and the
 * expiry sweep get the work back. `late-rendered` holds a session render process's 'rendered' reply (IPC) for
 * LATE_RENDERED_MS, so each encoded frame reaches the node on the frame pipe before it: the order a busy machine
 * sometimes gives, which the node must take (session-process.ts keeps the frame until the reply comes).
 * `stale-session` renders batch tasks honestly but streams every session the first frame it rendered for it, whatever
 * the pose (a stale frame, signed like any other): only verifying session frames (session-sample.ts) catches it.
 * Unset (always, outside tests), outputs go up untouched. This is the one place the switch is read.
 */
import { createHmac } from 'node:crypto';
import { MAX_TILES_PER_SECOND, type CardBackend } from '../../api/protocol/node-card.ts';

const FAULT = process.env.TESSERA_TEST_FAULT;
const FAULTS = ['truncate', 'corrupt', 'lie', 'doctor-stitch', 'inflate-card', 'claim-webgl2', 'fake-probe', 'hoard', 'late-rendered', 'stale-session'];
if (FAULT !== undefined && FAULT !== '' && !FAULTS.includes(FAULT)) {
  throw new Error(`TESSERA_TEST_FAULT must be one of ${FAULTS.join(', ')}, not ${JSON.stringify(FAULT)}`);
}

/** The pixels this node encodes for a render: the same, unless it lies (a red tint over every pixel). */
export function pixelsToEncode<T extends { data: Uint8Array }>(image: T): T {
  if (FAULT !== 'lie') return image;
  const data = Uint8Array.from(image.data);
  for (let p = 0; p < data.length; p += 4) data[p] = Math.min(255, data[p] + 80);
  return { ...image, data };
}

/** The speed this node's card claims: what it measured, unless it inflates its card. */
export function claimedTilesPerSecond(measured: number): number {
  return FAULT === 'inflate-card' ? MAX_TILES_PER_SECOND : measured;
}

/** The pixels this node encodes for a stitched frame: the same, unless it doctors stitches (tints `region`). */
export function stitchedPixelsToEncode<T extends { data: Uint8Array; width: number }>(image: T, region: { x: number; y: number; width: number; height: number }): T {
  if (FAULT !== 'doctor-stitch') return image;
  const data = Uint8Array.from(image.data);
  for (let y = region.y; y < region.y + region.height; y++) {
    for (let x = region.x; x < region.x + region.width; x++) {
      const p = (y * image.width + x) * 4;
      data[p] = Math.min(255, data[p] + 80);
    }
  }
  return { ...image, data };
}

/** The bytes this node actually uploads for `bytes`: the same, unless a test fault is switched on. */
export function bytesToUpload(bytes: Uint8Array): Uint8Array {
  if (FAULT === 'truncate') return bytes.subarray(0, Math.floor(bytes.length / 2));
  if (FAULT === 'corrupt') {
    const out = Uint8Array.from(bytes); // a copy: Buffer#slice would share (and so corrupt) the original
    out[out.length >> 1] ^= 0xff;
    return out;
  }
  return bytes;
}

/** The backends this node's card lists: the real ones, unless it claims WebGL 2 it does not have. */
export function claimedBackends(actual: CardBackend[]): CardBackend[] {
  return FAULT === 'claim-webgl2' ? actual.map((b) => ({ ...b, webgl2: true })) : actual;
}

/** The proof this node's probe server sends for `nonce`: HMAC-SHA256(its probe key), unless it fakes probes. */
export function probeProof(probeKey: string, nonce: string): string {
  return createHmac('sha256', FAULT === 'fake-probe' ? `not-${probeKey}` : probeKey).update(nonce).digest('hex');
}

/** How long `late-rendered` holds a 'rendered' reply: far longer than encoding a test frame takes. */
export const LATE_RENDERED_MS = 500;

/** How long a session render process holds each 'rendered' reply before sending it: 0, unless `late-rendered`. */
export function renderedReplyDelayMs(): number {
  return FAULT === 'late-rendered' ? LATE_RENDERED_MS : 0;
}

/** Whether this node hoards: leases tasks and holds them (heartbeating) without ever rendering them. */
export function hoardsTasks(): boolean {
  return FAULT === 'hoard';
}

/** What a hoarder does instead of running a task: nothing, until its lease is revoked (rejects then). */
export function holdUntilRevoked(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

const staleFrames = new Map<string, Uint8Array>();

/** The image a session frame carries: the one rendered, unless this node streams stale frames (its first, always). */
export function sessionImageToSend(sessionId: string, image: Uint8Array): Uint8Array {
  if (FAULT !== 'stale-session') return image;
  if (!staleFrames.has(sessionId)) {
    if (staleFrames.size > 64) staleFrames.clear();
    staleFrames.set(sessionId, image);
  }
  return staleFrames.get(sessionId)!;
}
