/** Saving frames: one file, or all of a job's frames as one zip built as they download (fflate, stored entries). */
import { Zip, ZipPassThrough } from 'fflate';
import type { JobFrames, TesseraClient } from '../../api/client/index.ts';
import { frameFileName as cliFrameName } from '../../api/protocol/frame-list.ts';

type Frame = JobFrames['frames'][number];

/** The file name the CLI gives a frame (`frame-0007.png`; wider when the job's last frame needs it). */
export function frameFileName(f: Frame, lastFrame = f.frame): string {
  const ext = /\.(\w+)$/.exec(f.key)?.[1] ?? 'png';
  return cliFrameName(f.frame, lastFrame, ext);
}

export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Download one frame (its checksum checked by the SDK) and save it. */
export async function saveFrame(client: TesseraClient, f: Frame): Promise<void> {
  const bytes = await client.downloadFrame(f.url, { sha256: f.checksum });
  saveBlob(new Blob([bytes as BlobPart]), frameFileName(f));
}

/**
 * Download every frame (checked) into one zip, entry by entry: each frame's bytes go into the archive as soon as
 * they arrive and are released, so memory holds the compressed archive only (images are stored, not deflated).
 */
export async function saveAllFrames(client: TesseraClient, jobId: string, frames: Frame[], onProgress: (done: number) => void): Promise<void> {
  const chunks: Uint8Array[] = [];
  let failed: Error | undefined;
  const zip = new Zip((err, chunk) => {
    if (err) failed = err;
    else chunks.push(chunk);
  });
  let done = 0;
  const last = Math.max(...frames.map((f) => f.frame));
  for (const f of frames) {
    const bytes = await client.downloadFrame(f.url, { sha256: f.checksum });
    const entry = new ZipPassThrough(frameFileName(f, last));
    zip.add(entry);
    entry.push(bytes, true);
    onProgress(++done);
  }
  zip.end();
  if (failed) throw new Error('building the zip of frames', { cause: failed });
  saveBlob(new Blob(chunks as BlobPart[], { type: 'application/zip' }), `tessera-${jobId}.zip`);
}
