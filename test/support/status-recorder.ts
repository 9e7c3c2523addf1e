/**
 * A logger for the API that keeps what the soak and the fault tests count: every task status change to
 * `done` (a task completed twice would show here, across API restarts too) and every output the API refused.
 */
import type { Logger } from '../../api/core/logger.ts';

export interface StatusRecorder extends Logger {
  /**
   * Times each task went to done, by task id, less the times the API reopened it (done → queued: its result
   * discarded because it was outvoted, its node blocklisted or a tile of its frame rendered again). Above 1:
   * a task completed twice.
   */
  readonly completions: Map<string, number>;
  /** Results the API discarded and had done again (done → queued). */
  readonly redone: { total: number };
  /** Completions refused because the stored output differed (task ids, one per refusal). */
  readonly corruptOutputs: string[];
  /** Attempts that ended without the task done (failed, lease expired), and how many of those were expiries. */
  readonly requeued: { total: number; leaseExpired: number };
  /** Leases taken, by node id (from "leased to node X"). */
  readonly leasesByNode: Map<string, number>;
  /** Leases that expired (the lifetime cap, a revocation, a dead node) and went back to the queue, by node id. */
  readonly takenBackByNode: Map<string, number>;
  /** The longest a lease was held before it expired and went back to the queue (ms, wall clock), by node id. */
  readonly longestTakenBackHoldMsByNode: Map<string, number>;
}

/** A recording logger; with `forward`, entries also go there. */
export function createStatusRecorder(forward?: Logger): StatusRecorder {
  const completions = new Map<string, number>();
  const corruptOutputs: string[] = [];
  const requeued = { total: 0, leaseExpired: 0 };
  const redone = { total: 0 };
  const leasesByNode = new Map<string, number>();
  const takenBackByNode = new Map<string, number>();
  const longestTakenBackHoldMsByNode = new Map<string, number>();
  /** When each leased task was leased (task id → ms). */
  const leasedAt = new Map<string, number>();
  const count = (map: Map<string, number>, key: string | undefined) => key && map.set(key, (map.get(key) ?? 0) + 1);
  const record = (obj: Record<string, unknown>, msg?: string) => {
    if (obj.entity === 'task' && obj.from === 'leased' && obj.to === 'queued') {
      requeued.total++;
      if (/lease expired/.test(String(obj.reason))) requeued.leaseExpired++;
    }
    if (obj.entity === 'task' && obj.from === 'leased' && /^lease expired on node /.test(String(obj.reason))) {
      const nodeId = /on node (\S+)/.exec(String(obj.reason))?.[1];
      count(takenBackByNode, nodeId);
      const since = leasedAt.get(String(obj.id));
      if (nodeId && since !== undefined) longestTakenBackHoldMsByNode.set(nodeId, Math.max(longestTakenBackHoldMsByNode.get(nodeId) ?? 0, Date.now() - since));
    }
    if (obj.entity === 'task' && obj.to === 'leased') {
      count(leasesByNode, /^leased to node (\S+)/.exec(String(obj.reason))?.[1]);
      leasedAt.set(String(obj.id), Date.now());
    }
    if (obj.entity === 'task' && obj.to === 'done' && typeof obj.id === 'string') completions.set(obj.id, (completions.get(obj.id) ?? 0) + 1);
    if (obj.entity === 'task' && obj.from === 'done' && obj.to === 'queued' && typeof obj.id === 'string') {
      completions.set(obj.id, (completions.get(obj.id) ?? 0) - 1);
      redone.total++;
    }
    if (msg === 'task output corrupt; attempt failed' && typeof obj.taskId === 'string') corruptOutputs.push(obj.taskId);
  };
  return {
    completions,
    redone,
    corruptOutputs,
    requeued,
    leasesByNode,
    takenBackByNode,
    longestTakenBackHoldMsByNode,
    debug: (obj, msg) => forward?.debug(obj, msg),
    info(obj, msg) {
      record(obj as Record<string, unknown>, msg);
      forward?.info(obj, msg);
    },
    warn(obj, msg) {
      record(obj as Record<string, unknown>, msg);
      forward?.warn(obj, msg);
    },
    error: (obj, msg) => forward?.error(obj, msg),
  };
}
