/**
 * The session store port: durable records of interactive sessions (where each was placed, its state and
 * live stats) and the few operations that must be atomic. Every status change goes through the session
 * state machine (`session-state.ts`) and is returned for the caller to log. The contract suite in
 * `test/api/session-store-contract.ts` runs against every implementation (SQLite on Node, the coordinator
 * Durable Object on Workers).
 */
import type { SessionRender, SessionReport, SessionRoute, SessionState, SessionStats } from '../protocol/session.ts';
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
}

/** SessionStore operations, for the Workers coordinator's RPC list. */
export type SessionStoreMethod = keyof SessionStore;
