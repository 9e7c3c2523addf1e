import { z } from 'zod';
import { DEFAULT_IPD, MAX_IPD, Projection, projectionSizeProblem } from './projection.ts';

/** Largest output edge in pixels (also the GL backend's viewport limit here). */
export const MAX_EDGE = 16384;

const Vec3 = z.tuple([z.number(), z.number(), z.number()]).refine((v) => v.every(Number.isFinite), 'must be finite numbers');

/** Frame the scene's bounds from a direction given by yaw/pitch (degrees). */
export const AutoCamera = z.object({
  kind: z.literal('auto'),
  yaw: z.number().finite().default(30),
  pitch: z.number().min(-89).max(89).default(15),
  fov: z.number().min(1).max(170).default(40),
});

/** A camera stored in the glTF file, by index or name. */
export const GltfCamera = z
  .object({
    kind: z.literal('gltf'),
    index: z.number().int().min(0).optional(),
    name: z.string().min(1).max(256).optional(),
  })
  .refine((c) => (c.index === undefined) !== (c.name === undefined), 'give exactly one of index or name');

/** An explicit camera: eye position, target and up vector in world units. */
export const LookCamera = z.object({
  kind: z.literal('look'),
  position: Vec3,
  target: Vec3,
  up: Vec3.default([0, 1, 0]),
  fov: z.number().min(1).max(170).default(40),
});

export const CameraSpec = z.union([AutoCamera, GltfCamera, LookCamera]);
export type CameraSpec = z.infer<typeof CameraSpec>;

export const ToneMapping = z.enum(['aces', 'neutral', 'none']);
export type ToneMapping = z.infer<typeof ToneMapping>;

/** `transparent`, `environment` (show the lighting environment) or a `#rrggbb` color. */
export const Background = z.union([
  z.literal('transparent'),
  z.literal('environment'),
  z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a color is #rrggbb'),
]);
export type Background = z.infer<typeof Background>;

/** Everything that decides what one frame looks like (the tile is chosen separately). */
export const ViewSpec = z
  .object({
    width: z.number().int().min(1, 'width must be at least 1 pixel').max(MAX_EDGE, `width must be at most ${MAX_EDGE} pixels`),
    height: z.number().int().min(1, 'height must be at least 1 pixel').max(MAX_EDGE, `height must be at most ${MAX_EDGE} pixels`),
    /** glTF scene by index or name; default: the file's default scene. */
    scene: z.union([z.number().int().min(0), z.string().min(1).max(256)]).optional(),
    camera: CameraSpec.default({ kind: 'auto', yaw: 30, pitch: 15, fov: 40 }),
    /** Animation clip by index or name, `all` to play every clip, `none` for the rest pose; default: the first clip. */
    clip: z.union([z.number().int().min(0), z.string().min(1).max(256)]).optional(),
    fps: z.number().positive().max(1000).default(24),
    /** Supersampling factor per axis. */
    ssaa: z.number().int().min(1, 'ssaa is 1 to 4').max(4, 'ssaa is 1 to 4').default(1),
    toneMapping: ToneMapping.default('neutral'),
    exposure: z.number().positive().max(100).default(1),
    background: Background.default('transparent'),
    environmentIntensity: z.number().min(0).max(100).default(1),
    /** Add a directional key light: `auto` adds one only when the scene has no punctual lights. */
    keyLight: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /** How directions map to pixels: a perspective view, a stereo pair or a panorama (see projection.ts). */
    projection: Projection.default('perspective'),
    /** Distance between the eyes in world units (metres) for `stereo` and `equirect-stereo`. */
    ipd: z.number().min(0, `ipd is 0 to ${MAX_IPD} m`).max(MAX_IPD, `ipd is 0 to ${MAX_IPD} m`).default(DEFAULT_IPD),
    /** The key light and the glTF punctual lights cast soft shadows (every mesh casts and receives). */
    shadows: z.boolean().default(true),
    /** `shadow`: a ground plane under the scene that shows only the shadows cast on it (product shots). */
    ground: z.enum(['shadow', 'none']).default('none'),
    /**
     * Draw from these matrices (column-major, a session pose's eye: `view` world → eye, `projection` eye → clip) instead
     * of `camera`, which still poses the key light and fits the shadows as it does for a session. The API sets it to
     * render a session frame's pose as a batch task, to verify the frame (session-sample.ts). Perspective only.
     */
    pose: z
      .object({ view: z.array(z.number().finite().min(-1e7).max(1e7)).length(16), projection: z.array(z.number().finite().min(-1e7).max(1e7)).length(16) })
      .strict()
      .optional(),
  })
  .superRefine((v, ctx) => {
    if (v.pose && v.projection !== 'perspective') ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['pose'], message: 'a pose is drawn in the perspective projection only' });
    const problem = projectionSizeProblem(v.projection, v.width, v.height, v.ssaa);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['projection'], message: problem });
  });
export type ViewSpec = z.infer<typeof ViewSpec>;
export type ViewSpecInput = z.input<typeof ViewSpec>;

/** A rectangle of a frame in output pixels, origin top-left. */
export const TileRect = z.object({
  x: z.number().int().min(0),
  y: z.number().int().min(0),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
});
export type TileRect = z.infer<typeof TileRect>;

export const ImageFormat = z.enum(['png', 'webp', 'jpeg']);
export type ImageFormat = z.infer<typeof ImageFormat>;

/** How frames are encoded. WebP is lossless unless a quality is given with `lossless: false`. */
export const EncodeSpec = z.object({
  format: ImageFormat.default('png'),
  quality: z.number().int().min(1).max(100).default(90),
  lossless: z.boolean().default(true),
  /**
   * Encoder effort. 'small' (the default when absent): PNG zlib level 6, JPEG through mozjpeg, WebP effort 4 —
   * final frames people keep. 'fast': PNG zlib level 1, plain libjpeg, WebP effort 1 — interactive and short
   * frames, previews, tiles in transit: several times faster for bigger files (README, Throughput: "Encoder effort").
   */
  effort: z.enum(['fast', 'small']).optional(),
});
export type EncodeSpec = z.infer<typeof EncodeSpec>;

/** What a scene may cost before it is refused; every cap is checked before the costly work. */
export const SceneLimits = z.object({
  maxFileBytes: z.number().int().positive().default(512 * 1024 * 1024),
  maxVertices: z.number().int().positive().default(20_000_000),
  /**
   * Vertices one frame draws: every node's mesh, each primitive by its indices (or its vertices), times its
   * EXT_mesh_gpu_instancing instances. Nodes sharing a mesh and primitives sharing indices cost nothing in the file.
   */
  maxDrawnVertices: z.number().int().positive().default(200_000_000),
  maxTexturePixels: z.number().int().positive().default(128 * 1024 * 1024),
  maxTextureEdge: z.number().int().positive().default(16384),
  maxDecodedBytes: z.number().int().positive().default(2 * 1024 * 1024 * 1024),
  maxNodes: z.number().int().positive().default(100_000),
  /**
   * Every glTF object the scene declares (see scene-check/count-gltf-objects.ts): each becomes a glTF-Transform
   * property in the API and a three.js object on the node, at kilobytes apiece, for tens of bytes of JSON.
   */
  maxObjects: z.number().int().positive().default(200_000),
  maxAnimationSeconds: z.number().positive().default(3600),
  maxJsonBytes: z.number().int().positive().default(64 * 1024 * 1024),
});
export type SceneLimits = z.infer<typeof SceneLimits>;
export const SCENE_LIMITS_DEFAULTS: SceneLimits = SceneLimits.parse({});
