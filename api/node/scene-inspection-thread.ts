/**
 * One scene inspection thread (worker_threads) of the Node API's SceneInspector (node-scene-inspector.ts): it runs
 * the shared readScene inspector (read-scene-inspector.ts) on the scenes its parent sends, one at a time, and sends
 * back the normalized GLB (transferred, not copied) or the error as `{code, message}`. A hostile scene then costs
 * this thread's event loop and heap (capped by the Worker's resourceLimits), never the API's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isTesseraError, type ErrorCode } from '../protocol/errors.ts';
import type { SceneLimits } from '../protocol/render-spec.ts';
import { createReadSceneInspector } from '../../scene-check/read-scene-inspector.ts';
import type { InspectedScene, SceneInput } from '../../scene-check/scene-inspector.ts';
import { nodeSceneIo } from '../../scene-check/scene-io.ts';
import { transferablesOf } from './node-scene-inspector.ts';

/** What the thread is started with. */
export interface InspectionThreadData {
  limits?: Partial<SceneLimits>;
}

/** Parent → thread: inspect this scene. */
export interface InspectionRequest {
  id: number;
  input: SceneInput;
}

/** Thread → parent (after 'ready', once it has loaded): the inspected scene, or why it was refused (a TesseraError's code, else none). */
export type InspectionReply =
  | { id: number; ok: true; scene: InspectedScene }
  | { id: number; ok: false; error: { code?: ErrorCode; message: string; retryAfterSeconds?: number } };

if (parentPort) {
  const port = parentPort;
  const { limits } = (workerData ?? {}) as InspectionThreadData;
  const inspector = createReadSceneInspector(nodeSceneIo, limits);
  port.on('message', async ({ id, input }: InspectionRequest) => {
    let reply: InspectionReply;
    try {
      reply = { id, ok: true, scene: await inspector.inspect(input) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      reply = { id, ok: false, error: isTesseraError(err) ? { code: err.code, message, retryAfterSeconds: err.retryAfterSeconds } : { message } };
    }
    port.postMessage(reply, reply.ok ? transferablesOf([reply.scene.glb]) : []);
  });
  // Loaded, Draco included: the parent starts an inspection's clock from here.
  await nodeSceneIo.get();
  port.postMessage('ready');
}
