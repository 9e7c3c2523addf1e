/**
 * The job store port: durable records of scenes, jobs, tasks and nodes, and the few operations that must
 * be atomic (lease, complete, fail, expire, cancel). Every status change inside them goes through the
 * state machine (`state-machine.ts`); each operation returns the changes it made so the caller can log
 * them. The shared contract suite in `test/api/job-store-contract.ts` runs against every implementation.
 */
import type { JobQuota, JobQuotaVerdict } from './job-quota.ts';
import type { EdgeSighting } from '../protocol/edge.ts';
import type { JobState, TaskState, VerificationState } from '../protocol/job-status.ts';
import type { Coordinate, GeoPoint, NodeReputation, TaskRouteView } from '../protocol/latency.ts';
import type { TaskRequirements } from '../protocol/job-requirements.ts';
import type { LedgerEntry } from '../protocol/metering.ts';
import type { ApiKeyLimits, ApiKeyRole } from '../protocol/api-keys.ts';
import type { NodeCard } from '../protocol/node-card.ts';
import { LEASE_AHEAD_LIMIT } from '../protocol/task.ts';
import type { EncodeSpec, TileRect, ViewSpec } from '../protocol/render-spec.ts';
import type { SceneInfo } from '../../scene-check/scene-inspector.ts';
import type { StatusChange } from './state-machine.ts';
import type { ClaimRules } from './node-trust.ts';
import type { TaskPolicy } from './task-policy.ts';
import type { VerificationRules } from './verification-policy.ts';

export interface SceneRecord {
  sceneId: string;
  /** Size of the stored, normalized GLB. */
  bytes: number;
  stats: Record<string, unknown>;
  info: SceneInfo;
  createdAt: number;
}

export interface JobRecord {
  jobId: string;
  sceneId: string;
  state: JobState;
  /** Higher runs first. */
  priority: number;
  view: ViewSpec;
  encode: EncodeSpec;
  frames: number[];
  /** Tile edge in pixels; null renders whole frames. */
  tile: number | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  /** What a node must have to get this job's tasks; null: any node. */
  requirements: TaskRequirements | null;
  /** The client's network position, as the job brought it (RTTs by node id) and as the API fitted it. */
  client: JobClientRecord | null;
  /**
   * True: each task is routed (chosen node, fallback, grace) by the client's RTTs. False (no RTT
   * information): any capable node with a free slot leases the next task, first come first served.
   */
  routed: boolean;
  /** The id of the API key that submitted it; null for jobs from before API keys (admins only). */
  owner: string | null;
}

/** A job's client: measured RTTs (ms) by node id, location, and its network coordinate (sent or fitted). */
export interface JobClientRecord {
  rttMs: Record<string, number>;
  location: GeoPoint | null;
  coordinate: Coordinate | null;
  /** The client's PoP and RTT to it, when it timed `GET /v1/edge/ping`. */
  edge?: EdgeSighting;
}

/** Where a task was routed and why; `leasedAs` says how it was leased in the end. */
export type TaskRoute = TaskRouteView & {
  /** After this time (epoch ms) the fallback may lease the task; null: no fallback. */
  fallbackAt: number | null;
};

/** `verify`: a render of another render task's tile (or a stitch of a stitch task's tiles: no tile of its own) by a different node, to compare with its result. */
export type TaskKind = 'render' | 'stitch' | 'verify';

/** A sampled render or stitch task's verification (see VerificationState). */
export interface TaskVerification {
  state: VerificationState;
  /** Nodes whose renders agreed with the accepted result, the renderer first. */
  verifiedBy: string[];
  /** Nodes whose results for this task were outvoted. */
  disproven: string[];
}

