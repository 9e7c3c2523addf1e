import { TesseraError, isTesseraError } from '../../api/protocol/errors.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { encodeImage } from '../output/encode-image.ts';
import { decodeRaw, stitchTiles } from '../output/stitch-tiles.ts';
import type { FrameRenderer } from '../render/frame-renderer.ts';
import { sha256, type SceneCache, type SceneSource } from './scene-cache.ts';
import { fetchObject, putObject } from './storage-fetch.ts';
import { bytesToUpload, pixelsToEncode, stitchedPixelsToEncode } from './test-fault.ts';

/** Tiles travel losslessly and fast: PNG at zlib level 1 (they are decoded and re-encoded by the stitch). */
const TILE_ENCODING = { format: 'png', quality: 100, lossless: true, effort: 'fast' } as const;

export interface TaskOutcome {
  checksum: string;
  bytes: number;
  timings: Record<string, number>;
  /** Render tasks: where the scene came from (for the node's metrics; not sent to the API). */
  sceneCache?: SceneSource;
}

/** Error codes that mean the scene (not this node) is at fault: retrying elsewhere will not help. */
const SCENE_FAULTS = new Set(['SCENE_MALFORMED', 'SCENE_UNSUPPORTED', 'SCENE_EXTERNAL_URI', 'SCENE_LIMIT_EXCEEDED', 'SCENE_TEXTURE_FAILED', 'SCENE_INDEX_NOT_FOUND', 'CAMERA_NOT_FOUND', 'CLIP_NOT_FOUND', 'FRAME_OUT_OF_RANGE', 'BAD_SPEC']);
/** A failure the scene is presumed to cause whatever its code (a blown cap, a crashed render process). */
export class SceneFaultError extends TesseraError {
  readonly sceneFault = true;
}

export const isSceneFault = (err: unknown) => err instanceof SceneFaultError || (isTesseraError(err) && SCENE_FAULTS.has(err.code));

/**
 * Do one leased task: render a tile (or a whole frame) or stitch a frame (from tiles checked against the
 * sha256 the API verified), upload it, return its size and sha256.
 */
export async function runTask(task: LeasedTask, renderer: FrameRenderer, scenes: SceneCache, signal: AbortSignal): Promise<TaskOutcome> {
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  let bytes: Uint8Array;
  let sceneCache: SceneSource | undefined;
  if (task.kind === 'render') {
    const loaded = await scenes.get(task.scene.id, task.scene.url, (source) => (sceneCache = source));
    const t1 = performance.now();
    timings.load = t1 - t0;
    signal.throwIfAborted();
    const result = pixelsToEncode(renderer.render(loaded, task.view, task.frame, task.tile));
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
    const parts = await Promise.all(task.tiles.map(async (tile) => ({ x: tile.x, y: tile.y, image: await decodeRaw(await downloadTile(tile, task.frame, signal), tile.width * tile.height) })));
    const t2 = performance.now();
    timings.download = t2 - t1;
    const image = stitchedPixelsToEncode(await stitchTiles(task.view.width, task.view.height, parts), task.tiles[0]);
    const t3 = performance.now();
    timings.stitch = t3 - t2;
    bytes = await encodeImage(image, task.encode, { software: renderer.version, description: `scene ${task.scene.id.slice(0, 16)} frame ${task.frame}` }, flattenColor(task));
    timings.encode = performance.now() - t3;
  }
  signal.throwIfAborted();
  const t4 = performance.now();
  await putObject(task.output.url, bytesToUpload(bytes), `the ${task.kind} output of frame ${task.frame}`, { signal });
  timings.upload = performance.now() - t4;
  return { checksum: sha256(bytes), bytes: bytes.length, timings, ...(sceneCache ? { sceneCache } : {}) };
}

function flattenColor(task: LeasedTask): string {
  return task.view.background.startsWith('#') ? task.view.background : '#ffffff';
}

/** A tile's bytes, refused unless they have the sha256 the API recorded for it. */
async function downloadTile(tile: NonNullable<LeasedTask['tiles']>[number], frame: number, signal: AbortSignal): Promise<Uint8Array> {
  const what = `tile ${tile.x},${tile.y} of frame ${frame}`;
  const bytes = await fetchObject(tile.url, what, { signal });
  const actual = sha256(bytes);
  if (actual !== tile.checksum) {
    throw new TesseraError('OUTPUT_CORRUPT', `${what} in storage has sha256 ${actual} (${bytes.length} bytes), not the ${tile.checksum} its node reported`);
  }
  return bytes;
}
