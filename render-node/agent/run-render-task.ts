/**
 * One leased render task, on any runtime: load the scene, render the tile (or whole frame), encode, and hand the
 * output over: inside the completion when the lease allows it (protocol 3, `output.inlineMaxBytes`: no round
 * trip before the completion), else report its size and sha256 for a PUT signed for exactly those bytes, upload. The Node node (run-task.ts, with
 * sharp) and a browser tab (web/src/join) run this same code with their own encoder, digest, scene cache and
 * way of asking the API for the upload URL (a render process asks its parent, which holds the credentials).
 */
import { bytesToBase64 } from '../../api/protocol/base64-bytes.ts';
import type { LeasedTask, UploadTicket } from '../../api/protocol/task.ts';
import type { TileRect, ViewSpec } from '../../api/protocol/render-spec.ts';
import type { RenderResult } from '../render/frame-renderer.ts';
import { putObject } from './storage-fetch.ts';

/** Where a scene came from: already loaded in this render process, the node's disk cache, or storage. */
export type SceneSource = 'memory' | 'disk' | 'download';

export interface TaskOutcome {
  checksum: string;
  bytes: number;
  timings: Record<string, number>;
  /** The output itself (base64), when it goes inside the completion (TaskComplete.inline) instead of up to storage. */
  inline?: string;
  /** Render tasks: where the scene came from (for the node's metrics; not sent to the API). */
  sceneCache?: SceneSource;
}

/**
 * What renders a loaded scene: a FrameRenderer in this process (headless-gl, a browser tab's canvas), or a node's
 * backends (node-backends.ts), whose Chromium backend answers asynchronously.
 */
export interface TaskRenderer<S> {
  render(scene: S, view: ViewSpec, frame: number, tile?: TileRect): RenderResult | Promise<RenderResult>;
}

export interface RenderTaskPorts<S> {
  /** Loaded scenes by content hash, fetched from the task's presigned URL when new. */
  scenes: { get(id: string, url: string, onSource?: (source: SceneSource) => void): Promise<S> };
  /** Encode the rendered pixels as the task asks (a tile: lossless PNG); `scene` is the one rendered. */
  encode(image: RenderResult, task: LeasedTask, scene: S): Promise<Uint8Array>;
  /** Lower-case hex sha256. */
  sha256(bytes: Uint8Array): string | Promise<string>;
  /** The bytes that go up for `bytes` (a test fault may change them; default: the same). */
  toUpload?(bytes: Uint8Array): Uint8Array;
  /** The pixels are drawn and read back: the renderer may take the next task while this one encodes and uploads. */
  onDrawn?(): void;
  /** The PUT URL for exactly these bytes (`POST /v1/tasks/:id/upload` with the lease's upload token). */
  requestUpload: RequestUpload;
}

/** Asks the API for the PUT URL of an output of `claim.bytes` bytes with sha256 `claim.checksum`. */
export type RequestUpload = (task: LeasedTask, claim: { bytes: number; checksum: string }, signal: AbortSignal) => Promise<UploadTicket>;

/**
 * Hand the output over. Small enough for the lease's `output.inlineMaxBytes` (protocol 3): it goes inside the
 * completion, returned here as base64, with no call now (adds `inline` to `timings`). Otherwise: report `bytes`
 * (their size and `checksum`) for an upload ticket, then PUT `sent` (the same bytes, unless a test fault changes
 * them) with the ticket's headers (adds `report` and `upload`); returns undefined.
 */
export async function uploadOutput(
  task: LeasedTask,
  bytes: Uint8Array,
  checksum: string,
  sent: Uint8Array,
  requestUpload: RequestUpload,
  what: string,
  timings: Record<string, number>,
  signal: AbortSignal,
): Promise<string | undefined> {
  const t0 = performance.now();
  if (sent.length <= (task.output.inlineMaxBytes ?? 0)) {
    const inline = bytesToBase64(sent);
    timings.inline = performance.now() - t0;
    return inline;
  }
  const ticket = await requestUpload(task, { bytes: bytes.length, checksum }, signal);
  const t1 = performance.now();
  timings.report = t1 - t0;
  await putObject(ticket.url, sent, what, { signal, headers: ticket.headers });
  timings.upload = performance.now() - t1;
  return undefined;
}

export async function runRenderTask<S>(task: LeasedTask, renderer: TaskRenderer<S>, ports: RenderTaskPorts<S>, signal: AbortSignal): Promise<TaskOutcome> {
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  let sceneCache: SceneSource | undefined;
  // A revoked or handed-back lease stops waiting for the scene at once (the download itself may finish for the cache).
  const loaded = await untilAborted(ports.scenes.get(task.scene.id, task.scene.url, (source) => (sceneCache = source)), signal);
  const t1 = performance.now();
  timings.load = t1 - t0;
  signal.throwIfAborted();
  const result = await renderer.render(loaded, task.view, task.frame, task.tile);
  const t2 = performance.now();
  timings.render = result.timings.pose + result.timings.render;
  timings.readback = result.timings.readback + result.timings.resolve;
  ports.onDrawn?.();
  const bytes = await ports.encode(result, task, loaded);
  timings.encode = performance.now() - t2;
  signal.throwIfAborted();
  const checksum = await ports.sha256(bytes);
  const sent = ports.toUpload ? ports.toUpload(bytes) : bytes;
  const inline = await uploadOutput(task, bytes, checksum, sent, ports.requestUpload, `the render output of frame ${task.frame}`, timings, signal);
  return { checksum, bytes: bytes.length, timings, ...(inline === undefined ? {} : { inline }), ...(sceneCache ? { sceneCache } : {}) };
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
