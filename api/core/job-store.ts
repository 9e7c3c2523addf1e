/**
 * The job store port: durable records of scenes, jobs, tasks and nodes, and the few operations that must
 * be atomic (lease, complete, fail, expire, cancel). Every status change inside them goes through the
 * state machine (`state-machine.ts`); each operation returns the changes it made so the caller can log
 * them. The shared contract suite in `test/api/job-store-contract.ts` runs against every implementation.
 */
import type { JobState, TaskState } from '../protocol/job-status.ts';
import type { NodeCard } from '../protocol/node-card.ts';
import type { EncodeSpec, TileRect, ViewSpec } from '../protocol/render-spec.ts';
import type { SceneInfo } from './scene-inspector.ts';
import type { StatusChange } from './state-machine.ts';
import type { TaskPolicy } from './task-policy.ts';

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
}

export type TaskKind = 'render' | 'stitch';

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
}

export interface TaskCounts {
  tasks: number;
  tasksDone: number;
  renders: number;
  rendersDone: number;
  /** Frames whose finished image is stored. */
  framesDone: number;
}

export interface NodeRecord {
  nodeId: string;
  /** sha256 hex of the node's bearer token; the token itself is never stored. */
  tokenHash: string;
  card: NodeCard;
  registeredAt: number;
  lastSeenAt: number;
  load: number;
}

/** The result of an operation on one task. */
export interface TaskOutcome {
  task: TaskRecord;
  job: JobRecord;
  changes: StatusChange[];
}

export interface LeaseInput {
  nodeId: string;
  leaseId: string;
  now: number;
  policy: TaskPolicy;
}

export interface CompleteInput {
  taskId: string;
  nodeId: string;
  leaseId: string;
  result: { bytes: number; checksum: string };
  now: number;
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

export interface JobStore {
  /** Record a scene; if one with the same id exists, keep and return it (uploads are idempotent). */
  putScene(scene: SceneRecord): Promise<SceneRecord>;
  getScene(sceneId: string): Promise<SceneRecord | null>;

  /** Insert a job with all its tasks, atomically. */
  createJob(job: JobRecord, tasks: TaskRecord[]): Promise<void>;
  getJob(jobId: string): Promise<JobRecord | null>;
  /** The job's tasks in frame order, render tasks by tile index, then the frame's stitch task. */
  listTasks(jobId: string): Promise<TaskRecord[]>;
  getTask(taskId: string): Promise<TaskRecord | null>;
  /** The tasks of one frame, render tasks by tile index, then its stitch task. */
  listFrameTasks(jobId: string, frame: number): Promise<TaskRecord[]>;
  /** The done tasks that produced a finished frame (stitch, or a frame's only render), in frame order. */
  listFinishedFrames(jobId: string): Promise<TaskRecord[]>;
  /** Progress counts without reading every task (status streams ask often). */
  countTasks(jobId: string): Promise<TaskCounts>;
  /** Cancel the job and its unfinished tasks. Throws JOB_NOT_FOUND, or JOB_FINISHED when it has ended. */
  cancelJob(jobId: string, now: number): Promise<{ job: JobRecord; changes: StatusChange[] }>;

  registerNode(node: NodeRecord): Promise<void>;
  getNode(nodeId: string): Promise<NodeRecord | null>;
  findNodeByTokenHash(tokenHash: string): Promise<NodeRecord | null>;
  /**
   * Record the node's load, extend the leases it lists that it still holds, and return the listed leases
   * it must stop working on (job cancelled or failed, lease expired or taken over).
   */
  heartbeat(input: HeartbeatInput): Promise<{ revoked: string[] }>;

  /** Requeue (or fail) every task whose lease ran out, counting the attempt. */
  expireLeases(now: number, policy: TaskPolicy): Promise<StatusChange[]>;
  /**
   * Lease the next available task to the node: highest job priority, then oldest job, then frame order;
   * a stitch task only once every tile of its frame is done. Null when none is available.
   */
  leaseNext(input: LeaseInput): Promise<TaskOutcome | null>;
  /** Mark a leased task done. Throws TASK_NOT_FOUND, or LEASE_LOST unless the node holds that lease. */
  completeTask(input: CompleteInput): Promise<TaskOutcome>;
  /** Report a failed attempt: retry after a backoff, or fail the job. Throws like completeTask. */
  failTask(input: FailInput): Promise<TaskOutcome>;

  /** Release the underlying resources; the records stay. */
  close(): Promise<void>;
}
