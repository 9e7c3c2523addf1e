/** The edge API's options and its dependencies (ports), merged with defaults once in createApi. */
import type { EdgePopConfig } from './routes/edge-routes.ts';
import { INLINE_OUTPUT_LIMIT } from '../protocol/task.ts';
import type { BlobStore } from './blob-store.ts';
import { ROLE_LIMIT_DEFAULTS, type ConfiguredApiKey, type RoleLimits } from './client-keys.ts';
import { NODE_RATE_LIMIT_DEFAULTS, type NodeRateLimits } from './routes/node-admission.ts';
import type { Clock } from './clock.ts';
import type { JobStore } from './job-store.ts';
import type { Logger } from './logger.ts';
import type { Notifier } from './notifier.ts';
import { ROUTING_POLICY_DEFAULTS, type RoutingPolicy } from './routing-policy.ts';
import type { SceneInspector } from '../../scene-check/scene-inspector.ts';
import { TASK_POLICY_DEFAULTS, type TaskPolicy } from './task-policy.ts';
import type { ImageComparer } from './image-comparer.ts';
import type { SessionStore } from './session-store.ts';
import { SESSION_PLACEMENT_DEFAULTS, type SessionPlacementOptions } from './session-placement.ts';

/** Interactive sessions. */
export interface SessionOptions {
  /** How long a session ticket is valid (a client must connect within it). */
  ticketSeconds: number;
  /** base64url of ≥ 32 random bytes: the farm's ticket key (e.g. a Workers secret); absent, one is made and kept in the store. */
  ticketKey?: string;
  placement: SessionPlacementOptions;
}

export const SESSION_DEFAULTS: SessionOptions = { ticketSeconds: 60, placement: SESSION_PLACEMENT_DEFAULTS };
import { PRICING_DEFAULTS, type PricingOptions } from './pricing.ts';
import { PROBE_CHECK_DEFAULTS, type ProbeCheckOptions } from './probe-reachability.ts';
import { TRUST_DEFAULTS, type TrustOptions } from './node-trust.ts';
import { NODE_CREDENTIAL_DEFAULTS, type NodeCredentialOptions } from './node-credentials.ts';
import { VERIFICATION_DEFAULTS, type VerificationOptions } from './verification-policy.ts';
import { INSPECTION_SLOT_DEFAULTS, type InspectionSlotOptions } from './inspection-slots.ts';

/** The outside systems the API talks to. */
export interface ApiDeps {
  jobs: JobStore;
  blobs: BlobStore;
  inspector: SceneInspector;
  clock?: Clock;
  logger?: Logger;
  /** Wake-ups between requests of this process; one is created when absent. */
  notifier?: Notifier;
  /**
   * Compares two stored renders pixel by pixel within a tolerance, for verifications between nodes whose
   * renderer versions differ. Absent: such renders are compared by checksum (so they count as agreeing only
   * when bit-identical).
   */
  comparer?: ImageComparer;
  /** Interactive sessions' records; without it, /v1/sessions answers 503. */
  sessions?: SessionStore;
  /**
   * HMAC-SHA256 computed at once where the runtime has it (node:crypto): the upload token each lease carries is signed
   * without a trip through WebCrypto's thread pool, during which other requests' work would slip into the lease's
   * answer. Absent (Workers): WebCrypto.
   */
  hmacSha256Sync?: (key: Uint8Array, data: Uint8Array) => Uint8Array;
  /**
   * The fetch for nodes' probe URLs where private addresses are not allowed: one that refuses to connect to a private
   * address whatever the name (Node: public-only-fetch.ts). Absent (Workers, whose fetch reaches no private network):
   * the global fetch, behind the URL check alone.
   */
  publicFetch?: typeof fetch;
}

