import { z } from 'zod';
import { GeoPointSchema } from './geo-point.ts';

/** The most a card may claim: far above any real machine, low enough that no claim can swamp arithmetic. */
export const MAX_TILES_PER_SECOND = 10_000;
export const MAX_RAM_BYTES = 2 ** 46;
export const MAX_TEXTURE_SIZE = 65_536;
export const MAX_PROBE_URL_LENGTH = 512;
/** The most GL backends one card may list (a node has headless-gl, Chromium, or both). */
export const MAX_CARD_BACKENDS = 4;

/** The most render features one card may list. */
export const MAX_RENDER_FEATURES = 16;

/**
 * What this version's nodes honour in a batch task beyond what every node does: `view-pose` (ViewSpec `pose`: draw
 * from the given matrices; an older node strips the field it does not know and draws the job's camera instead).
 */
export const RENDER_FEATURES = ['view-pose'] as const;
export type RenderFeature = (typeof RENDER_FEATURES)[number];

/** A GL backend id (`headless-gl`, `chromium`, `browser-webgl2`, …). */
export const GlBackendId = z.string().min(1).max(64).regex(/^[a-z0-9.-]+$/, 'a GL backend id is lower-case letters, digits, . and -');

/**
 * One GL backend a node renders on: whether it has WebGL 2 (transmission, volume) and the renderer identity of
 * its outputs. A claim like the rest of the card: a node that says WebGL 2 and returns opaque glass is caught by
 * verification, which compares its outputs with another WebGL 2 node's by pixels (different identities) or by
 * checksum (equal ones).
 */
export const CardBackend = z
  .object({
    id: GlBackendId,
    webgl2: z.boolean(),
    /** The renderer identity of what this backend renders (as the card's `version` for the first backend). */
    version: z.string().min(1).max(256),
  })
  .strict();
export type CardBackend = z.infer<typeof CardBackend>;

/**
 * A probe URL: http or https only (no `data:`, `file:` or `blob:` a fetch would answer locally), length-capped, and
 * naming the node's probe endpoint `/ping` with no credentials, query or fragment: peers and clients GET it from
 * their own networks, so a card must not be able to point them at any other path (a router's admin page, a cloud
 * metadata service).
 */
export const ProbeUrl = z
  .string()
  .max(MAX_PROBE_URL_LENGTH)
  .url()
  .refine((u) => /^https?:$/.test(new URL(u).protocol), 'a probe URL must be http or https')
  .refine((u) => {
    const url = new URL(u);
    return url.pathname === '/ping' && !url.username && !url.password && !url.search && !url.hash;
  }, 'a probe URL names the node\'s /ping, with no credentials, query or fragment');

/**
 * Why `sessionUrl` may not be advertised beside `probeUrl`, or null: it must be ws:// or wss:// with no credentials,
 * query or fragment (the session path is appended to it), and name the probe URL's host (any port: a node may serve
 * sessions behind another listener), so it needs a probe URL.
 */
export function sessionUrlProblem(sessionUrl: string | undefined, probeUrl: string | undefined): string | null {
  if (sessionUrl === undefined) return null;
  let session: URL;
  try {
    session = new URL(sessionUrl);
  } catch {
    return 'a session URL must be a URL';
  }
  if (session.protocol !== 'ws:' && session.protocol !== 'wss:') return 'a session URL is ws:// or wss://';
  if (session.username || session.password || session.search || session.hash) return 'a session URL has no credentials, query or fragment';
  if (!probeUrl) return 'a session URL needs a probe URL on the same host (clients measure the node there)';
  let probeHost: string;
  try {
    probeHost = new URL(probeUrl).hostname;
  } catch {
    return null; // The probe URL's own check names the problem.
  }
  if (session.hostname !== probeHost) return `a session URL must name the probe URL's host ${probeHost} (got ${session.hostname})`;
  return null;
}

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
    backend: GlBackendId.optional(),
  }),
  /**
   * The GL backends the node renders on, the one it uses by default first: a scene that needs WebGL 2 goes to
   * the first backend with `webgl2`, any other scene to the first one. Absent: one WebGL 1 backend (`gl`,
   * identity `version`), as cards were before backends were listed.
   */
  backends: z
    .array(CardBackend)
    .min(1)
    .max(MAX_CARD_BACKENDS)
    .refine((list) => new Set(list.map((b) => b.id)).size === list.length, 'each backend is listed once')
    .optional(),
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
   * `fidelity: "fast"` session look (older nodes would refuse the lease); `webgl2`: sessions of scenes that need
   * WebGL 2 (KHR_materials_transmission/volume/dispersion) render on a WebGL 2 backend (Chromium); a session of such
   * a scene is placed only on nodes that list it.
   */
  sessionFeatures: z.array(z.enum(['depth', 'fast', 'webgl2'])).max(8).optional(),
  /**
   * What the node's batch renders honour beyond the base task (RENDER_FEATURES): `view-pose`: ViewSpec `pose`. A task
   * that needs one (a session frame's reference render) goes only to nodes that list it. Any bounded id is accepted,
   * so a newer node's card listing a feature this API does not know still registers.
   */
  renderFeatures: z.array(z.string().min(1).max(32).regex(/^[a-z0-9-]+$/, 'a render feature is lower-case letters, digits and -')).max(MAX_RENDER_FEATURES).optional(),
  /** Where clients and peers can reach the node's GET /ping (the full http(s) URL), if anywhere. */
  probeUrl: ProbeUrl.optional(),
  /**
   * Where the node says it is: a hint, used only to choose which nodes a located client probes, never to
   * route; ignored once measured RTTs refute it (faster than light in fibre allows).
   */
  location: GeoPointSchema.optional(),
}).superRefine((card, ctx) => {
  // Clients' browsers open this URL: bound to the host whose probe URL the API and clients measure, so a card cannot
  // point them at any other ws:// address (a router, a service on the client's own network, someone else's server).
  const problem = sessionUrlProblem(card.sessionUrl, card.probeUrl);
  if (problem) ctx.addIssue({ code: 'custom', path: ['sessionUrl'], message: problem });
});
export type NodeCard = z.infer<typeof NodeCard>;
export type NodeCardInput = z.input<typeof NodeCard>;

/** Whether the card says the node's batch renders honour `feature`. */
export function cardHasRenderFeature(card: Pick<NodeCard, 'renderFeatures'>, feature: RenderFeature): boolean {
  return card.renderFeatures?.includes(feature) ?? false;
}

/** Whether the card says the node renders on WebGL 2 (through any of its backends). */
export function cardHasWebgl2(card: Pick<NodeCard, 'backends'>): boolean {
  return card.backends?.some((b) => b.webgl2) ?? false;
}

/**
 * The renderer identity the node's card gives for a scene that needs WebGL 2 (`webgl2`) or not: the version of
 * the backend it renders such a scene on. Verification compares two results by checksum only when these agree.
 */
export function cardRendererIdentity(card: Pick<NodeCard, 'backends' | 'version'>, webgl2: boolean): string {
  const backend = webgl2 ? card.backends?.find((b) => b.webgl2) : card.backends?.[0];
  return backend?.version ?? card.version;
}
