/**
 * The job compiler: turns a checked job into its tasks. Each frame is split into tiles (row by row from the
 * top-left); each tile is a render task. A frame of several tiles gets one stitch task, leased only once
 * its tiles are done; a frame of one tile is rendered by a `final` task that uploads the finished frame.
 */
import type { TaskRequirements } from '../protocol/job-requirements.ts';
import type { Projection } from '../protocol/projection.ts';
import type { EncodeSpec, ViewSpec } from '../protocol/render-spec.ts';
import { tileCount, tileGrid } from '../protocol/tile-grid.ts';
import type { JobClientRecord, JobRecord, TaskRecord } from './job-store.ts';
import { frameKey, tileKey } from './object-keys.ts';
import { taskToken } from './crypto-utils.ts';

/** Everything the compiler needs, already validated against the scene (see plan-job.ts). */
export interface JobPlan {
  jobId: string;
  sceneId: string;
  priority: number;
  view: ViewSpec;
  encode: EncodeSpec;
  frames: number[];
  /** Tile edge in pixels; null renders whole frames. */
  tile: number | null;
  requirements?: TaskRequirements | null;
  client?: JobClientRecord | null;
  /** Route each task by the client's RTTs (true), or hand tasks to the first capable free node (false). */
  routed?: boolean;
  /** The API key id that submits the job. */
  owner?: string | null;
}

/**
 * A stitch decodes its frame's tiles, composites and encodes: per pixel a fraction of what rendering costs.
 * Rough on purpose: it only ranks nodes for a stitch task, whose inputs come from storage anyway.
 */
export const STITCH_PIXEL_WEIGHT = 0.1;

/**
 * Rough cost of an output pixel per projection, relative to a perspective pixel: an equirect pixel is resampled
 * from cube faces rendered whole (and again by every tile that needs them); an omni-directional stereo pixel
 * comes from one of many narrow slice renders, each drawing the whole scene. Only ranks nodes.
 */
export const PROJECTION_PIXEL_WEIGHT: Record<Projection, number> = { perspective: 1, stereo: 1, cube: 1, equirect: 2, 'equirect-stereo': 3 };

/** What a task costs in reference-tile pixels: its tile's pixels times the supersampling, or a stitch's share. */
export function taskPixels(task: Pick<TaskRecord, 'kind' | 'tile'>, view: Pick<ViewSpec, 'width' | 'height' | 'ssaa'> & { projection?: Projection }): number {
  if (task.kind === 'stitch' || !task.tile) return view.width * view.height * STITCH_PIXEL_WEIGHT;
  return task.tile.width * task.tile.height * view.ssaa * view.ssaa * PROJECTION_PIXEL_WEIGHT[view.projection ?? 'perspective'];
}

/** How many tasks a plan compiles to, without building them (for the size cap). */
export function countTasks(width: number, height: number, tile: number | null, frames: number): number {
  const perFrame = tileCount(width, height, tile);
  return frames * (perFrame > 1 ? perFrame + 1 : 1);
}

/** The job record and all its tasks, queued. */
export function compileJob(plan: JobPlan, now: number, token: () => string = taskToken): { job: JobRecord; tasks: TaskRecord[] } {
  const job: JobRecord = {
    jobId: plan.jobId,
    sceneId: plan.sceneId,
    state: 'queued',
    priority: plan.priority,
    view: plan.view,
    encode: plan.encode,
    frames: plan.frames,
    tile: plan.tile,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    error: null,
    requirements: plan.requirements ?? null,
    client: plan.client ?? null,
    routed: plan.routed ?? false,
    owner: plan.owner ?? null,
  };
  const tiles = tileGrid(plan.view.width, plan.view.height, plan.tile);
  const final = tiles.length === 1;
  const blank = {
    jobId: plan.jobId,
    state: 'queued',
    attempts: 0,
    nodeId: null,
    leaseId: null,
    leaseExpiresAt: null,
    notBefore: 0,
    error: null,
    result: null,
    updatedAt: now,
    route: null,
    // A routed job's tasks wait for the router; a first-come job's are open to any capable node at once.
    openAt: job.routed ? null : 0,
    verifies: null,
    round: 0,
    verification: null,
    excludeNodes: [] as string[],
    leasedAt: null,
  } as const;
  const tasks: TaskRecord[] = [];
  for (const frame of plan.frames) {
    tiles.forEach((tile, index) => {
      // Opaque ids and keys: a verify task (issued later, with a token of its own) looks just like these.
      const t = token();
      tasks.push({
        ...blank,
        taskId: `${plan.jobId}.${t}`,
        kind: 'render',
        frame,
        index,
        tile,
        final,
        outputKey: final ? frameKey(plan.jobId, frame, plan.encode.format, t) : tileKey(plan.jobId, frame, tile, t),
      });
    });
    if (!final) {
      const t = token();
      tasks.push({
        ...blank,
        taskId: `${plan.jobId}.${t}`,
        kind: 'stitch',
        frame,
        index: 0,
        tile: null,
        final: false,
        outputKey: frameKey(plan.jobId, frame, plan.encode.format, t),
      });
    }
  }
  return { job, tasks };
}

/** Whether the task uploads a finished frame (a stitch task, or a frame's only render task). */
export function outputsFrame(task: Pick<TaskRecord, 'kind' | 'final'>): boolean {
  return task.kind === 'stitch' || (task.kind === 'render' && task.final);
}