export interface ApiOptions {
  /** Lease length, retry backoff and failure thresholds. */
  policy?: Partial<TaskPolicy>;
  /** Latency routing: health window, grace periods, router, Vivaldi and RTT filter settings. */
  routing?: Partial<RoutingPolicy>;
  /** Verification of untrusted nodes by re-issue: sample rate, blocklist threshold, waits. */
  verification?: Partial<VerificationOptions>;
  /** How much a node's card is believed: the speed prior, when measurements take over, probation. */
  trust?: Partial<TrustOptions>;
  /** Rates of the price quote. */
  pricing?: Partial<PricingOptions>;
  /** How `POST /v1/nodes/:id/reachability` checks a node's probe URL (timeout, private addresses, rates). */
  probeCheck?: Partial<ProbeCheckOptions>;
  /** Largest JSON request body (a completion may be larger by its inline output: see inlineOutputBytes). */
  maxJsonBytes?: number;
  /**
   * Largest task output a node may send inside its completion (protocol 3), which the API hashes and stores
   * itself: one round trip after drawing instead of three (upload report, PUT, completion). Larger outputs go
   * through the storage-checked upload. 0 turns it off; at most INLINE_OUTPUT_LIMIT (8 MiB). Default 512 KiB:
   * on loopback (`npm run bench:upload-check`) inline costs the API less CPU and the node less waiting up to
   * ~256 KiB, and more waiting by 1 MB (base64 and JSON of the bytes); across a real network every round trip
   * saved is worth an RTT, so a deployment whose nodes are far away may raise it.
   */
  inlineOutputBytes?: number;
  /** Largest scene upload (POST /v1/scenes body, or a presigned upload). */
  maxSceneBytes?: number;
  /**
   * Scene inspections (check + normalize) one API process runs at once, and how many uploads may wait for one; past
   * that an upload answers 503 UNAVAILABLE with Retry-After (inspection-slots.ts). Default 2 at once, 4 waiting.
   */
  sceneInspections?: Partial<InspectionSlotOptions>;
  /** Most files in a zip or multipart scene upload. */
  maxSceneFiles?: number;
  /** Most bytes a zip upload may unpack to. */
  maxUnpackedBytes?: number;
  /** Lifetime of the presigned frame download URLs handed to clients. */
  urlSeconds?: number;
  /** Most tasks (GET /v1/jobs/:id) or frames (GET /v1/jobs/:id/frames) one page lists; also the default page. */
  maxPageSize?: number;
  /**
   * Lifetime of the presigned URLs a leased task carries (scene, tiles, output): each names one object
   * and one method. Short, but longer than a task may run (a node's --task-timeout, 600 s by default).
   */
  nodeUrlSeconds?: number;
  /** Lifetime of a presigned scene upload URL. */
  uploadUrlSeconds?: number;
  /** How often long-polls and event streams re-check the store without a wake-up. */
  recheckMs?: number;
  /**
   * How often an idle lease long-poll re-checks without a wake-up (default: recheckMs). Besides wake-ups it
   * always re-checks at the store's next deadline (a retry backoff, a routing grace period or a lease ending),
   * so a deployment whose wake-ups reach every waiter (Workers: through the coordinator) can set it to the
   * longest wait: no periodic re-checks.
   */
  leaseRecheckMs?: number;
  /** Allowed CORS origins. */
  corsOrigin?: string | string[];
  /** When it aborts, long-polls answer at once and event streams end (server shutdown). */
  shutdown?: AbortSignal;
  /** Reported by /v1/health and in the OpenAPI document. */
  version?: string;
  /** The API's public URL, for the OpenAPI document's servers list. */
  publicUrl?: string;
  /**
   * API keys valid from start-up (e.g. TESSERA_API_KEY, a Workers secret), admin unless they say
   * otherwise; more are created with POST /v1/keys. Only their hashes are kept.
   */
  apiKeys?: ConfiguredApiKey[];
  /** Request rate, burst and active-job limits per role, for keys that set none of their own. */
  keyLimits?: { client?: Partial<RoleLimits['client']>; admin?: Partial<RoleLimits['admin']>; node?: Partial<RoleLimits['node']> };
  /**
   * Whether `POST /v1/nodes` needs a join token (`Authorization: Bearer <key>` of a `node` key, made with
   * `tessera keys create --role node`, or an admin key). Off by default: anyone may offer a node, on probation.
   */
  requireJoinToken?: boolean;
  /** Per-address limits on node registration and the node routes (429 past them); see NodeRateLimits. */
  nodeRateLimits?: Partial<NodeRateLimits>;
  /** Interactive sessions: ticket lifetime and key, placement costs. */
  sessions?: Partial<SessionOptions>;
  /** Signed node tokens: lifetime, key, whether unsigned (older) tokens are still accepted. */
  nodeCredentials?: Partial<NodeCredentialOptions>;
  /** This API's PoP for `GET /v1/edge/ping` when it is not behind Cloudflare (Node: TESSERA_EDGE_POP). */
  edgePop?: EdgePopConfig;
  /**
   * Log a `timeline` line (epoch-ms stamp) at each step of a task's way through the API: job submitted, tasks
   * leased, completion received / output checked and stored / recorded / answered, frame event sent
   * (`timeline.ts`; `npm run bench:farm` turns it on with TESSERA_TIMELINE=1 to print its per-hop breakdown).
   */
  timeline?: boolean;
  /**
   * Frames up to this many bytes go inside their `frame` event (base64 `inline`) to clients that ask for it
   * (`GET /v1/jobs/:id/events?inline=1`, as `tessera render --api` does), while this API process still holds them
   * from their inline completion (recent-frames.ts, at most 64 such frames' bytes): the client saves the frame
   * without a storage GET. 0 turns it off. Default 256 KiB.
   */
  eventInlineBytes?: number;
}

