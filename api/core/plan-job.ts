/**
 * Checks a job request against what its scene holds (cameras, clips, glTF scenes, animation length) and
 * turns it into a JobPlan, so a job that cannot render is refused at once rather than failing on a node.
 * Names and indexes resolve exactly as the renderer resolves them.
 */
import { TesseraError } from '../protocol/errors.ts';
import { MAX_FRAMES } from '../protocol/frame-list.ts';
import { normalizeJobRequest, type JobRequest } from '../protocol/job-spec.ts';
import type { JobRequirements } from '../protocol/job-requirements.ts';
import { EncodeSpec, ViewSpec, type CameraSpec } from '../protocol/render-spec.ts';
import { countTasks, type JobPlan } from './job-compiler.ts';
import type { SceneInfo } from '../../scene-check/scene-inspector.ts';

/** Most tasks one job may compile to: bounds the store's work per job. */
export const MAX_JOB_TASKS = 100_000;

function listNames(names: (string | null)[]): string {
  return names.length ? names.map((n, i) => (n ? `${i} "${n}"` : `${i}`)).join(', ') : '(none)';
}

function checkScene(info: SceneInfo, scene: JobRequest['scene']): void {
  if (scene === undefined) return;
  const index = typeof scene === 'number' ? scene : info.scenes.indexOf(scene);
  if (index < 0 || index >= info.scenes.length) {
    throw new TesseraError(
      'SCENE_INDEX_NOT_FOUND',
      `The file has no scene ${typeof scene === 'number' ? scene : `named "${scene}"`}; its scenes are: ${listNames(info.scenes)}.`,
    );
  }
}

function checkCamera(info: SceneInfo, camera: CameraSpec): void {
  if (camera.kind !== 'gltf') return;
  const found =
    camera.index !== undefined
      ? camera.index < info.cameras.length
      : info.cameras.includes(camera.name!) || info.cameraNodes.includes(camera.name!);
  if (!found) {
    const what = camera.index !== undefined ? String(camera.index) : `named "${camera.name}"`;
    const hint = info.cameras.length ? listNames(info.cameras) : '(none — use camera "auto")';
    throw new TesseraError('CAMERA_NOT_FOUND', `The scene has no camera ${what}; its cameras are: ${hint}.`);
  }
}

/** Length in seconds of what `clip` selects: the first clip by default, `all`, `none`, an index or a name. */
function clipDuration(info: SceneInfo, clip: JobRequest['clip']): number {
  if (clip === 'none') return 0;
  if (clip === 'all') return info.clips.reduce((d, c) => Math.max(d, c.duration), 0);
  if (clip === undefined) return info.clips[0]?.duration ?? 0;
  const found = typeof clip === 'number' ? info.clips[clip] : info.clips.find((c) => c.name === clip);
  if (!found) {
    throw new TesseraError(
      'CLIP_NOT_FOUND',
      `The scene has no animation ${typeof clip === 'number' ? clip : `named "${clip}"`}; its clips are: ${listNames(info.clips.map((c) => c.name))}.`,
    );
  }
  return found.duration;
}

/** Validate `req` against the scene and build the plan the compiler turns into tasks. */
export function planJob(req: JobRequest, info: SceneInfo, ids: { jobId: string }): JobPlan {
  let normal: ReturnType<typeof normalizeJobRequest>;
  try {
    normal = normalizeJobRequest(req);
  } catch (err) {
    if (err instanceof RangeError) throw new TesseraError('BAD_REQUEST', `Invalid job: ${err.message}.`, { cause: err });
    throw err;
  }
  const { width, height, camera } = normal;
  checkScene(info, req.scene);
  checkCamera(info, camera);
  const duration = clipDuration(info, req.clip);
  // Same rounding as the renderer: a frame exactly at the clip's end is in.
  const last = Math.floor(duration * req.fps + 1e-9);
  if (normal.frames === undefined && last + 1 > MAX_FRAMES) {
    throw new TesseraError('BAD_REQUEST', `Invalid job: the clip has ${last + 1} frames at ${req.fps} fps, more than ${MAX_FRAMES}; give frames.`);
  }
  const frames = normal.frames ?? Array.from({ length: last + 1 }, (_, i) => i);
  const outside = frames.find((f) => f > last);
  if (outside !== undefined) {
    const what = duration > 0 ? `the animation lasts ${duration.toFixed(3)} s` : 'the scene has no animation';
    throw new TesseraError(
      'FRAME_OUT_OF_RANGE',
      `Frame ${outside} is outside the animation: ${what}, so at ${req.fps} fps the frames are 0–${last}.`,
    );
  }
  const tile = req.tile ?? null;
  const tasks = countTasks(width, height, tile, frames.length);
  if (tasks > MAX_JOB_TASKS) {
    throw new TesseraError('BAD_REQUEST', `Invalid job: it would need ${tasks} tasks, more than ${MAX_JOB_TASKS}; use fewer frames or larger tiles.`);
  }
  const view = ViewSpec.parse({
    width,
    height,
    scene: req.scene,
    camera,
    clip: req.clip,
    fps: req.fps,
    ssaa: req.ssaa,
    toneMapping: req.toneMapping,
    exposure: req.exposure,
    background: req.background,
    environmentIntensity: req.environmentIntensity,
    keyLight: req.keyLight,
    projection: req.projection,
    ipd: req.ipd,
    shadows: req.shadows,
    ground: req.ground,
  });
  const encode = EncodeSpec.parse({ format: req.format, quality: req.quality, lossless: req.lossless, ...(req.effort ? { effort: req.effort } : {}) });
  if (req.requirements?.maxRttMs !== undefined && !(req.client?.rtts.length || req.client?.coordinate)) {
    throw new TesseraError(
      'BAD_REQUEST',
      'Invalid job: requirements.maxRttMs needs the client\'s RTTs to nodes in client.rtts (the SDK\'s client.probe() measures them).',
    );
  }
  return { jobId: ids.jobId, sceneId: req.sceneId, priority: req.priority, view, encode, frames, tile, requirements: sceneRequirements(req.requirements, info) };
}

/**
 * The job's requirements with what its scene needs added: a scene flagged at upload as needing WebGL 2
 * (transmission, volume) requires `webgl2`, so its tasks go only to nodes with a WebGL 2 backend.
 */
export function sceneRequirements(requirements: JobRequirements | undefined, info: Pick<SceneInfo, 'webgl2'>): JobRequirements | null {
  if (info.webgl2?.length) return { ...requirements, webgl2: true };
  return requirements ?? null;
}
