/**
 * The render process: one GL context that runs the tasks a TaskSandbox sends it. It draws one task at a time
 * (drawing is synchronous on this thread) and says `drawn` as soon as a task's pixels are read back, so the next
 * task may arrive and draw while the previous one encodes (on sharp's threads) and uploads. It holds no API
 * credentials and exits when its parent goes away.
 */
import { isTesseraError } from '../../api/protocol/errors.ts';
import type { LeasedTask } from '../../api/protocol/task.ts';
import { createHeadlessGLBackend } from '../gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render/node-render-platform.ts';
import { measureTilesPerSecond } from './resource-card.ts';
import { isSceneFault, runTask } from './run-task.ts';
import { SceneCache } from './scene-cache.ts';
import type { WorkerReply, WorkerRequest, WorkerSettings } from './task-sandbox.ts';

const settings = JSON.parse(process.env.TESSERA_WORKER_SETTINGS ?? '{}') as WorkerSettings;
const send = (reply: WorkerReply) => process.send?.(reply);
process.on('disconnect', () => process.exit(0));

const renderer = new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM);
const scenes = new SceneCache(renderer, { dir: settings.cacheDir, maxLoaded: settings.maxLoadedScenes, maxTexturePixels: settings.maxTexturePixels });

process.on('message', async (message: WorkerRequest) => {
  if (message.type === 'describe') {
    send({ type: 'described', id: message.id, info: renderer.backend.info, version: renderer.version, tilesPerSecond: await measureTilesPerSecond(renderer) });
    return;
  }
  const task = message.task as LeasedTask;
  try {
    const outcome = await runTask(task, renderer, scenes, new AbortController().signal, () => send({ type: 'drawn', id: message.id }));
    send({ type: 'done', id: message.id, outcome });
  } catch (err) {
    send({
      type: 'failed',
      id: message.id,
      code: isTesseraError(err) ? err.code : undefined,
      message: (err as Error)?.message ?? String(err),
      sceneFault: isSceneFault(err),
    });
  }
});
send({ type: 'ready' });