export interface TaskRecord {
  taskId: string;
  jobId: string;
  kind: TaskKind;
  frame: number;
  /** Tile index within the frame (row by row), 0 for a stitch task; orders tasks of one frame. */
  index: number;
  /** The tile a render task draws; null for stitch tasks. */
  tile: TileRect | null;
  /** A render task whose tile is the whole frame: it uploads the finished frame, no stitch follows. */
  final: boolean;
  /** Where the task's output goes. */
  outputKey: string;
  state: TaskState;
  /** Times the task was leased, the current lease included. */
  attempts: number;
  nodeId: string | null;
  leaseId: string | null;
  leaseExpiresAt: number | null;
  /** Not leased before this time (retry backoff). */
  notBefore: number;
  error: string | null;
  /** Size and sha256 the node reported for its output. */
  result: { bytes: number; checksum: string } | null;
  updatedAt: number;
  /** Where the router sent the task and why; null until routed (first-come tasks get one when leased). */
  route: TaskRoute | null;
  /**
   * From this time (epoch ms) any capable node may lease the task: 0 for first-come tasks, the end of the
   * grace periods for routed ones; null while only the routed node (and its fallback) may.
   */
  openAt: number | null;
  /** A verify task: the render or stitch task it verifies; null otherwise. */
  verifies: string | null;
  /** Verification round: of a render task, its current one; of a verify task, the one it belongs to. */
  round: number;
  /** A sampled render or stitch task's verification; null when not sampled (and for verify tasks). */
  verification: TaskVerification | null;
  /** Nodes that may not lease the task (the nodes a verification compares, outvoted nodes). */
  excludeNodes: string[];
  /** When the current (or last) lease began; bounds the render time its node may claim. */
  leasedAt: number | null;
}

export interface TaskCounts {
  tasks: number;
  tasksDone: number;
  renders: number;
  rendersDone: number;
  /** Frames whose finished image is stored. */
  framesDone: number;
}

/** The cursor listFinishedFramesSince starts from: before the first finished frame. */
export const FINISHED_FRAMES_START = 0;

/** A page of listFinishedFramesSince: finished frame tasks in finish order, and the cursor after the last (`after` when none). */
export interface FinishedFramesSince {
  tasks: TaskRecord[];
  cursor: number;
}

/** A client API key as stored: its sha256, never the key. */
export interface ApiKeyRecord {
  keyId: string;
  keyHash: string;
  name: string;
  role: ApiKeyRole;
  limits: ApiKeyLimits | null;
  createdAt: number;
  revokedAt: number | null;
}

export interface NodeRecord {
  nodeId: string;
  /** sha256 hex of the node's bearer token; the token itself is never stored. */
  tokenHash: string;
  card: NodeCard;
  registeredAt: number;
  lastSeenAt: number;
  load: number;
  /** Its network coordinate; null (or absent when registering) until it has been measured. */
  coordinate?: Coordinate | null;
  /** Filtered node ↔ API RTT (ms); null (or absent when registering) until measured. */
  rttToApiMs?: number | null;
  /** The PoP its requests reach and its RTT to it (from its heartbeats); absent until reported. */
  edge?: EdgeSighting;
  /** Its latest filtered RTTs to peers it measured, or that measured it (ms, by node id): the measured matrix. */
  peerRttMs?: Record<string, number>;
  /** Verified and outvoted results, blocklisting; absent when registering (a new node starts clean). */
  reputation?: NodeReputation;
  /** The secret its GET /ping answers challenges with (HMAC); null for nodes registered before probe keys. */
  probeKey?: string | null;
  /** When it last asked for work (lease call); null until it has. */
  lastLeaseAt?: number | null;
  /** What the API measured of its accepted render results (absent when registering: nothing yet). */
  throughput?: NodeThroughput;
  /** Why its claimed location is ignored (measured RTTs refuted it); null while not refuted. */
  locationRefuted?: string | null;
  /** Scene ids it last reported holding in its scene cache (a claim: a routing hint only); absent until reported. */
  cachedScenes?: string[];
  /**
   * Where it registered from, as the API saw it (never a claim of the node's): who may be one operator with whom
   * (session-vote-trust.ts). Null or absent for nodes registered before this was kept.
   */
  origin?: NodeOrigin | null;
}

