/**
 * The session store port: durable records of interactive sessions (where each was placed, its state and
 * live stats) and the few operations that must be atomic. Every status change goes through the session
 * state machine (`session-state.ts`) and is returned for the caller to log. The contract suite in
 * `test/api/session-store-contract.ts` runs against every implementation (SQLite on Node, the coordinator
 * Durable Object on Workers).
 */
import type { EyePose, SessionFormat, SessionRender, SessionReport, SessionRoute, SessionState, SessionStats } from '../protocol/session.ts';
import type { SessionSampleState } from '../protocol/session-sample.ts';
import type { SessionChange } from './session-state.ts';

export interface SessionRecord {
  sessionId: string;
  sceneId: string;
  /** The API key id that opened it. */
  owner: string;
  nodeId: string;
  state: SessionState;
  render: SessionRender;
  route: SessionRoute;
  /** The WebSocket URL on the node. */
  url: string;
  /** Set when the node leased it. */
  leaseId: string | null;
  /** A client that has not connected by then will not (its ticket expired). */
  connectBy: number;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
  closeReason: string | null;
  stats: SessionStats;
  /** One of its frames was disproven (session-verification.ts): its render time is not credited. */
  disproven?: boolean;
}

/** A sampled session frame and its verification (session-verification.ts). */
export interface SessionSampleRecord {
  sampleId: string;
  sessionId: string;
  /** The node that streamed (and signed) the frame. */
  nodeId: string;
  owner: string;
  seq: number;
  eyes: EyePose[];
  width: number;
  height: number;
  format: SessionFormat;
  /** Where the API keeps the frame's bytes. */
  imageKey: string;
  state: SessionSampleState;
  referenceJobs: string[];
  referenceNodes: string[];
  /** The references' accepted outputs, in order. */
  referenceKeys: string[];
  diffs: number[];
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface SessionReportInput {
  nodeId: string;
  reports: SessionReport[];
  now: number;
}

export interface SessionStore {
  /** Insert a new (placed) session. */
  createSession(session: SessionRecord): Promise<void>;
  getSession(sessionId: string): Promise<SessionRecord | null>;
  /** How many of the owner's sessions are not closed (quota). */
  countOpenSessions(owner: string): Promise<number>;
  /** Sessions not closed, per node id (session slots in use). */
  countNodeSessions(): Promise<Record<string, number>>;
  /** Nodes that have held a session of this scene (they have it cached). */
  nodesWithScene(sceneId: string): Promise<string[]>;
  /** Hand the node its oldest placed session (placed → starting); null when none waits. */
  leaseSession(input: { nodeId: string; leaseId: string; now: number }): Promise<{ session: SessionRecord; changes: SessionChange[] } | null>;
  /**
   * Record a node's session reports (stats; open ones go live, closed ones close and write their ledger
   * line). Returns the lease ids of reported sessions the node must end (closed here, or not its own).
   */
  reportSessions(input: SessionReportInput): Promise<{ revoked: string[]; changes: SessionChange[] }>;
  /** Close a session (idempotent) and write its ledger line; null when there is no such session. */
  closeSession(input: { sessionId: string; reason: string; now: number }): Promise<{ session: SessionRecord; changes: SessionChange[] } | null>;
  /**
   * Close sessions whose client never came (placed or starting past connectBy with no live report) and
   * sessions on nodes not in `liveNodes` (their node went silent).
   */
  expireSessions(input: { now: number; liveNodes: string[] }): Promise<SessionChange[]>;
  /** Insert a sample unless its session has `maxPerSession` already. */
  addSample(sample: SessionSampleRecord, maxPerSession: number): Promise<{ ok: true } | { ok: false; count: number }>;
  getSample(sampleId: string): Promise<SessionSampleRecord | null>;
  /** Samples whose verdict is not final, oldest first. */
  listUnsettledSamples(limit: number): Promise<SessionSampleRecord[]>;
  /** Store a sample's next step unless another process stored one since `expectedUpdatedAt` (false then). */
  updateSample(sample: SessionSampleRecord, expectedUpdatedAt: number): Promise<boolean>;
  /** A frame of the session was disproven: close it (if open) and void its ledger credit, now and when it closes. */
  disproveSession(input: { sessionId: string; reason: string; now: number }): Promise<{ changes: SessionChange[] }>;
}

/** SessionStore operations, for the Workers coordinator's RPC list. */
export type SessionStoreMethod = keyof SessionStore;
