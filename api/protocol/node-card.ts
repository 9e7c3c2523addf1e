import { z } from 'zod';
import { GeoPointSchema } from './geo-point.ts';

/** The most a card may claim: far above any real machine, low enough that no claim can swamp arithmetic. */
export const MAX_TILES_PER_SECOND = 10_000;
export const MAX_RAM_BYTES = 2 ** 46;
export const MAX_TEXTURE_SIZE = 65_536;
export const MAX_PROBE_URL_LENGTH = 512;

/** A probe URL: http or https only (no `data:`, `file:` or `blob:` a fetch would answer locally), length-capped. */
export const ProbeUrl = z
  .string()
  .max(MAX_PROBE_URL_LENGTH)
  .url()
  .refine((u) => /^https?:$/.test(new URL(u).protocol), 'a probe URL must be http or https');

/**
 * A render node's resource card: what it is and what it can do, in one standard format. Nodes send it when
 * they register; the API matches jobs to cards.
 */
export const NodeCard = z.object({
  name: z.string().min(1).max(128),
  region: z.string().max(64).regex(/^[A-Za-z0-9_.:-]*$/, 'a region is letters, digits and _ . : -').default(''),
  version: z.string().max(256),
  cpu: z.object({ model: z.string().max(256), cores: z.number().int().min(1).max(4096) }),
  /** Bounded claims: a card is what a node says, so every number has a plausible ceiling. */
  ramBytes: z.number().int().min(0).max(MAX_RAM_BYTES),
  gl: z.object({
    renderer: z.string().max(256),
    vendor: z.string().max(256),
    version: z.string().max(256),
    maxTextureSize: z.number().int().min(0).max(MAX_TEXTURE_SIZE),
    maxViewport: z.tuple([z.number().int().min(0).max(MAX_TEXTURE_SIZE), z.number().int().min(0).max(MAX_TEXTURE_SIZE)]),
    /** The GL backend (`headless-gl`, `browser-webgl2`, …): with the renderer, the node's renderer identity. */
    backend: z.string().max(64).regex(/^[a-z0-9.-]+$/, 'a GL backend id is lower-case letters, digits, . and -').optional(),
  }),
  /**
   * The node renders tiles only: it takes no stitch task and no frame rendered as one tile, whose finished
   * outputs it cannot encode (a browser tab: PNG tiles yes, EXIF'd WebP/JPEG frames no). Absent: it takes any task.
   */
  tilesOnly: z.boolean().optional(),
  /**
   * Tiles per second on the reference tile (256×256 of the textured sample scene), as the node measured it:
   * a claim. The API routes on the speed it measures from accepted results (a conservative prior until then).
   */
  tilesPerSecond: z.number().min(0).max(MAX_TILES_PER_SECOND),
  concurrency: z.number().int().min(1).max(64).default(1),
  /** Interactive sessions the node serves at once (each holds one render process); 0: none. */
  sessionSlots: z.number().int().min(0).max(64).optional(),
  /**
   * Where clients open session WebSockets (`ws://` or `wss://` base URL of the node's public server; the
   * session id is appended as `/v1/sessions/<id>`). Required for sessionSlots > 0.
   */
  sessionUrl: z.string().url().regex(/^wss?:\/\//, 'a session URL is ws:// or wss://').max(512).optional(),
  /**
   * What the node's sessions can send beyond colour frames: `depth` (rg8-mm-png depth images). A session asking
   * for depth is placed only on nodes that list it (older nodes would send frames without depth); `fast`: the
   * `fidelity: "fast"` session look (older nodes would refuse the lease).
   */
  sessionFeatures: z.array(z.enum(['depth', 'fast'])).max(8).optional(),
  /** Where clients and peers can reach the node's GET /ping (the full http(s) URL), if anywhere. */
  probeUrl: ProbeUrl.optional(),
  /**
   * Where the node says it is: a hint, used only to choose which nodes a located client probes, never to
   * route; ignored once measured RTTs refute it (faster than light in fibre allows).
   */
  location: GeoPointSchema.optional(),
});
export type NodeCard = z.infer<typeof NodeCard>;
export type NodeCardInput = z.input<typeof NodeCard>;