/** What the API saw of a node's registration: its address's network, and the join token it registered with. */
export interface NodeOrigin {
  /** The registering address's network (IPv4 /24, IPv6 /48; see node-origin.ts), or `unknown`. */
  network: string;
  /** The id of the join token (a `node` or admin key) it registered with; null where registration is open. */
  joinKey: string | null;
}

/**
 * A node's accepted render results: pixels, and the time charged for them (ms): per result its reported compute
 * time, but never less than a share of the wall time the API saw from lease to completion (MIN_WALL_SHARE).
 */
export interface NodeThroughput {
  pixels: number;
  ms: number;
  results: number;
  /** The fastest single result, in reference tiles per second (warm-up results, such as a scene's first, are slow). */
  best: number;
}

/** New network facts about a node (absent fields stay as they are). */
export interface NodeNetworkUpdate {
  nodeId: string;
  coordinate?: Coordinate;
  rttToApiMs?: number;
  edge?: EdgeSighting;
  /** Replaces the node's peer RTTs (the caller merges old and new). */
  peerRttMs?: Record<string, number>;
  /** Replaces the scene ids it reports cached. */
  cachedScenes?: string[];
}

/** A node's work in hand, counted from the tasks. */
export interface NodeTaskCounts {
  /** Tasks routed to it that are queued (not leased yet). */
  queued: number;
  /** Tasks it holds a lease on. */
  running: number;
}

/** A queued task ready to be routed, with the nodes it already failed on (to avoid them). */
export interface RoutableTask {
  task: TaskRecord;
  failedOn: string[];
}

/** A routing decision to store; applied only while the task is queued and still routed to `expectNode`. */
export interface RouteAssignment {
  taskId: string;
  expectNode: string | null;
  route: TaskRoute;
  openAt: number | null;
}

/** The result of an operation on one task. */
export interface TaskOutcome {
  task: TaskRecord;
  job: JobRecord;
  changes: StatusChange[];
  /** Set when completing a verify task decided (or advanced) a vote. */
  verdict?: VerificationVerdict;
  /**
   * Nodes this completion proved liars and blocklisted, with why: its vote's losers past the blocklist threshold,
   * and nodes whose cards it proved inflated (CompleteInput.claims). Absent when none.
   */
  blocklisted?: { nodeId: string; reason: string }[];
}

/** Ledger entries to list: a job's, a node's, or all. */
export interface LedgerFilter {
  jobId?: string;
  nodeId?: string;
}

export interface LeaseInput {
  nodeId: string;
  leaseId: string;
  now: number;
  policy: TaskPolicy;
  /** The leasing node's card: a task of a job whose requirements it fails is never handed to it. */
  card?: NodeCard;
  /** Most tasks the node may hold leases on at once (its slots); none past it. Default: no cap. */
  maxLeases?: number;
}

/**
 * Lease up to `leaseIds.length` tasks in one step (one Durable Object request on Workers): optionally sweep
 * expired leases first, then lease as `leaseNext` would, once per lease id, while the node holds fewer than
 * `maxLeases`. Lease-ahead: up to `ahead` leases beyond `maxLeases` (bounded by LEASE_AHEAD_MAX), each with a
 * short first lease (`aheadLeaseMs`): a task queued on the node so its next render starts while the previous
 * one uploads, which comes back to the queue fast when the node does not start it (heartbeats extend only the
 * leases a node lists, and an honest node lists only tasks it runs).
 */
export interface LeaseManyInput extends Omit<LeaseInput, 'leaseId'> {
  /** One fresh lease id per task wanted: their number is the most tasks this call leases. */
  leaseIds: string[];
  /** Leases allowed beyond `maxLeases` (lease-ahead); 0 by default, never more than LEASE_AHEAD_MAX. */
  ahead?: number;
  /** The first lease of a lease-ahead task (ms); `policy.leaseMs` by default, never longer. */
  aheadLeaseMs?: number;
  /** Requeue (or fail) expired leases first, in the same step. */
  expire?: boolean;
}

