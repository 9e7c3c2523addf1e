/**
 * Checks shared by the farm tests and the soak: polling until something holds, and a job's frames checked
 * three ways — listed once each, stored with the listed sha256, and pixel for pixel equal to a reference.
 */
import { createHash } from 'node:crypto';
import type { JobFrames } from '../../api/protocol/job-status.ts';
import { decodeRaw } from '../../render-node/output/stitch-tiles.ts';
import type { RawImage } from '../../render-node/render/frame-renderer.ts';
import { fetchObject } from '../../render-node/agent/storage-fetch.ts';

/** Poll `probe` every 200 ms until it returns something; errors count as "not yet" (the API may be restarting). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) throw err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface FrameCheck {
  /** Frames listed more than once. */
  duplicated: number[];
  /** Frames expected but not listed. */
  missing: number[];
  /** What is wrong, one sentence each (empty: every frame is right). */
  problems: string[];
}

/**
 * Download each listed frame through its presigned URL (retried like a node would), and compare its sha256
 * with the listing and its pixels with `reference(frame)`.
 */
export async function checkJobFrames(listed: JobFrames, expected: number[], reference: (frame: number) => Promise<RawImage>): Promise<FrameCheck> {
  const counts = new Map<number, number>();
  for (const f of listed.frames) counts.set(f.frame, (counts.get(f.frame) ?? 0) + 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([frame]) => frame);
  const missing = expected.filter((frame) => !counts.has(frame));
  const problems = [
    ...duplicated.map((f) => `frame ${f} is listed ${counts.get(f)} times`),
    ...missing.map((f) => `frame ${f} is missing`),
    ...listed.frames.filter((f) => !expected.includes(f.frame)).map((f) => `frame ${f.frame} was not asked for`),
  ];
  for (const f of listed.frames) {
    const bytes = await fetchObject(f.url, `frame ${f.frame} of ${listed.jobId}`, { attempts: 10 });
    const sum = createHash('sha256').update(bytes).digest('hex');
    if (sum !== f.checksum || bytes.length !== f.bytes) {
      problems.push(`frame ${f.frame}: stored ${bytes.length} bytes with sha256 ${sum}, listed ${f.bytes} bytes with ${f.checksum}`);
      continue;
    }
    const got = await decodeRaw(bytes);
    const want = await reference(f.frame);
    if (got.width !== want.width || got.height !== want.height || Buffer.compare(Buffer.from(got.data), Buffer.from(want.data)) !== 0) {
      problems.push(`frame ${f.frame}: pixels differ from the reference render`);
    }
  }
  return { duplicated, missing, problems };
}
