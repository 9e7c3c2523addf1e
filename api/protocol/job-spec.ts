import { z } from 'zod';
import { parseFrameList, parseSize, MAX_FRAMES } from './frame-list.ts';
import { JobClient, JobRequirements } from './latency.ts';
import { DEFAULT_IPD, MAX_IPD, Projection, projectionSizeProblem } from './projection.ts';
import { Background, CameraSpec, ImageFormat, MAX_EDGE, ToneMapping } from './render-spec.ts';
import { tileCount } from './tile-grid.ts';

/** A scene id: the sha256 (hex) of the stored, normalized GLB. */
export const SceneId = z.string().regex(/^[0-9a-f]{64}$/, 'a scene id is 64 lowercase hex digits (sha256)');

/** Smallest tile edge a job may ask for. */
export const MIN_TILE = 16;

/**
 * Most tiles one frame may split into: its stitch task downloads every one (100k tiles were possible within a job's
 * task cap). 4096 is the largest frame (MAX_EDGE² = 16384²) at 256 px tiles, 64 × 64.
 */
export const MAX_TILES_PER_FRAME = 4096;

/** The smallest tile edge (≥ MIN_TILE) that splits a width × height frame into at most MAX_TILES_PER_FRAME tiles. */
export function smallestTileFor(width: number, height: number): number {
  let tile = Math.max(MIN_TILE, Math.ceil(Math.sqrt((width * height) / MAX_TILES_PER_FRAME)));
  while (tileCount(width, height, tile) > MAX_TILES_PER_FRAME) tile++;
  return tile;
}

/**
 * `POST /v1/jobs`: what a client asks for. Sizes are `"1920x1080"` or `{width, height}`; frames are a list
 * (`"0-23"`, `"0,6,12"`, `[0, 6, 12]`) or, when absent, every frame of the clip at `fps` (frame f = time f/fps).
 * `camera` is a CameraSpec, or a string: `auto` or a glTF camera's name.
 */
export const JobRequest = z
  .object({
    sceneId: SceneId,
    frames: z.union([z.string().max(10_000), z.array(z.number().int().min(0)).min(1).max(MAX_FRAMES)]).optional(),
    size: z.union([z.string().max(32), z.object({ width: z.number().int(), height: z.number().int() })]),
    tile: z.number().int().min(MIN_TILE, `a tile is at least ${MIN_TILE} px`).max(MAX_EDGE).optional(),
    camera: z.union([CameraSpec, z.string().min(1).max(256)]).optional(),
    scene: z.union([z.number().int().min(0), z.string().min(1).max(256)]).optional(),
    clip: z.union([z.number().int().min(0), z.string().min(1).max(256)]).optional(),
    fps: z.number().positive().max(1000).default(24),
    ssaa: z.number().int().min(1).max(4).default(1),
    format: ImageFormat.default('png'),
    quality: z.number().int().min(1).max(100).default(90),
    lossless: z.boolean().default(true),
    /** 'fast' for previews and short frames (bigger files), 'small' (default) for frames people keep. */
    effort: z.enum(['fast', 'small']).optional(),
    background: Background.default('transparent'),
    toneMapping: ToneMapping.default('neutral'),
    exposure: z.number().positive().max(100).default(1),
    environmentIntensity: z.number().min(0).max(100).default(1),
    keyLight: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /** `perspective`, `stereo` (left | right), `equirect` (2:1), `equirect-stereo` (left over right, 1:1), `cube` (6×1 strip). */
    projection: Projection.default('perspective'),
    /** Distance between the eyes in metres for `stereo` and `equirect-stereo`. */
    ipd: z.number().min(0).max(MAX_IPD).default(DEFAULT_IPD),
    shadows: z.boolean().default(true),
    ground: z.enum(['shadow', 'none']).default('none'),
    /** Higher runs first. */
    priority: z.number().int().min(0).max(100).default(50),
    /** What a node must have to get this job's tasks (RAM, texture size, regions, RTT to the client). */
    requirements: JobRequirements.optional(),
    /**
     * The client's network position: RTTs it measured to nodes (SDK: `client.probe()`), optionally its
     * location. With it, each task goes to the node with the earliest expected finish for this client;
     * without it, to the first capable node with a free slot.
     */
    client: JobClient.optional(),
  })
  .strict();
export type JobRequest = z.infer<typeof JobRequest>;
export type JobRequestInput = z.input<typeof JobRequest>;

/** Normalize a JobRequest's size, frames and camera (throws RangeError with a clear message). */
export function normalizeJobRequest(req: JobRequest): {
  width: number;
  height: number;
  frames: number[] | undefined;
  camera: CameraSpec;
} {
  const { width, height } = typeof req.size === 'string' ? parseSize(req.size) : req.size;
  if (!(width >= 1 && width <= MAX_EDGE && height >= 1 && height <= MAX_EDGE)) {
    throw new RangeError(`size ${width}x${height} is out of range: each edge is 1 to ${MAX_EDGE} pixels`);
  }
  const problem = projectionSizeProblem(req.projection, width, height, req.ssaa);
  if (problem) throw new RangeError(problem);
  if (req.tile !== undefined && req.tile > Math.max(width, height)) {
    throw new RangeError(`tile ${req.tile} is larger than the ${width}x${height} frame`);
  }
  if (req.tile !== undefined && tileCount(width, height, req.tile) > MAX_TILES_PER_FRAME) {
    throw new RangeError(
      `tile ${req.tile} splits the ${width}x${height} frame into ${tileCount(width, height, req.tile)} tiles, more than ${MAX_TILES_PER_FRAME} (each frame's stitch downloads them all): use tiles of at least ${smallestTileFor(width, height)} px`,
    );
  }
  const frames = req.frames === undefined ? undefined : typeof req.frames === 'string' ? parseFrameList(req.frames) : [...new Set(req.frames)].sort((a, b) => a - b);
  const camera: CameraSpec =
    req.camera === undefined || req.camera === 'auto'
      ? { kind: 'auto', yaw: 30, pitch: 15, fov: 40 }
      : typeof req.camera === 'string'
        ? { kind: 'gltf', name: req.camera }
        : req.camera;
  return { width, height, frames, camera };
}