/** What `leaseMany` did: the tasks leased (in lease order) and the leases it expired first. */
export interface LeaseManyOutcome {
  leased: TaskOutcome[];
  expired: StatusChange[];
  /** Whether any runnable (queued or running) job is routed, after this step: the router need not run while none is. */
  routedJobs: boolean;
  /**
   * When it leased fewer than asked: the earliest time something may become leasable without a wake-up (a retry
   * backoff or a routing grace period ending, a lease running out); null when nothing is pending, or when it leased all.
   */
  wakeAt: number | null;
}

/** Most lease-ahead tasks a node may hold beyond its slots: the protocol's bound, enforced again by the store. */
export const LEASE_AHEAD_MAX = LEASE_AHEAD_LIMIT;

export interface CompleteInput {
  taskId: string;
  nodeId: string;
  leaseId: string;
  result: { bytes: number; checksum: string };
  now: number;
  /** Compute time the node reported, clamped by the API (ms); for the ledger. */
  renderMs?: number;
  /** A render or stitch task: re-issue its result to another node for verification (a re-render is verified anyway). */
  sample?: boolean;
  /**
   * False when no other node could verify the result (none healthy may run the job): it is accepted
   * unverified even when sampled or a re-render (`skipped`). Default true.
   */
  verifiable?: boolean;
  /**
   * A verify task: whether its output agrees with each earlier result of its round (the original first).
   * Absent: agreement is checksum equality (same renderer version).
   */
  agrees?: boolean[];
  /** Blocklist threshold and round limit; defaults apply when absent. */
  verification?: VerificationRules;
  /**
   * Check the cards of the nodes this completion measures (the completing node, and those its vote credits):
   * a card proven inflated (node-trust.ts inflatedClaim) blocklists its node. Absent: no check.
   */
  claims?: ClaimRules;
}

/** One result of a verification round: who delivered it and where it is. */
export interface RoundResult {
  taskId: string;
  nodeId: string;
  checksum: string;
  outputKey: string;
}

/** What a verify task is compared with: the earlier results of its round, the original first. */
export interface VerificationRound {
  target: TaskRecord;
  earlier: RoundResult[];
}

/** What a vote did, for the log. */
export interface VerificationVerdict {
  taskId: string;
  outcome: 'verified' | 'escalated' | 'disproven' | 'inconclusive' | 'skipped';
  winners: string[];
  losers: string[];
  /** Nodes blocklisted by this vote. */
  blocklisted: string[];
}

export interface FailInput {
  taskId: string;
  nodeId: string;
  leaseId: string;
  reason: string;
  sceneFault: boolean;
  now: number;
  policy: TaskPolicy;
}

export interface HeartbeatInput {
  nodeId: string;
  leaseIds: string[];
  load: number;
  now: number;
  policy: TaskPolicy;
}

/** Who a node call says it is: the sha256 of its bearer token, and the node id its route names (when it names one). */
export interface NodeCredentials {
  tokenHash: string;
  nodeId?: string;
}

/**
 * A node's lease call as one step (one Durable Object request on Workers): check its credentials (as
 * `checkNodeCredentials`), then, unless it is blocklisted, lease as `leaseMany` with the node's own card and
 * slots: at most `min(max, card.concurrency) + ahead` of `leaseIds`.
 */
export interface AuthenticateAndLeaseInput extends Omit<LeaseManyInput, 'nodeId' | 'card' | 'maxLeases'> {
  credentials: NodeCredentials & { nodeId: string };
  /** Most tasks wanted within the node's slots (the store caps it at the card's concurrency). */
  max: number;
  /**
   * When it leased nothing, the longest the call may wait for a wake-up before answering (ms). Only a store that
   * hears the farm's wake-ups itself (the coordinator object) waits, and only while no runnable job is routed and no
   * lease just expired (so no routing pass is due in the caller); it says so in `waited`. Others answer at once.
   */
  waitMs?: number;
  /**
   * A node whose previous lease call is older than this (and that holds no lease) resumes asking for work: while a
   * runnable job is routed, the call only records it and leases nothing (`resumed`), so the caller's routing pass
   * can count the node before it leases.
   */
  resumeBefore?: number;
}

