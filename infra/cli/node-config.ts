/**
 * `tessera node start --config FILE`: the node's settings as a JSON file, validated with zod; a flag given on
 * the command line wins over the file. Field names are the flags' in camelCase, e.g.
 *
 *   { "api": "https://render-api.example.com", "name": "ams-1", "region": "eu-west", "concurrency": 2,
 *     "cache": "/var/cache/tessera", "probePort": 7070, "probeUrl": "http://203.0.113.7:7070/ping",
 *     "location": "52.37,4.90", "taskTimeout": 600, "taskMemory": 4096, "metricsPort": 9465,
 *     "joinToken": "tsk_…" }
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { TesseraError } from '../../api/protocol/errors.ts';

const port = z.number().int().min(0).max(65535);
const httpUrl = z.string().max(2048).url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL');
const Location = z.union([
  z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).strict(),
  z
    .string()
    .regex(/^\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*$/, 'must be "LAT,LON"')
    .transform((v) => {
      const [lat, lon] = v.split(',').map(Number);
      return { lat, lon };
    })
    .refine((p) => Math.abs(p.lat) <= 90 && Math.abs(p.lon) <= 180, 'latitude is -90 to 90, longitude -180 to 180'),
]);

/** Everything `tessera node start` takes, as a file. Unknown keys are errors (a typo must not be ignored). */
export const NodeConfigFile = z
  .object({
    api: httpUrl,
    joinToken: z.string().min(1).max(256),
    name: z.string().min(1).max(64),
    region: z.string().max(64),
    concurrency: z.number().int().min(1).max(64),
    cache: z.string().min(1).max(4096),
    probePort: port,
    probeHost: z.string().min(1).max(255),
    probeUrl: httpUrl,
    location: Location,
    taskTimeout: z.number().positive().max(86_400),
    taskMemory: z.number().min(64).max(1024 * 1024),
    metricsPort: port,
    metricsHost: z.string().min(1).max(255),
    sessionSlots: z.number().int().min(0).max(64),
    cores: z.number().int().min(1).max(1024),
    leasing: z.enum(['batched', 'per-slot']),
    backend: z.enum(['auto', 'chromium', 'headless-gl']),
    chromiumTimeout: z.number().positive().max(86_400),
    rasterThreads: z.number().int().min(0).max(256),
    sessionEncode: z.enum(['overlap', 'serial']),
    tlsCert: z.string().min(1).max(4096),
    tlsKey: z.string().min(1).max(4096),
  })
  .partial()
  .strict();
export type NodeConfigFile = z.infer<typeof NodeConfigFile>;

/** Read and validate a node config file; errors name the file and the field. */
export async function readNodeConfig(file: string): Promise<NodeConfigFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new TesseraError('BAD_REQUEST', `cannot read the config file ${file}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TesseraError('BAD_REQUEST', `the config file ${file} is not JSON: ${(cause as Error).message}`, { cause });
  }
  const parsed = NodeConfigFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TesseraError('BAD_REQUEST', `the config file ${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return parsed.data;
}
