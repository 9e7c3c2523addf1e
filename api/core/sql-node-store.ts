/** The SQL job store's render nodes: registration, heartbeats, network facts and load (NodeStore). */
import { TesseraError } from '../protocol/errors.ts';
import type { HeartbeatInput, NodeNetworkUpdate, NodeRecord, NodeTaskCounts } from './job-store.ts';
import type { SqlDriver } from './sql-driver.ts';
import { type Row, num, rowToNode, str, toJson } from './sql-job-rows.ts';

export function registerNode(db: SqlDriver, node: NodeRecord): void {
  db.run(
    `INSERT INTO nodes (node_id, token_hash, card, registered_at, last_seen_at, load, coordinate, rtt_to_api_ms, probe_key, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [node.nodeId, node.tokenHash, JSON.stringify(node.card), node.registeredAt, node.lastSeenAt, node.load, toJson(node.coordinate), node.rttToApiMs ?? null, node.probeKey ?? null, toJson(node.origin)],
  );
}

export function getNode(db: SqlDriver, nodeId: string): NodeRecord | null {
  const row = db.all<Row>(`SELECT * FROM nodes WHERE node_id = ?`, [nodeId])[0];
  return row ? rowToNode(row) : null;
}

export function findNodeByTokenHash(db: SqlDriver, tokenHash: string): NodeRecord | null {
  const row = db.all<Row>(`SELECT * FROM nodes WHERE token_hash = ?`, [tokenHash])[0];
  return row ? rowToNode(row) : null;
}

export function heartbeat(db: SqlDriver, input: HeartbeatInput): { revoked: string[] } {
  return db.transaction(() => {
    const seen = db.run(`UPDATE nodes SET last_seen_at = ?, load = ? WHERE node_id = ?`, [input.now, input.load, input.nodeId]);
    if (seen === 0) throw new TesseraError('NODE_NOT_FOUND', `No node with id ${input.nodeId}; register again.`);
    const revoked: string[] = [];
    for (const leaseId of new Set(input.leaseIds)) {
      // An expired lease nobody has taken over yet is still the node's: extending it saves the work. Never
      // past the lease's lifetime cap, however often the node heartbeats (a hoarder cannot sit on a task);
      // a lease past it is revoked: the node stops, and the next sweep hands the task to another.
      const lifetime = Number.isFinite(input.policy.maxLeaseLifetimeMs) ? input.policy.maxLeaseLifetimeMs : 1e15;
      const extended = db.run(
        `UPDATE tasks SET lease_expires_at = MIN(?, COALESCE(leased_at, ?) + ?), updated_at = ?
           WHERE lease_id = ? AND node_id = ? AND state = 'leased' AND COALESCE(leased_at, ?) + ? > ?`,
        [input.now + input.policy.leaseMs, input.now, lifetime, input.now, leaseId, input.nodeId, input.now, lifetime, input.now],
      );
      if (extended === 0) revoked.push(leaseId);
    }
    return { revoked };
  });
}

export function listNodes(db: SqlDriver, filter: { seenSince?: number } = {}): NodeRecord[] {
  return db
    .all<Row>(`SELECT * FROM nodes WHERE last_seen_at >= ? ORDER BY registered_at, node_id`, [filter.seenSince ?? 0])
    .map(rowToNode);
}

export function updateNodeNetwork(db: SqlDriver, updates: NodeNetworkUpdate[]): void {
  db.transaction(() => {
    for (const u of updates) {
      db.run(`UPDATE nodes SET coordinate = COALESCE(?, coordinate), rtt_to_api_ms = COALESCE(?, rtt_to_api_ms), edge = COALESCE(?, edge), peer_rtts = COALESCE(?, peer_rtts), cached_scenes = COALESCE(?, cached_scenes) WHERE node_id = ?`, [
        toJson(u.coordinate),
        u.rttToApiMs ?? null,
        toJson(u.edge),
        toJson(u.peerRttMs),
        toJson(u.cachedScenes),
        u.nodeId,
      ]);
    }
  });
}

/** Record a lease call: a sign of life and of a node that asks for work. */
export function recordLeaseCall(db: SqlDriver, nodeId: string, now: number): void {
  db.run(`UPDATE nodes SET last_seen_at = MAX(last_seen_at, ?), last_lease_at = ? WHERE node_id = ?`, [now, now, nodeId]);
}

/** Ignore the node's claimed location from now on; the first reason stays. */
export function refuteNodeLocation(db: SqlDriver, nodeId: string, reason: string): void {
  db.run(`UPDATE nodes SET location_refuted = ? WHERE node_id = ? AND location_refuted IS NULL`, [reason, nodeId]);
}

export function countNodeTasks(db: SqlDriver): Map<string, NodeTaskCounts> {
  const counts = new Map<string, NodeTaskCounts>();
  const entry = (id: string) => {
    let c = counts.get(id);
    if (!c) counts.set(id, (c = { queued: 0, running: 0 }));
    return c;
  };
  for (const r of db.all<Row>(`SELECT route_node AS node, COUNT(*) AS n FROM tasks WHERE state = 'queued' AND route_node IS NOT NULL GROUP BY route_node`)) {
    entry(str(r.node)).queued = num(r.n);
  }
  for (const r of db.all<Row>(`SELECT node_id AS node, COUNT(*) AS n FROM tasks WHERE state = 'leased' AND node_id IS NOT NULL GROUP BY node_id`)) {
    entry(str(r.node)).running = num(r.n);
  }
  return counts;
}