export interface AuthenticateAndLeaseOutcome {
  /** The node as it was before this call (its previous lease call included). */
  node: NodeRecord;
  /** Null when the node is blocklisted: nothing was leased or recorded. */
  lease: LeaseManyOutcome | null;
  /** Whether any job is queued or running (when none is, there is nothing to route, verify or sweep). */
  runnableJobs: boolean;
  /**
   * Set when the store waited after leasing nothing: whether a wake-up (rather than the time) ended the wait, and
   * whether a newer poll of the same node ended it (more waiting polls than its slots): then answer at once.
   */
  waited?: { woken: boolean; displaced?: boolean };
  /** The node resumed asking for work (see `resumeBefore`) and nothing was leased: route, then lease. */
  resumed?: boolean;
}

/** A completion with its node's next leases, as one step (see `completeAndLease`). */
export interface CompleteAndLeaseInput {
  complete: CompleteInput;
  /** The node's next tasks, leased after the completion in the same step; skipped when the completion blocklisted the node. */
  lease?: LeaseManyInput;
}

export interface CompleteAndLeaseOutcome {
  completed: TaskOutcome;
  /** Null when no lease was asked for, or the node was blocklisted by the completion (its vote or its card check). */
  lease: LeaseManyOutcome | null;
}

/** A node's completion, checked before its output is read: the node, the task (null: no such task) and its job. */
export interface AuthenticatedTask {
  node: NodeRecord;
  task: TaskRecord | null;
  job: JobRecord | null;
}

/**
 * What a completion's route decides once the store has read the node, its task and the task's job (the
 * `AuthenticatedTask`), having checked the output in storage meanwhile: complete it (and lease the node's next
 * tasks), fail the attempt (the output was not what the node reported), or record nothing (`stop`: the route
 * answers an error of its own, e.g. a rate limit or a blocklisted node).
 */
export type CompletionDecision = { complete: CompleteInput; lease?: LeaseManyInput } | { fail: FailInput } | { stop: true };

/** What `authenticateAndComplete` did: what it read, and the outcome of the decision (null where not taken). */
export interface AuthenticateAndCompleteOutcome {
  read: AuthenticatedTask;
  completed: TaskOutcome | null;
  failed: TaskOutcome | null;
  /** The next leases (null: none asked for, or the completion's vote blocklisted the node). */
  lease: LeaseManyOutcome | null;
}

export interface AuthenticateAndHeartbeatInput extends Omit<HeartbeatInput, 'nodeId'> {
  credentials: NodeCredentials & { nodeId: string };
}

/** A node's report of a failed attempt, with the credentials it came with (see `authenticateAndFail`). */
export interface AuthenticateAndFailInput extends Omit<FailInput, 'nodeId'> {
  /** The node's token hash, and its id when the token names it (a signed token); without one, found by the hash. */
  credentials: NodeCredentials;
}

