/**
 * All of the Node API's configuration, read from the environment in one place:
 *
 *   TESSERA_HOST, TESSERA_PORT             where to listen (127.0.0.1:8787)
 *   TESSERA_DATA_DIR                       database (and local S3 objects) folder (.data/api)
 *   TESSERA_PUBLIC_URL                     the API's public URL, for the OpenAPI document
 *   TESSERA_S3_ENDPOINT                    S3-compatible endpoint; unset: start a local s3rver in the data dir
 *   TESSERA_S3_PUBLIC_ENDPOINT             endpoint presigned URLs name, if nodes reach storage elsewhere
 *   TESSERA_S3_REGION, TESSERA_S3_BUCKET   (us-east-1, tessera)
 *   TESSERA_S3_ACCESS_KEY_ID, TESSERA_S3_SECRET_ACCESS_KEY
 *   TESSERA_LEASE_MS                       task lease length (30000)
 *   TESSERA_MAX_SCENE_BYTES                largest scene upload (268435456)
 *   TESSERA_REQUEST_TIMEOUT_MS             most time a request (headers and body) may take to arrive (120000)
 *   TESSERA_INSPECTION_HEAP_MB             heap cap of one scene inspection's thread, MiB (2048)
 *   TESSERA_INSPECTION_TIMEOUT_MS          longest one scene inspection may take before its thread is ended (120000)
 *   TESSERA_LOG_LEVEL                      pino level (info)
 *   TESSERA_VERIFY_SAMPLE_RATE             share of render results re-issued to another node (0.03)
 *   TESSERA_VERIFY_BLOCKLIST_AFTER         outvoted results that blocklist a node (3)
 *   TESSERA_PRICE_PER_RENDER_SECOND, TESSERA_PRICE_PER_MEGAPIXEL, TESSERA_PRICE_CURRENCY   quote rates
 *   TESSERA_API_KEY                        the operator's admin API key (else created once, kept in the data dir)
 *   TESSERA_METRICS_PORT, TESSERA_METRICS_HOST   Prometheus /metrics on its own listener (off; host 127.0.0.1)
 *   TESSERA_PROBE_ALLOW_PRIVATE            1: node reachability checks may fetch loopback/private addresses (0)
 *   TESSERA_REQUIRE_JOIN_TOKEN             1: POST /v1/nodes needs a join token (tessera keys create --role node) (0)
 *   TESSERA_EDGE_POP                       this API's PoP for GET /v1/edge/ping: a colo code (placed by the
 *                                          colo table) or CODE@lat,lon; unset: API, the API is one PoP where it
 *                                          runs (clients time it, it times nodes: a landmark for first contact);
 *                                          off: no PoP (an API behind a proxy or in several places at once)
 *   TESSERA_TRUST_CLIENT_POP               1: jobs teach the PoP their client names (client.edge.pop) which nodes
 *                                          were best; only for clients the operator trusts: on Node no edge
 *                                          vouches for a client's PoP (on Workers it is request.cf.colo) (0)
 *   TESSERA_HOLD_CREDIT                    1: a new node's accepted work is held (not credited) until it has a
 *                                          verified record (trust.holdCreditOnProbation; pending credit) (0)
 */
import path from 'node:path';
import { TesseraError } from '../protocol/errors.ts';
import type { PricingOptions } from '../core/pricing.ts';
import type { VerificationOptions } from '../core/verification-policy.ts';
import type { S3Config } from './s3-blob-store.ts';
import type { EdgePopConfig } from '../core/routes/edge-routes.ts';

export interface ApiConfig {
  host: string;
  port: number;
  dataDir: string;
  publicUrl: string | undefined;
  /** Null: no S3 configured, run a local one. */
  s3: S3Config | null;
  leaseMs: number | undefined;
  maxSceneBytes: number | undefined;
  /** Node's requestTimeout (start-api.ts REQUEST_TIMEOUT_MS when unset): raise it for clients on slow links. */
  requestTimeoutMs: number | undefined;
  /** Scene inspection threads' heap cap and time limit (node-scene-inspector.ts defaults when unset). */
  inspection: { maxHeapMb: number | undefined; timeoutMs: number | undefined };
  logLevel: string;
  /** Unset fields keep the API's defaults. */
  verification: Partial<VerificationOptions>;
  pricing: Partial<PricingOptions>;
  /** Where GET /metrics listens; undefined port: no metrics listener. */
  metrics: { host: string; port: number | undefined };
  /** Whether reachability checks may fetch loopback and private addresses (a farm on one machine or a LAN). */
  probeAllowPrivate: boolean;
  /** Whether node registration needs a join token. */
  requireJoinToken: boolean;
  edgePop: EdgePopConfig | undefined;
  /** Whether jobs teach the PoP their client names (per-PoP learning; see pop-learner.ts). */
  trustClientPop: boolean;
  /** Whether new nodes' credit is held until they have a verified record (node-trust.ts holdCreditOnProbation). */
  holdCredit: boolean;
}

type Env = Record<string, string | undefined>;

/** A numeric variable within [min, max] (whole when `integer`), or undefined when unset; throws naming it. */
function numberVar(env: Env, name: string, min: number, max: number, integer: boolean): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!(integer ? Number.isInteger(value) : Number.isFinite(value)) || value < min || value > max) {
    throw new TesseraError('BAD_REQUEST', `${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got "${raw}".`);
  }
  return value;
}

