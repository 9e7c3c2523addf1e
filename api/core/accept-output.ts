/**
 * Accepting a task's output: check that what the node stored at its claimed attempt key is what it reported
 * (size and sha256) and put it at the accepted key, which no node can write, so nothing the node uploads later
 * (its PUT URLs stay valid a while) can reach what stitchers, verifiers and clients read. See acceptOutput for
 * when storage's own check stands in for reading the object back.
 */
import { TesseraError } from '../protocol/errors.ts';
import type { ApiContext } from './api-context.ts';
import { sha256Hex } from './crypto-utils.ts';
import { outputsFrame } from './job-compiler.ts';
import type { TaskRecord } from './job-store.ts';
import { acceptedKey, claimedAttemptKey, outputContentType } from './object-keys.ts';

/**
 * The most bytes an encoded output of width × height may take: raw RGBA plus PNG's per-row filter byte, with
 * 1 MiB for headers, metadata and compression framing. Anything larger is not an honest tile or frame.
 */
export function maxOutputBytes(width: number, height: number): number {
  return width * height * 4 + height + 1024 * 1024;
}

/**
 * Check the output of `task`'s current attempt and, when it is what the node reported, store it at the accepted
 * key; returns null then, else why it was refused. Throws OUTPUT_MISSING when there is no object (the node may
 * still upload it and report again).
 *
 * The node uploaded to the key named by its reported sha256 (claimedAttemptKey) through a PUT signed for exactly
 * those bytes, so storage itself refused any other body. A HEAD that answers the reported size and the SHA-256
 * storage checked is then proof enough: the object is copied to the accepted key in storage, and the API reads
 * no byte of it. Where the store does not report the checksum it checked (or checks none), the API reads the
 * object back and hashes it, as it always did.
 */
export async function acceptOutput(
  ctx: Pick<ApiContext, 'blobs'>,
  task: TaskRecord,
  reported: { bytes: number; checksum: string },
  size: { width: number; height: number },
): Promise<string | null> {
  const max = maxOutputBytes(size.width, size.height);
  if (reported.bytes > max) return `the node reported ${reported.bytes} bytes, more than a ${size.width}×${size.height} image can take (${max})`;
  const key = claimedAttemptKey(task, reported.checksum);
  const missing = () => new TesseraError('OUTPUT_MISSING', `Nothing is stored at ${key}; report the output to POST /v1/tasks/${task.taskId}/upload and PUT it to the URL that answers first.`);
  const head = await ctx.blobs.head(key);
  if (!head) throw missing();
  // HEAD before anything else: an object larger than reported, or than any honest encoding of its pixels, is refused unread.
  if (head.size > max) return `the object at ${key} has ${head.size} bytes, more than a ${size.width}×${size.height} image can take (${max})`;
  if (head.size !== reported.bytes) return `the object at ${key} has ${head.size} bytes, but the node reported ${reported.bytes}`;
  const accepted = acceptedKey(task);
  if (head.sha256 !== undefined) {
    if (head.sha256 !== reported.checksum) return `the object at ${key} has sha256 ${head.sha256} (as storage checked it), but the node reported ${reported.checksum}`;
    // Checked by storage on upload: copy it in storage.
    if (!(await ctx.blobs.copy(key, accepted))) throw missing();
    return null;
  }
  const stored = await ctx.blobs.get(key);
  if (!stored) throw missing();
  if (stored.length !== reported.bytes) return `the object at ${key} has ${stored.length} bytes, but the node reported ${reported.bytes}`;
  const actual = await sha256Hex(stored);
  if (actual !== reported.checksum) return `the object at ${key} has sha256 ${actual}, but the node reported ${reported.checksum}`;
  await ctx.blobs.put(accepted, stored, { contentType: outputContentType(accepted) });
  return null;
}

/**
 * Check an output the node sent inside its completion (protocol 3); null when it is what the node reported, else why
 * it was refused. The API holds the bytes, so it measures them itself: their length and sha256 must be what the node
 * reported, and they must fit the task's pixels. Nothing is written (storeInlineOutput does that).
 */
export async function checkInlineOutput(
  reported: { bytes: number; checksum: string },
  bytes: Uint8Array,
  size: { width: number; height: number },
): Promise<string | null> {
  const max = maxOutputBytes(size.width, size.height);
  if (bytes.length > max) return `the inline output has ${bytes.length} bytes, more than a ${size.width}×${size.height} image can take (${max})`;
  if (bytes.length !== reported.bytes) return `the inline output has ${bytes.length} bytes, but the node reported ${reported.bytes}`;
  const actual = await sha256Hex(bytes);
  if (actual !== reported.checksum) return `the inline output has sha256 ${actual}, but the node reported ${reported.checksum}`;
  return null;
}

/**
 * Store an inline output checkInlineOutput passed (its sha256 `checksum`) at the accepted key: one write, through the
 * BlobStore port (S3, R2), straight to the key readers use; nothing is uploaded by the node, so there is no attempt
 * object to copy or delete. Called only for the lease holder (as acceptOutput), so a retried completion of a
 * recorded task writes nothing again.
 */
export async function storeInlineOutput(
  ctx: Pick<ApiContext, 'blobs'> & Partial<Pick<ApiContext, 'recentFrames'>>,
  task: TaskRecord,
  checksum: string,
  bytes: Uint8Array,
): Promise<void> {
  const accepted = acceptedKey(task);
  await ctx.blobs.put(accepted, bytes, { contentType: outputContentType(accepted) });
  // Stored: a frame (a whole-frame render or a stitch, not a tile) may now ride in its frame event (recent-frames.ts).
  if (outputsFrame(task)) ctx.recentFrames?.put(accepted, checksum, bytes);
}