/** Composite node calls: each route's store work in one step (one transaction; one Durable Object request on Workers). */
export interface NodeCallStore {
  /** Check the node's credentials, then lease (see AuthenticateAndLeaseInput). Throws NODE_NOT_FOUND or UNAUTHORIZED. */
  authenticateAndLease(input: AuthenticateAndLeaseInput): Promise<AuthenticateAndLeaseOutcome>;
  /** The node whose token hash this is, with the task it reports on and its job (null when there is no such task). Throws UNAUTHORIZED. */
  authenticateTask(input: { tokenHash: string; taskId: string }): Promise<AuthenticatedTask>;
  /** Complete the task, then lease the node's next tasks (see CompleteAndLeaseInput); all or nothing. */
  completeAndLease(input: CompleteAndLeaseInput): Promise<CompleteAndLeaseOutcome>;
  /**
   * A completion in one call: read as `authenticateTask` (throws UNAUTHORIZED), ask `decide` (the route checks the
   * output in storage meanwhile; other calls may run while it does), then record its decision as `completeAndLease`
   * or `failTask` do, with their checks (LEASE_LOST when the lease was lost meanwhile). On Workers one Durable Object
   * request: `decide` is called back over RPC in the Worker that made the call.
   */
  authenticateAndComplete(input: { tokenHash: string; taskId: string }, decide: (read: AuthenticatedTask) => Promise<CompletionDecision>): Promise<AuthenticateAndCompleteOutcome>;
  /**
   * Check the node's credentials, then heartbeat as `heartbeat` unless it is blocklisted (`revoked` null then:
   * nothing recorded). Returns the node as it was before. Throws NODE_NOT_FOUND or UNAUTHORIZED.
   */
  authenticateAndHeartbeat(input: AuthenticateAndHeartbeatInput): Promise<{ node: NodeRecord; revoked: string[] | null }>;
  /**
   * Check the node's credentials, then record its failed attempt as `failTask` (all or nothing). Returns the node and
   * the outcome. Throws NODE_NOT_FOUND or UNAUTHORIZED (nothing recorded), else as `failTask`.
   */
  authenticateAndFail(input: AuthenticateAndFailInput): Promise<{ node: NodeRecord; failed: TaskOutcome }>;
}

/** Scenes and who may use them. */
export interface SceneStore {
  /** Record a scene; if one with the same id exists, keep and return it (uploads are idempotent). */
  putScene(scene: SceneRecord): Promise<SceneRecord>;
  getScene(sceneId: string): Promise<SceneRecord | null>;
  /** Let `owner` (an API key id) use the scene; idempotent. */
  grantScene(sceneId: string, owner: string, now: number): Promise<void>;
  /** Whether `owner` uploaded the scene. */
  isSceneGranted(sceneId: string, owner: string): Promise<boolean>;
  /**
   * Nodes this API handed the scene to: those that leased a task of a job on it (so got its presigned URL).
   * The evidence a node's claim to hold the scene in its cache is checked against.
   */
  nodesGivenScene(sceneId: string): Promise<string[]>;
}

/** API keys, and the per-owner count their limits are checked against. */
export interface ApiKeyStore {
  /** Store a new API key. */
  putApiKey(key: ApiKeyRecord): Promise<void>;
  /** The key with this sha256, revoked or not; null when there is none. */
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Revoke a key (idempotent: the first revocation time stays); null when there is no such key. */
  revokeApiKey(keyId: string, now: number): Promise<ApiKeyRecord | null>;
  /** How many of the owner's jobs are queued or running. */
  countActiveJobs(owner: string): Promise<number>;
}