export const API_DEFAULTS: Required<Omit<ApiOptions, 'policy' | 'routing' | 'verification' | 'trust' | 'pricing' | 'probeCheck' | 'shutdown' | 'leaseRecheckMs' | 'publicUrl' | 'apiKeys' | 'keyLimits' | 'edgePop' | 'sessions' | 'nodeRateLimits' | 'nodeCredentials' | 'sceneInspections'>> = {
  maxJsonBytes: 1024 * 1024,
  inlineOutputBytes: 512 * 1024,
  maxSceneBytes: 256 * 1024 * 1024,
  maxSceneFiles: 1000,
  maxUnpackedBytes: 512 * 1024 * 1024,
  urlSeconds: 3600,
  maxPageSize: 1000,
  nodeUrlSeconds: 900,
  uploadUrlSeconds: 900,
  recheckMs: 1000,
  corsOrigin: '*',
  version: '0.1.0',
  requireJoinToken: false,
  timeline: false,
  eventInlineBytes: 256 * 1024,
};

/** Options with every default filled in. */
export type ResolvedApiOptions = typeof API_DEFAULTS & {
  policy: TaskPolicy;
  routing: RoutingPolicy;
  verification: VerificationOptions;
  trust: TrustOptions;
  pricing: PricingOptions;
  probeCheck: ProbeCheckOptions;
  shutdown: AbortSignal | undefined;
  leaseRecheckMs: number | undefined;
  publicUrl: string | undefined;
  apiKeys: ConfiguredApiKey[];
  keyLimits: RoleLimits;
  sessions: SessionOptions;
  edgePop: EdgePopConfig | undefined;
  nodeRateLimits: NodeRateLimits;
  nodeCredentials: NodeCredentialOptions;
  sceneInspections: InspectionSlotOptions;
};

/** Merge `options` over the defaults (undefined values keep the default). */
export function resolveApiOptions(options: ApiOptions = {}): ResolvedApiOptions {
  const defined = <T extends object>(o: T | undefined): Partial<T> =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
  const { policy, routing, verification, trust, pricing, probeCheck, shutdown, publicUrl, apiKeys, keyLimits, sessions, nodeRateLimits, nodeCredentials, sceneInspections, ...rest } = options;
  const r = defined(routing);
  const inline = rest.inlineOutputBytes ?? API_DEFAULTS.inlineOutputBytes;
  if (!Number.isInteger(inline) || inline < 0 || inline > INLINE_OUTPUT_LIMIT) {
    throw new RangeError(`inlineOutputBytes must be a whole number from 0 to ${INLINE_OUTPUT_LIMIT} (got ${inline})`);
  }
  const inEvents = rest.eventInlineBytes ?? API_DEFAULTS.eventInlineBytes;
  if (!Number.isInteger(inEvents) || inEvents < 0 || inEvents > INLINE_OUTPUT_LIMIT) {
    throw new RangeError(`eventInlineBytes must be a whole number from 0 to ${INLINE_OUTPUT_LIMIT} (got ${inEvents})`);
  }
  return {
    ...API_DEFAULTS,
    ...defined(rest),
    // Untrusted failures (task-policy.ts) are the trust options' probation, unless the policy says otherwise.
    policy: { ...TASK_POLICY_DEFAULTS, trustedAfterVerified: trust?.probationResults ?? TRUST_DEFAULTS.probationResults, ...defined(policy) },
    verification: { ...VERIFICATION_DEFAULTS, ...defined(verification) },
    trust: { ...TRUST_DEFAULTS, ...defined(trust) },
    pricing: { ...PRICING_DEFAULTS, ...defined(pricing) },
    probeCheck: { ...PROBE_CHECK_DEFAULTS, ...defined(probeCheck) },
    routing: {
      ...ROUTING_POLICY_DEFAULTS,
      ...r,
      route: { ...ROUTING_POLICY_DEFAULTS.route, ...r.route },
      vivaldi: { ...ROUTING_POLICY_DEFAULTS.vivaldi, ...r.vivaldi },
      rttFilter: { ...ROUTING_POLICY_DEFAULTS.rttFilter, ...r.rttFilter },
      popLearning: { ...ROUTING_POLICY_DEFAULTS.popLearning, ...r.popLearning },
      edgeRtts: { ...ROUTING_POLICY_DEFAULTS.edgeRtts, ...r.edgeRtts },
    },
    shutdown,
    leaseRecheckMs: rest.leaseRecheckMs,
    publicUrl,
    apiKeys: apiKeys ?? [],
    sessions: { ...SESSION_DEFAULTS, ...defined(sessions), placement: { ...SESSION_PLACEMENT_DEFAULTS, ...defined(sessions?.placement) } },
    keyLimits: {
      client: { ...ROLE_LIMIT_DEFAULTS.client, ...defined(keyLimits?.client) },
      admin: { ...ROLE_LIMIT_DEFAULTS.admin, ...defined(keyLimits?.admin) },
      node: { ...ROLE_LIMIT_DEFAULTS.node, ...defined(keyLimits?.node) },
    },
    nodeRateLimits: { ...NODE_RATE_LIMIT_DEFAULTS, ...defined(nodeRateLimits) },
    nodeCredentials: { ...NODE_CREDENTIAL_DEFAULTS, ...defined(nodeCredentials) },
    sceneInspections: { ...INSPECTION_SLOT_DEFAULTS, ...defined(sceneInspections) },
    edgePop: rest.edgePop,
  };
}
