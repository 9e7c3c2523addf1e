/**
 * Which nodes hold a scene, for the routing's scene-load term. A node's heartbeat lists the scenes in its cache:
 * a claim. It counts only where this API handed the node that scene (a lease for a task or a session on it, each
 * carrying the scene's presigned URL): a node cannot invent a cache to attract work, only confirm one, or say it
 * evicted it. A node that never reported a cache (older nodes) counts where it served the scene's sessions.
 */
import type { LiveNode } from './node-directory.ts';

export interface SceneEvidence {
  /** Nodes that leased a task of a job on the scene. */
  leasedTasks: Iterable<string>;
  /** Nodes that served a session on the scene. */
  servedSessions: Iterable<string>;
}

/** The live nodes believed to hold `sceneId` (see the module comment). */
export function sceneHolders(live: readonly LiveNode[], sceneId: string, evidence: SceneEvidence): Set<string> {
  const sessions = new Set(evidence.servedSessions);
  const given = new Set([...evidence.leasedTasks, ...sessions]);
  const out = new Set<string>();
  for (const { record } of live) {
    const id = record.nodeId;
    if (record.cachedScenes === undefined ? sessions.has(id) : record.cachedScenes.includes(sceneId) && given.has(id)) out.add(id);
  }
  return out;
}
