/**
 * The render process: the GL context(s) that run the tasks a TaskSandbox sends it. It draws one task at a time
 * (the node sends the next only once the current one is drawn) and says `drawn` as soon as a task's pixels are
 * read back, so the next task may arrive and draw while the previous one encodes (on sharp's threads) and
 * uploads. It holds no API credentials and exits when its parent goes away: for an output's upload URL it
 * reports the output's size and sha256 to its parent, which asks the API (`upload` → `ticket` messages).
 */
import { isTesseraError, TesseraError } from '../../api/protocol/errors.ts';
import type { LeasedTask, UploadTicket } from '../../api/protocol/task.ts';
import { createHeadlessGLBackend } from '../gl/headless-gl-backend.ts';
import { FrameRenderer } from '../render/frame-renderer.ts';
import { NODE_RENDER_PLATFORM } from '../render/node-render-platform.ts';
import { NodeBackends } from './node-backends.ts';
import { measureTilesPerSecond } from './resource-card.ts';
import { isSceneFault, runTask } from './run-task.ts';
import { SceneCache } from './scene-cache.ts';
import type { WorkerReply, WorkerRequest, WorkerSettings } from './task-sandbox.ts';

const settings = JSON.parse(process.env.TESSERA_WORKER_SETTINGS ?? '{}') as WorkerSettings;
const send = (reply: WorkerReply) => process.send?.(reply);
let backends: NodeBackends | undefined;
// The parent went away: close Chromium (if any) before going too.
process.on('disconnect', () => void (backends?.dispose() ?? Promise.resolve()).finally(() => process.exit(0)));

// headless-gl in this process, headless Chromium beside it, or both (`auto`): see node-backends.ts.
const renderer = (backends = await NodeBackends.start({
  choice: settings.backend ?? 'headless-gl',
  headlessGl: async () => new FrameRenderer(await createHeadlessGLBackend(), NODE_RENDER_PLATFORM),
  chromium: settings.chromiumCallTimeoutMs ? { callTimeoutMs: settings.chromiumCallTimeoutMs } : {},
  log: (message) => process.stderr.write(`${message}\n`),
}));
const scenes = new SceneCache(renderer, { dir: settings.cacheDir, maxLoaded: settings.maxLoadedScenes, maxTexturePixels: settings.maxTexturePixels });
// Chromium goes with this process: a SIGTERM from the sandbox closes it (a SIGKILL closes its DevTools pipe, which ends it too).
process.on('SIGTERM', () => void renderer.dispose().finally(() => process.exit(0)));

/** Upload tickets the parent is fetching, by run id (a drawn task's upload may overlap the next task's draw). */
const tickets = new Map<number, { resolve(t: UploadTicket): void; reject(e: Error): void }>();

process.on('message', async (message: WorkerRequest) => {
  if (message.type === 'ticket') {
    const waiting = tickets.get(message.id);
    tickets.delete(message.id);
    if (message.ticket) waiting?.resolve(message.ticket);
    else waiting?.reject(new TesseraError(message.code ?? 'UNAVAILABLE', message.message ?? 'no upload URL'));
    return;
  }
  if (message.type === 'describe') {
    send({ type: 'described', id: message.id, info: renderer.info, version: renderer.version, tilesPerSecond: await measureTilesPerSecond(renderer), backends: renderer.backends });
    return;
  }
  const task = message.task as LeasedTask;
  try {
    const requestUpload = (_task: LeasedTask, claim: { bytes: number; checksum: string }) =>
      new Promise<UploadTicket>((resolve, reject) => {
        tickets.set(message.id, { resolve, reject });
        send({ type: 'upload', id: message.id, claim });
      });
    const outcome = await runTask(task, renderer, scenes, requestUpload, new AbortController().signal, () => send({ type: 'drawn', id: message.id }));
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
