import { z } from 'zod';
import { GeoPointSchema } from './geo-point.ts';

/**
 * A render node's resource card: what it is and what it can do, in one standard format. Nodes send it when
 * they register; the API matches jobs to cards.
 */
export const NodeCard = z.object({
  name: z.string().min(1).max(128),
  region: z.string().max(64).default(''),
  version: z.string().max(256),
  cpu: z.object({ model: z.string().max(256), cores: z.number().int().min(1).max(4096) }),
  ramBytes: z.number().int().min(0),
  gl: z.object({
    renderer: z.string().max(256),
    vendor: z.string().max(256),
    version: z.string().max(256),
    maxTextureSize: z.number().int().min(0),
    maxViewport: z.tuple([z.number().int(), z.number().int()]),
  }),
  /** Tiles per second on the reference tile (256×256 of the textured sample scene). */
  tilesPerSecond: z.number().min(0),
  concurrency: z.number().int().min(1).max(64).default(1),
  /** Interactive sessions the node serves at once (each holds one render process); 0: none. */
  sessionSlots: z.number().int().min(0).max(64).optional(),
  /**
   * Where clients open session WebSockets (`ws://` or `wss://` base URL of the node's public server; the
   * session id is appended as `/v1/sessions/<id>`). Required for sessionSlots > 0.
   */
  sessionUrl: z.string().url().regex(/^wss?:\/\//, 'a session URL is ws:// or wss://').max(512).optional(),
  /** Where clients and peers can reach the node's GET /ping (the full URL), if anywhere. */
  probeUrl: z.string().url().optional(),
  /** Where the node says it is: only used to choose which nodes a located client probes, never to route. */
  location: GeoPointSchema.optional(),
});
export type NodeCard = z.infer<typeof NodeCard>;
export type NodeCardInput = z.input<typeof NodeCard>;
