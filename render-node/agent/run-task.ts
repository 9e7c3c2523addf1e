import { TesseraError, isTesseraError } from '../../api/protocol/errors.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { encodeImage } from '../output/encode-image.ts';
import { decodeRaw, stitchTiles } from '../output/stitch-tiles.ts';
import type { FrameRenderer } from '../render/frame-renderer.ts';
import { sha256, type SceneCache } from './scene-cache.ts';

/**
 * TEST ONLY — a deliberately lying node for the verification tests: with `TESSERA_TEST_FAULT=lie` in its
 * environment, the node tints every render before encoding it, so it uploads wrong pixels while the checksum
 * it reports matches the bytes it uploaded (only verification by re-issue can catch it). Read here, once;
 * nothing else in Tessera looks at it, and production nodes never set it.
 */
const TEST_FAULT = process.env.TESSERA_TEST_FAULT;

/** The lie: a red tint over every pixel (TEST ONLY, see TEST_FAULT). */
function tintForTest(image: { data: Uint8Array }): void {
  for (let p = 0; p < image.data.length; p += 4) image.data[p] = Math.min(255, image.data[p] + 80);
}

/** Tiles travel losslessly and fast: PNG with light compression. */
const TILE_ENCODING = { format: 'png', quality: 100, lossless: true } as const;

export interface TaskOutcome {
  checksum: string;
  bytes: number;
  timings: Record<string, number>;
}

/** Error codes that mean the scene (not this node) is at fault: retrying elsewhere will not help. */
const SCENE_FAULTS = new Set(['SCENE_MALFORMED', 'SCENE_UNSUPPORTED', 'SCENE_EXTERNAL_URI', 'SCENE_LIMIT_EXCEEDED', 'SCENE_TEXTURE_FAILED', 'SCENE_INDEX_NOT_FOUND', 'CAMERA_NOT_FOUND', 'CLIP_NOT_FOUND', 'FRAME_OUT_OF_RANGE', 'BAD_SPEC']);
/** A failure the scene is presumed to cause whatever its code (a blown cap, a crashed render process). */
export class SceneFaultError extends TesseraError {
  readonly sceneFault = true;
}

export const isSceneFault = (err: unknown) => err instanceof SceneFaultError || (isTesseraError(err) && SCENE_FAULTS.has(err.code));

/** Do one leased task: render a tile (or a whole frame) or stitch a frame, upload it, return its checksum. */
export async function runTask(task: LeasedTask, renderer: FrameRenderer, scenes: SceneCache, signal: AbortSignal): Promise<TaskOutcome> {
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  let bytes: Uint8Array;
  if (task.kind === 'render') {
    const loaded = await scenes.get(task.scene.id, task.scene.url);
    const t1 = performance.now();
    timings.load = t1 - t0;
    signal.throwIfAborted();
    const result = renderer.render(loaded, task.view, task.frame, task.tile);
    if (TEST_FAULT === 'lie') tintForTest(result);
    const t2 = performance.now();
    timings.render = result.timings.pose + result.timings.render;
    timings.readback = result.timings.readback + result.timings.resolve;
    bytes = task.final
      ? await encodeImage(result, task.encode, { software: renderer.version, description: `scene ${task.scene.id.slice(0, 16)} frame ${task.frame}` }, flattenColor(task))
      : await encodeImage(result, TILE_ENCODING, { software: renderer.version });
    timings.encode = performance.now() - t2;
  } else {
    if (!task.tiles?.length) throw new TesseraError('BAD_REQUEST', `stitch task ${task.taskId} lists no tiles`);
    const t1 = performance.now();
    const parts = await Promise.all(task.tiles.map(async (tile) => ({ x: tile.x, y: tile.y, image: await decodeRaw(await download(tile.url, `tile ${tile.x},${tile.y} of frame ${task.frame}`, signal)) })));
    const t2 = performance.now();
    timings.download = t2 - t1;
    const image = await stitchTiles(task.view.width, task.view.height, parts);
    const t3 = performance.now();
    timings.stitch = t3 - t2;
    bytes = await encodeImage(image, task.encode, { software: renderer.version, description: `scene ${task.scene.id.slice(0, 16)} frame ${task.frame}` }, flattenColor(task));
    timings.encode = performance.now() - t3;
  }
  signal.throwIfAborted();
  const t4 = performance.now();
  await upload(task.output.url, bytes, `${task.kind} output of frame ${task.frame}`, signal);
  timings.upload = performance.now() - t4;
  return { checksum: sha256(bytes), bytes: bytes.length, timings };
}

function flattenColor(task: LeasedTask): string {
  return task.view.background.startsWith('#') ? task.view.background : '#ffffff';
}

async function download(url: string, what: string, signal: AbortSignal): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]) });
  } catch (cause) {
    throw new TesseraError('STORAGE_FAILED', `downloading ${what} failed: ${(cause as Error).message}`, { cause });
  }
  if (!res.ok) throw new TesseraError('STORAGE_FAILED', `downloading ${what} failed: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** PUT to a presigned URL, retrying transient failures a few times. */
async function upload(url: string, bytes: Uint8Array, what: string, signal: AbortSignal): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 4; attempt++) {
    if (attempt) await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    try {
      const res = await fetch(url, { method: 'PUT', body: bytes as Uint8Array<ArrayBuffer>, signal: AbortSignal.any([signal, AbortSignal.timeout(60_000)]) });
      if (res.ok) return;
      last = new Error(`HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      if (res.status < 500) break;
    } catch (cause) {
      if (signal.aborted) throw cause;
      last = cause;
    }
  }
  throw new TesseraError('STORAGE_FAILED', `uploading ${what} failed: ${(last as Error)?.message ?? last}`, { cause: last });
}