/** Jobs and their tasks: creation, reading, and the atomic queue operations (lease, complete, fail, expire, cancel). */
export interface JobQueueStore {
  /** Insert a job with all its tasks, atomically. */
  createJob(job: JobRecord, tasks: TaskRecord[]): Promise<void>;
  /**
   * Create the job only if its owner is within `quota` (active jobs, megapixels a day), counting and inserting
   * as one step, so concurrent submissions cannot overrun it.
   */
  createJobWithinQuota(job: JobRecord & { owner: string }, tasks: TaskRecord[], quota: JobQuota): Promise<JobQuotaVerdict>;
  getJob(jobId: string): Promise<JobRecord | null>;
  /** The job's tasks in frame order, render tasks by tile index, then the frame's stitch task. */
  listTasks(jobId: string): Promise<TaskRecord[]>;
  getTask(taskId: string): Promise<TaskRecord | null>;
  /** The tasks of one frame, render tasks by tile index, then its stitch task. */
  listFrameTasks(jobId: string, frame: number): Promise<TaskRecord[]>;
  /** The done tasks that produced a finished frame (stitch, or a frame's only render), in frame order. */
  listFinishedFrames(jobId: string): Promise<TaskRecord[]>;
  /**
   * Up to `limit` of the frames listFinishedFrames lists that finished after the cursor `after`
   * (FINISHED_FRAMES_START: from the first), in the order they finished, with the cursor to pass next. A frame
   * that finishes again (re-rendered after a verification or a blocklist) comes again, with a later cursor; one that
   * finishes after later-numbered frames comes after them. What an event stream reads on each wake-up.
   */
  listFinishedFramesSince(jobId: string, after: number, limit: number): Promise<FinishedFramesSince>;
  /** Up to `limit` of the frames listFinishedFrames lists whose frame number is above `afterFrame`, in frame order. */
  listFinishedFramesAfter(jobId: string, afterFrame: number, limit: number): Promise<TaskRecord[]>;
  /** Progress counts without reading every task (status streams ask often). */
  countTasks(jobId: string): Promise<TaskCounts>;
  /** Cancel the job and its unfinished tasks. Throws JOB_NOT_FOUND, or JOB_FINISHED when it has ended. */
  cancelJob(jobId: string, now: number): Promise<{ job: JobRecord; changes: StatusChange[] }>;
  /** Requeue (or fail) every task whose lease ran out, counting the attempt. */
  expireLeases(now: number, policy: TaskPolicy): Promise<StatusChange[]>;
  /**
   * Lease the next available task to the node, and count the call as a sign of life (lastSeenAt). In
   * order: a task routed to this node; a task whose chosen node let its grace period pass and whose
   * fallback this node is; a task open to any capable node (first-come jobs, and routed tasks whose
   * grace periods all passed). Within each: highest job priority, then oldest job, then frame order; a
   * stitch task only once every tile of its frame is done. Null when none is available.
   */
  leaseNext(input: LeaseInput): Promise<TaskOutcome | null>;
  /** Lease several tasks at once (see LeaseManyInput), optionally expiring leases first, as one atomic step. */
  leaseMany(input: LeaseManyInput): Promise<LeaseManyOutcome>;
  /** Mark a leased task done. Throws TASK_NOT_FOUND, or LEASE_LOST unless the node holds that lease. */
  completeTask(input: CompleteInput): Promise<TaskOutcome>;
  /** Report a failed attempt: retry after a backoff, or fail the job. Throws like completeTask. */
  failTask(input: FailInput): Promise<TaskOutcome>;
}

/** Render nodes: registration, signs of life, measured network facts and load. */
export interface NodeStore {
  registerNode(node: NodeRecord): Promise<void>;
  getNode(nodeId: string): Promise<NodeRecord | null>;
  findNodeByTokenHash(tokenHash: string): Promise<NodeRecord | null>;
  /**
   * Record the node's load, extend the leases it lists that it still holds, and return the listed leases
   * it must stop working on (job cancelled or failed, lease expired or taken over).
   */
  heartbeat(input: HeartbeatInput): Promise<{ revoked: string[] }>;
  /** Nodes seen (heartbeat or lease call) at or after `seenSince`, or all of them. */
  listNodes(filter?: { seenSince?: number }): Promise<NodeRecord[]>;
  /** Record measured network facts about nodes. */
  updateNodeNetwork(updates: NodeNetworkUpdate[]): Promise<void>;
  /** Record that the node asked for work (a lease call) now: a sign of life and of a working node. */
  recordLeaseCall(nodeId: string, now: number): Promise<void>;
  /** Ignore the node's claimed location from now on (measurements refuted it); the first reason stays. */
  refuteNodeLocation(nodeId: string, reason: string): Promise<void>;
  /** Queued-and-routed and leased task counts per node (nodes with neither are absent). */
  countNodeTasks(): Promise<Map<string, NodeTaskCounts>>;
}

