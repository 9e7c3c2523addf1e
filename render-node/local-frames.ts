import { join } from 'node:path';
import type { EncodeSpec, TileRect, ViewSpec } from '../api/protocol/render-spec.ts';
import { frameFileName } from '../api/protocol/frame-list.ts';
import { encodeImage, EXTENSIONS } from './output/encode-image.ts';
import { stitchTiles } from './output/stitch-tiles.ts';
import { writeAtomic } from './output/write-atomic.ts';
import type { RawImage } from './render/frame-renderer.ts';
import type { SceneHandle, SceneRenderer } from './render/scene-renderer.ts';

/** What every frame of one local render shares: plain data, so a helper process gets it as is. */
export interface LocalFrameJob {
  view: ViewSpec;
  encode: EncodeSpec;
  tiles: TileRect[];
  outDir: string;
  /** The last frame of the render (names the files with enough digits). */
  lastFrame: number;
  /** JPEG's background for transparent pixels. */
  flatten: string;
}

/** Where a frame's time went, in milliseconds (summed over tiles). */
export interface LocalFrameTimes {
  render: number;
  readback: number;
  resolve: number;
  stitch: number;
  /** Encoding and writing the file. */
  encode: number;
}

/** One frame written: its position in the render's list, its number, its file, and how long it took end to end. */
export interface LocalFrameDone {
  index: number;
  frame: number;
  file: string;
  ms: number;
  times: LocalFrameTimes;
}

export function noFrameTimes(): LocalFrameTimes {
  return { render: 0, readback: 0, resolve: 0, stitch: 0, encode: 0 };
}

/** The frames still to render, in order; render slots (this process, helper processes) take from the front. */
export class FrameQueue {
  private readonly items: { index: number; frame: number }[];

  constructor(frames: number[]) {
    this.items = frames.map((frame, index) => ({ index, frame }));
  }

  get size(): number {
    return this.items.length;
  }

  take(): { index: number; frame: number } | undefined {
    return this.items.shift();
  }

  /** Frames a helper held when it went away: rendered next, by whoever takes first. */
  putBack(items: { index: number; frame: number }[]): void {
    this.items.unshift(...[...items].sort((a, b) => a.index - b.index));
  }
}

/** Render every tile of `frame` and stitch them: the frame's straight-alpha pixels. */
export async function renderFrameImage(renderer: SceneRenderer, scene: SceneHandle, job: LocalFrameJob, frame: number, times: LocalFrameTimes): Promise<RawImage> {
  const parts: { x: number; y: number; image: RawImage }[] = [];
  for (const tile of job.tiles) {
    const r = await renderer.render(scene, job.view, frame, tile);
    times.render += r.timings.pose + r.timings.render;
    times.readback += r.timings.readback;
    times.resolve += r.timings.resolve;
    parts.push({ x: tile.x, y: tile.y, image: r });
  }
  if (parts.length === 1) return parts[0].image;
  const ts = performance.now();
  const image = await stitchTiles(job.view.width, job.view.height, parts);
  times.stitch += performance.now() - ts;
  return image;
}

/** Encode `image` as `frame`'s file in the job's format and write it atomically; returns the path. */
export async function writeFrameFile(image: RawImage, frame: number, job: LocalFrameJob, software: string, times: LocalFrameTimes): Promise<string> {
  const te = performance.now();
  const file = join(job.outDir, frameFileName(frame, job.lastFrame, EXTENSIONS[job.encode.format]));
  const bytes = await encodeImage(image, job.encode, { software, description: `frame ${frame}` }, job.flatten);
  await writeAtomic(file, bytes);
  times.encode += performance.now() - te;
  return file;
}

/**
 * Render frames taken from `queue` in this process until it is empty, pipelined: frame N encodes on sharp's
 * threads (libuv pool) while this thread draws frame N+1, and at most one frame waits. `onImage` sees each
 * frame's pixels (an animated WebP keeps them).
 */
export async function drainInProcess(
  renderer: SceneRenderer,
  scene: SceneHandle,
  job: LocalFrameJob,
  queue: FrameQueue,
  onDone: (done: LocalFrameDone) => void,
  onImage?: (index: number, image: RawImage) => void,
): Promise<void> {
  let previous: Promise<void> = Promise.resolve();
  try {
    for (let item = queue.take(); item; item = queue.take()) {
      const { index, frame } = item;
      const t0 = performance.now();
      const times = noFrameTimes();
      const image = await renderFrameImage(renderer, scene, job, frame, times);
      onImage?.(index, image);
      const written = writeFrameFile(image, frame, job, renderer.version, times);
      await previous;
      previous = written.then((file) => onDone({ index, frame, file, ms: performance.now() - t0, times }));
      // Awaited on the next turn (or in finally); marked handled so a failure while the next frame draws is not fatal.
      previous.catch(() => {});
    }
  } finally {
    // The frame in flight still lands (or its error surfaces) before the caller goes on.
    await previous;
  }
}
