/**
 * The store operations the coordinator Durable Object serves over RPC: every JobStore operation but close,
 * and every SessionStore operation; and their results.
 */
import type { JobStore } from '../core/job-store.ts';
import type { SessionStore, SessionStoreMethod } from '../core/session-store.ts';
import type { ErrorCode } from '../protocol/errors.ts';

/** An operation's result as it crosses the RPC boundary: TesseraErrors travel as their code and message. */
export type CallResult =
  | { ok: true; value: unknown }
  | { ok: false; error: { code: ErrorCode | null; message: string; retryAfterSeconds?: number } };

export type JobStoreMethod = Exclude<keyof JobStore, 'close' | 'announcesChanges'>;
/** Any operation the coordinator serves. */
export type CoordinatorMethod = JobStoreMethod | SessionStoreMethod;

const ALL: Record<JobStoreMethod, true> = {
  putScene: true,
  getScene: true,
  grantScene: true,
  isSceneGranted: true,
  nodesGivenScene: true,
  putApiKey: true,
  findApiKeyByHash: true,
  listApiKeys: true,
  revokeApiKey: true,
  countActiveJobs: true,
  createJob: true,
  createJobWithinQuota: true,
  getJob: true,
  listTasks: true,
  getTask: true,
  listFrameTasks: true,
  listFinishedFrames: true,
  listFinishedFramesSince: true,
  listFinishedFramesAfter: true,
  countTasks: true,
  cancelJob: true,
  registerNode: true,
  getNode: true,
  findNodeByTokenHash: true,
  heartbeat: true,
  expireLeases: true,
  leaseNext: true,
  leaseMany: true,
  authenticateAndLease: true,
  authenticateTask: true,
  completeAndLease: true,
  authenticateAndComplete: true,
  authenticateAndHeartbeat: true,
  authenticateAndFail: true,
  listNodes: true,
  updateNodeNetwork: true,
  refuteNodeLocation: true,
  recordLeaseCall: true,
  countNodeTasks: true,
  listRoutedNodes: true,
  listRunnableJobs: true,
  listRoutableTasks: true,
  setTaskRoutes: true,
  getMeta: true,
  setMeta: true,
  initMeta: true,
  completeTask: true,
  failTask: true,
  getVerificationRound: true,
  skipStrandedVerifications: true,
  blocklistNode: true,
  listLedger: true,
  listDuePrunes: true,
  settlePrune: true,
  nextPruneDueAt: true,
};

/** Every operation name; a Record above makes the compiler flag one added to JobStore but not here. */
export const JOB_STORE_METHODS = Object.keys(ALL) as readonly JobStoreMethod[];

const SESSION_ALL: Record<SessionStoreMethod, true> = {
  createSession: true,
  getSession: true,
  countOpenSessions: true,
  countNodeSessions: true,
  nodesWithScene: true,
  leaseSession: true,
  reportSessions: true,
  closeSession: true,
  expireSessions: true,
  addSample: true,
  getSample: true,
  listUnsettledSamples: true,
  updateSample: true,
  disproveSession: true,
};

/** Every SessionStore operation (a Record, so one added to SessionStore but not here fails to compile). */
export const SESSION_STORE_METHODS = Object.keys(SESSION_ALL) as readonly (keyof SessionStore)[];