/** What the router reads and writes: runnable jobs, routable tasks, routes, and the API's own kept values. */
export interface RoutingStore {
  /** Nodes that queued tasks are routed to. */
  listRoutedNodes(): Promise<string[]>;
  /** Jobs that may hand out tasks, in lease order (highest priority, then oldest). */
  listRunnableJobs(): Promise<JobRecord[]>;
  /**
   * Up to `limit` of the job's queued tasks that are ready (past their backoff; a stitch once its tiles
   * are done) and not routed, or routed to one of `rerouteFrom`; in lease order.
   */
  listRoutableTasks(input: { jobId: string; now: number; limit: number; rerouteFrom: string[] }): Promise<RoutableTask[]>;
  /** Store routing decisions; returns how many applied (a task leased or re-routed meanwhile is skipped). */
  setTaskRoutes(assignments: RouteAssignment[]): Promise<number>;
  /** A small value the API keeps across restarts (its own network coordinate); null when unset. */
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  /** Store `value` unless the key has one; returns the stored value (whoever stored first wins: a farm's keys). */
  initMeta(key: string, value: string): Promise<string>;
}

/** Verification rounds, and blocklisting the nodes they disprove. */
export interface VerificationStore {
  /**
   * What the verify task `taskId` is compared with: its target and the earlier results of its round. Null
   * when it is not a verify task of its target's current round (its vote is over).
   */
  getVerificationRound(taskId: string): Promise<VerificationRound | null>;
  /**
   * Skip verifications that waited since before `waitingSince` and that no node in `eligible` may take
   * (every one is excluded, or fails the job's requirements): the target's result is accepted unverified. Finishes jobs that were waiting.
   */
  skipStrandedVerifications(input: { waitingSince: number; eligible: Pick<NodeRecord, 'nodeId' | 'card'>[]; now: number }): Promise<{ changes: StatusChange[]; skipped: string[] }>;
  /**
   * Blocklist the node: it gets no more tasks; its leases are revoked (requeued) and every result it
   * delivered in unfinished jobs is discarded and rendered again by others (its frames re-stitched).
   */
  blocklistNode(nodeId: string, reason: string, now: number): Promise<StatusChange[]>;
}

/** An ended job whose storage clean-up is due (prune-schedule.ts): the job, and the due time the mark holds. */
export interface PruneDue {
  jobId: string;
  dueAt: number;
}

/**
 * Storage clean-up marks: every way a job ends records when its clean-up is due (in the same step), and a periodic
 * sweep (prune-sweep.ts) prunes the due jobs and settles their marks, so no restart loses one.
 */
export interface CleanupStore {
  /** Ended jobs whose clean-up is due by `now`, earliest first, at most `limit`. */
  listDuePrunes(input: { now: number; limit: number }): Promise<PruneDue[]>;
  /**
   * Clear the job's mark (`retryAt` null: cleaned up) or move it to `retryAt` (storage failed), only if it still
   * holds `dueAt` (another sweep may have settled it). Returns whether it changed.
   */
  settlePrune(input: { jobId: string; dueAt: number; retryAt: number | null }): Promise<boolean>;
  /** The earliest clean-up due, or null when none is pending (when the coordinator's next alarm is). */
  nextPruneDueAt(): Promise<number | null>;
}

/** The ledger of work done per node. */
export interface LedgerStore {
  /** Ledger entries in the order they were written. */
  listLedger(filter: LedgerFilter): Promise<LedgerEntry[]>;
}

/** The whole port: every concern, plus closing. A store implements it; callers may depend on one part. */
export interface JobStore extends SceneStore, ApiKeyStore, JobQueueStore, NodeStore, NodeCallStore, RoutingStore, VerificationStore, LedgerStore, CleanupStore {
  /**
   * True when the store itself wakes the farm's waiters (TASKS_TOPIC and each job's topic) for the status changes
   * its operations make (the coordinator object): callers then wake only their own process's waiters.
   */
  readonly announcesChanges?: boolean;
  /** Release the underlying resources; the records stay. */
  close(): Promise<void>;
}