const integer = (env: Env, name: string, min: number, max: number) => numberVar(env, name, min, max, true);
const decimal = (env: Env, name: string, min: number, max: number) => numberVar(env, name, min, max, false);

/** A 0/1 (or false/true) variable, false when unset; throws naming it. */
function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new TesseraError('BAD_REQUEST', `${name} must be 0 or 1, got "${env[name]}".`);
}

/** Read the configuration from `env`; throws BAD_REQUEST naming the variable that is wrong. */
export function readApiConfig(env: Env = process.env): ApiConfig {
  const endpoint = env.TESSERA_S3_ENDPOINT || undefined;
  let s3: S3Config | null = null;
  if (endpoint) {
    const accessKeyId = env.TESSERA_S3_ACCESS_KEY_ID;
    const secretAccessKey = env.TESSERA_S3_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new TesseraError('BAD_REQUEST', 'TESSERA_S3_ENDPOINT is set, so TESSERA_S3_ACCESS_KEY_ID and TESSERA_S3_SECRET_ACCESS_KEY must be too.');
    }
    s3 = {
      endpoint,
      region: env.TESSERA_S3_REGION || 'us-east-1',
      bucket: env.TESSERA_S3_BUCKET || 'tessera',
      accessKeyId,
      secretAccessKey,
      publicEndpoint: env.TESSERA_S3_PUBLIC_ENDPOINT || undefined,
    };
  }
  return {
    host: env.TESSERA_HOST || '127.0.0.1',
    port: integer(env, 'TESSERA_PORT', 0, 65535) ?? 8787,
    dataDir: path.resolve(env.TESSERA_DATA_DIR || '.data/api'),
    publicUrl: env.TESSERA_PUBLIC_URL || undefined,
    s3,
    leaseMs: integer(env, 'TESSERA_LEASE_MS', 1000, 3_600_000),
    maxSceneBytes: integer(env, 'TESSERA_MAX_SCENE_BYTES', 1024, 8 * 1024 ** 3),
    requestTimeoutMs: integer(env, 'TESSERA_REQUEST_TIMEOUT_MS', 1000, 3_600_000),
    inspection: {
      maxHeapMb: integer(env, 'TESSERA_INSPECTION_HEAP_MB', 64, 64 * 1024),
      timeoutMs: integer(env, 'TESSERA_INSPECTION_TIMEOUT_MS', 1000, 3_600_000),
    },
    logLevel: env.TESSERA_LOG_LEVEL || 'info',
    verification: {
      sampleRate: decimal(env, 'TESSERA_VERIFY_SAMPLE_RATE', 0, 1),
      blocklistAfter: integer(env, 'TESSERA_VERIFY_BLOCKLIST_AFTER', 1, 1_000_000),
    },
    pricing: {
      perRenderSecond: decimal(env, 'TESSERA_PRICE_PER_RENDER_SECOND', 0, 1e9),
      perMegapixel: decimal(env, 'TESSERA_PRICE_PER_MEGAPIXEL', 0, 1e9),
      currency: env.TESSERA_PRICE_CURRENCY || undefined,
    },
    metrics: { host: env.TESSERA_METRICS_HOST || '127.0.0.1', port: integer(env, 'TESSERA_METRICS_PORT', 0, 65535) },
    probeAllowPrivate: flag(env, 'TESSERA_PROBE_ALLOW_PRIVATE'),
    requireJoinToken: flag(env, 'TESSERA_REQUIRE_JOIN_TOKEN'),
    edgePop: edgePopVar(env.TESSERA_EDGE_POP),
    trustClientPop: flag(env, 'TESSERA_TRUST_CLIENT_POP'),
    holdCredit: flag(env, 'TESSERA_HOLD_CREDIT'),
  };
}

/**
 * The PoP a Node API is when TESSERA_EDGE_POP is unset: one process in one place, so its own RTTs to nodes and
 * a client's RTT to it bound that client's RTT to every node (the edge as a landmark, docs/routing.md).
 */
export const NODE_API_DEFAULT_POP: EdgePopConfig = { pop: 'API' };

/** TESSERA_EDGE_POP: `CODE`, `CODE@lat,lon`, or `off`; unset: NODE_API_DEFAULT_POP. */
function edgePopVar(raw: string | undefined): EdgePopConfig | undefined {
  if (raw === undefined || raw.trim() === '') return NODE_API_DEFAULT_POP;
  if (raw.trim().toLowerCase() === 'off') return undefined;
  const m = /^([A-Za-z0-9_-]{1,16})(?:@(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?))?$/.exec(raw.trim());
  const lat = m?.[2] === undefined ? undefined : Number(m[2]);
  const lon = m?.[3] === undefined ? undefined : Number(m[3]);
  if (!m || (lat !== undefined && Math.abs(lat) > 90) || (lon !== undefined && Math.abs(lon) > 180)) {
    throw new TesseraError('BAD_REQUEST', `TESSERA_EDGE_POP must be a PoP code (1–16 letters, digits, _ or -), optionally @lat,lon; got "${raw}".`);
  }
  return lat === undefined ? { pop: m[1] } : { pop: m[1], lat, lon };
}
