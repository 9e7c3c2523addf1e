/**
 * Accepting a task's output: read back what the node stored at its attempt key, check it is what the node
 * reported (size and sha256), and write those very bytes to the accepted key, which no node can write. The
 * copy is made from the bytes that were checked, not by a server-side copy, so nothing the node uploads later
 * (its PUT URL is still valid) can reach what stitchers, verifiers and clients read.
 */
import { TesseraError } from '../protocol/errors.ts';
import type { ApiContext } from './api-context.ts';
import { sha256Hex } from './crypto-utils.ts';
import type { TaskRecord } from './job-store.ts';
import { acceptedKey, attemptKey, outputContentType } from './object-keys.ts';

/**
 * The most bytes an encoded output of width × height may take: raw RGBA plus PNG's per-row filter byte, with
 * 1 MiB for headers, metadata and compression framing. Anything larger is not an honest tile or frame.
 */
export function maxOutputBytes(width: number, height: number): number {
  return width * height * 4 + height + 1024 * 1024;
}

/**
 * Check the output of `task`'s current attempt and, when it is what the node reported, store it at the
 * accepted key; returns null then, else why it was refused. Throws OUTPUT_MISSING when there is no object
 * (the node may still upload it and report again).
 */
export async function acceptOutput(
  ctx: Pick<ApiContext, 'blobs'>,
  task: TaskRecord,
  reported: { bytes: number; checksum: string },
  size: { width: number; height: number },
): Promise<string | null> {
  const key = attemptKey(task);
  const head = await ctx.blobs.head(key);
  if (!head) throw new TesseraError('OUTPUT_MISSING', `Nothing is stored at ${key}; upload the output to its presigned URL first.`);
  // HEAD before GET: an object larger than reported, or than any honest encoding of its pixels, is refused unread.
  const max = maxOutputBytes(size.width, size.height);
  if (head.size > max) return `the object at ${key} has ${head.size} bytes, more than a ${size.width}×${size.height} image can take (${max})`;
  if (head.size !== reported.bytes) return `the object at ${key} has ${head.size} bytes, but the node reported ${reported.bytes}`;
  const stored = await ctx.blobs.get(key);
  if (!stored) throw new TesseraError('OUTPUT_MISSING', `Nothing is stored at ${key}; upload the output to its presigned URL first.`);
  if (stored.length !== reported.bytes) return `the object at ${key} has ${stored.length} bytes, but the node reported ${reported.bytes}`;
  const actual = await sha256Hex(stored);
  if (actual !== reported.checksum) return `the object at ${key} has sha256 ${actual}, but the node reported ${reported.checksum}`;
  const accepted = acceptedKey(task);
  await ctx.blobs.put(accepted, stored, { contentType: outputContentType(accepted) });
  return null;
}
