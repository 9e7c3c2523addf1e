import { TesseraError } from '../../api/protocol/errors.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { encodeImage } from '../output/encode-image.ts';
import { decodeRaw, stitchTiles } from '../output/stitch-tiles.ts';
import type { BackendScene, NodeBackends } from './node-backends.ts';
import { runRenderTask, uploadOutput, type RequestUpload, type TaskOutcome } from './run-render-task.ts';
import { sha256, type SceneCache } from './scene-cache.ts';
import { fetchObject } from './storage-fetch.ts';
import { bytesToUpload, pixelsToEncode, stitchedPixelsToEncode } from './test-fault.ts';

/** Tiles travel losslessly and fast: PNG at zlib level 1 (they are decoded and re-encoded by the stitch). */
const TILE_ENCODING = { format: 'png', quality: 100, lossless: true, effort: 'fast' } as const;

export type { TaskOutcome } from './run-render-task.ts';

export { SceneFaultError, isSceneFault } from './scene-fault.ts';

/**
 * Do one leased task: render a tile (or a whole frame) or stitch a frame (from tiles checked against the
 * sha256 the API verified), upload it (or keep it for the completion: `inline`), return its size and sha256. `onDrawn`: a render task's pixels are drawn
 * (the GL context is free again); a stitch task never calls it.
 */
export async function runTask(
  task: LeasedTask,
  renderer: Pick<NodeBackends, 'render' | 'version'>,
  scenes: SceneCache<BackendScene>,
  requestUpload: RequestUpload,
  signal: AbortSignal,
  onDrawn?: () => void,
): Promise<TaskOutcome> {
  if (task.kind === 'render') {
    return runRenderTask(task, renderer, {
      scenes,
      onDrawn,
      // The identity of the backend that rendered the scene (an auto node renders a WebGL 2 scene on Chromium).
      encode: (result, t, scene) =>
        t.final
          ? encodeImage(pixelsToEncode(result), t.encode, { software: scene.version, description: `scene ${t.scene.id.slice(0, 16)} frame ${t.frame}` }, flattenColor(t))
          : encodeImage(pixelsToEncode(result), TILE_ENCODING, { software: scene.version }),
      sha256,
      toUpload: bytesToUpload,
      requestUpload,
    }, signal);
  }
  const timings: Record<string, number> = {};
  if (!task.tiles?.length) throw new TesseraError('BAD_REQUEST', `stitch task ${task.taskId} lists no tiles`);
  const t1 = performance.now();
  const parts = await Promise.all(task.tiles.map(async (tile) => ({ x: tile.x, y: tile.y, image: await decodeRaw(await downloadTile(tile, task.frame, signal), tile.width * tile.height) })));
  const t2 = performance.now();
  timings.download = t2 - t1;
  const image = stitchedPixelsToEncode(await stitchTiles(task.view.width, task.view.height, parts), task.tiles[0]);
  const t3 = performance.now();
  timings.stitch = t3 - t2;
  const bytes = await encodeImage(image, task.encode, { software: renderer.version, description: `scene ${task.scene.id.slice(0, 16)} frame ${task.frame}` }, flattenColor(task));
  timings.encode = performance.now() - t3;
  signal.throwIfAborted();
  const checksum = sha256(bytes);
  const inline = await uploadOutput(task, bytes, checksum, bytesToUpload(bytes), requestUpload, `the stitched frame ${task.frame}`, timings, signal);
  return { checksum, bytes: bytes.length, timings, ...(inline === undefined ? {} : { inline }) };
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
