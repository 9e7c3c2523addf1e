/** The SQL job store's verification rounds (of renders and of stitches alike): issuing verify tasks, tallying votes, re-rendering, skipping stranded verifications and blocklisting (VerificationStore). Every verification change goes through the state machine's stepVerification. */
import { fitsNode } from './fits-node.ts';
import { acceptedKey, verifyKey } from './object-keys.ts';
import type { NodeRecord, RoundResult, TaskRecord, VerificationRound, VerificationVerdict } from './job-store.ts';
import { meetsRequirements } from './routing/requirements.ts';
import type { SqlDriver } from './sql-driver.ts';
import { describeTask, reopenForRouting, stepJob, stepTask, stepVerification, type StatusChange, type VerificationEvent } from './state-machine.ts';
import { type VerificationRules } from './verification-policy.ts';
import { tallyVote, weighVote } from './verification-vote.ts';
import { taskToken } from './crypto-utils.ts';
import { cancelUnfinished, finishIfComplete } from './sql-job-queue.ts';
import { INSERT_TASK, type Row, UNFINISHED_JOBS, num, readJob, readTask, rowToTask, saveJob, saveTask, stateColumns } from './sql-job-rows.ts';
import { setLedger } from './sql-ledger.ts';

export function getVerificationRound(db: SqlDriver, taskId: string): VerificationRound | null {
  const v = readTask(db, taskId);
  if (!v || v.kind !== 'verify' || !v.verifies) return null;
  const target = readTask(db, v.verifies)!;
  if (target.state !== 'done' || target.round !== v.round || target.verification?.state !== 'pending') return null;
  return { target, earlier: roundResults(db, target, v.taskId) };
}

export function skipStrandedVerifications(db: SqlDriver, input: { waitingSince: number; eligible: Pick<NodeRecord, 'nodeId' | 'card'>[]; now: number }): { changes: StatusChange[]; skipped: string[] } {
  return db.transaction(() => {
    const changes: StatusChange[] = [];
    const skipped: string[] = [];
    const waiting = db
      .all<Row>(`SELECT * FROM tasks WHERE kind = 'verify' AND state = 'queued' AND updated_at <= ? AND job_id IN ${UNFINISHED_JOBS}`, [input.waitingSince])
      .map(rowToTask);
    const jobs = new Set<string>();
    for (const v of waiting) {
      const requirements = readJob(db, v.jobId)!.requirements ?? undefined;
      if (input.eligible.some((n) => !v.excludeNodes.includes(n.nodeId) && meetsRequirements(n.card, requirements) && fitsNode(n.card, v))) continue;
      const target = readTask(db, v.verifies!)!;
      const step = stepTask(v, { type: 'cancel', reason: 'no other node can verify it', now: input.now });
      saveTask(db, step.task);
      changes.push(step.change);
      if (target.verification?.state !== 'pending' || target.round !== v.round) continue;
      // Accepted unverified: the original result stands; unconfirmed verifying results do not count.
      saveTask(db, stepVerificationInto(target, { type: 'skip', reason: 'no other node can verify it: accepted unverified', now: input.now }, changes));
      setLedger(db, `task_id = ? AND state = 'pending'`, [target.taskId], 'credited');
      voidRoundEntries(db, target);
      skipped.push(target.taskId);
      jobs.add(target.jobId);
    }
    for (const jobId of jobs) finishIfComplete(db, jobId, input.now, changes);
    return { changes, skipped };
  });
}

export function blocklistNode(db: SqlDriver, nodeId: string, reason: string, now: number): StatusChange[] {
  return db.transaction(() => blocklist(db, nodeId, reason, now));
}

/** Queue verify task `n` of the target's current round, for a node outside `exclude`. */
export function issueVerification(db: SqlDriver, target: TaskRecord, n: number, exclude: string[], now: number): void {
  // Id and key in the shape of any render's: a node cannot tell that it is checking another node's work.
  const token = taskToken();
  const v: TaskRecord = {
    taskId: `${target.jobId}.${token}`,
    jobId: target.jobId,
    kind: 'verify',
    frame: target.frame,
    index: target.index,
    tile: target.tile,
    final: target.final,
    outputKey: verifyKey(target.outputKey, token),
    state: 'queued',
    attempts: 0,
    nodeId: null,
    leaseId: null,
    leaseExpiresAt: null,
    notBefore: now,
    error: null,
    result: null,
    updatedAt: now,
    route: null,
    // Open to any eligible node at once, routed job or not.
    openAt: 0,
    verifies: target.taskId,
    round: target.round,
    verification: null,
    excludeNodes: [...new Set(exclude)],
    leasedAt: null,
  };
  db.run(INSERT_TASK, [v.taskId, v.jobId, v.kind, v.frame, v.index, JSON.stringify(v.tile), v.final ? 1 : 0, v.outputKey, v.verifies, ...stateColumns(v)]);
}

/** The results of the target's current round, the original first, then its done verify tasks (but `except`). */
export function roundResults(db: SqlDriver, target: TaskRecord, except: string): RoundResult[] {
  const verifiers = db
    .all<Row>(`SELECT * FROM tasks WHERE verifies = ? AND verify_round = ? AND state = 'done' AND task_id <> ? ORDER BY rowid`, [target.taskId, target.round, except])
    .map(rowToTask);
  return [target, ...verifiers].map((t) => ({ taskId: t.taskId, nodeId: t.nodeId!, checksum: t.result!.checksum, outputKey: acceptedKey(t) }));
}

/** Tally the round the just-completed verify task `v` belongs to, and apply what it decides. */
export function vote(db: SqlDriver, v: TaskRecord, agrees: boolean[] | undefined, rules: VerificationRules, now: number, changes: StatusChange[]): VerificationVerdict | undefined {
  const target = readTask(db, v.verifies!)!;
  if (target.state !== 'done' || target.round !== v.round || target.verification?.state !== 'pending') {
    // The vote ended without it (its target was re-rendered meanwhile): the result is not needed.
    setLedger(db, `task_id = ? AND state = 'pending'`, [v.taskId], 'voided');
    return undefined;
  }
  const round = [...roundResults(db, target, v.taskId), { taskId: v.taskId, nodeId: v.nodeId!, checksum: v.result!.checksum, outputKey: acceptedKey(v) }];
  const earlier = round.slice(0, -1);
  // The API compared against the round as it read it; should the round have changed since, compare checksums.
  const agreement = agrees?.length === earlier.length ? agrees : earlier.map((r) => r.checksum === v.result!.checksum);
  // Votes weigh by record: fresh ids alone cannot outvote an established node (see weighVote).
  const probation = rules.probationResults ?? 0;
  const established = round.map((r) => num(db.all<Row>(`SELECT verified_count AS n FROM nodes WHERE node_id = ?`, [r.nodeId])[0]?.n ?? 0) >= probation);
  const outcome = weighVote(tallyVote(round.length, agreement), established);
  const nodesOf = (ix: number[]) => ix.map((i) => round[i].nodeId);
  const verdict: VerificationVerdict = { taskId: target.taskId, outcome: 'escalated', winners: [], losers: [], blocklisted: [] };
  switch (outcome.kind) {
    case 'escalate':
      issueVerification(db, target, round.length, round.map((r) => r.nodeId), now);
      return verdict;
    case 'verified':
    case 'disproven': {
      const winners = outcome.winners.map((i) => round[i]);
      const losers = outcome.losers.map((i) => round[i]);
      for (const w of winners) setLedger(db, `task_id = ? AND node_id = ? AND state = 'pending'`, [w.taskId, w.nodeId], 'credited');
      for (const l of losers) setLedger(db, `task_id = ? AND node_id = ? AND state = 'pending'`, [l.taskId, l.nodeId], 'voided');
      // Results neither credited nor blamed (a vote weighed down): void what is still pending.
      voidRoundEntries(db, target);
      const disproven = [...new Set([...target.verification.disproven, ...nodesOf(outcome.losers)])];
      if (outcome.kind === 'verified') {
        saveTask(db, stepVerificationInto(target, { type: 'verify', verifiedBy: nodesOf(outcome.winners), disproven, now }, changes));
      } else {
        saveTask(db, stepVerificationInto(target, { type: 'disprove', disproven, now }, changes));
        const did = target.kind === 'stitch' ? 'stitched this frame' : 'rendered this tile';
        changes.push(...rerender(db, target.taskId, `outvoted: nodes ${nodesOf(outcome.winners).join(' and ')} ${did} differently from node ${target.nodeId}`, target.nodeId, now));
      }
      verdict.outcome = outcome.kind;
      verdict.winners = nodesOf(outcome.winners);
      verdict.losers = nodesOf(outcome.losers);
      for (const id of verdict.winners) db.run(`UPDATE nodes SET verified_count = verified_count + 1 WHERE node_id = ?`, [id]);
      for (const id of verdict.losers) {
        db.run(`UPDATE nodes SET disproven_count = disproven_count + 1 WHERE node_id = ?`, [id]);
        const count = db.all<Row>(`SELECT disproven_count AS n, blocklisted_at FROM nodes WHERE node_id = ?`, [id])[0];
        if (count && count.blocklisted_at === null && num(count.n) >= rules.blocklistAfter) {
          changes.push(...blocklist(db, id, `${num(count.n)} of its results were outvoted by other nodes' renders of the same tiles`, now));
          verdict.blocklisted.push(id);
        }
      }
      return verdict;
    }
    case 'inconclusive': {
      verdict.outcome = 'inconclusive';
      setLedger(db, `task_id = ? AND state = 'pending'`, [target.taskId], 'voided');
      voidRoundEntries(db, target);
      if (target.round + 1 >= rules.maxRounds) {
        const job = readJob(db, target.jobId)!;
        if (job.state === 'queued' || job.state === 'running') {
          const reason = `${describeTask(target)}: renders by different nodes disagreed in ${target.round + 1} verification rounds; the scene does not render deterministically`;
          const failed = stepJob(job, { type: 'fail', reason, now });
          saveJob(db, failed.job);
          changes.push(failed.change, ...cancelUnfinished(db, job.jobId, 'job failed', now));
        }
        return verdict;
      }
      const did = target.kind === 'stitch' ? 'stitched this frame' : 'rendered this tile';
      changes.push(...rerender(db, target.taskId, `inconclusive: three nodes ${did} three different ways`, null, now));
      return verdict;
    }
  }
}

/**
 * Discard a render or stitch task's result and queue it again (its next result is always verified, in a new
 * round): its open verifications are cancelled, its ledger entries voided, and (a tile) its frame's stitch,
 * if done or running, queued again to wait for it. `exclude`: a node that may not do it again.
 */
export function rerender(db: SqlDriver, taskId: string, reason: string, exclude: string | null, now: number): StatusChange[] {
  const changes: StatusChange[] = [];
  let task = readTask(db, taskId)!;
  const job = readJob(db, task.jobId)!;
  if (task.state === 'done' || task.state === 'leased') {
    const step = stepTask(task, { type: 'requeue', reason, now });
    changes.push(step.change);
    task = step.task;
  } else if (task.state !== 'queued') return changes;
  setLedger(db, `task_id = ? AND state <> 'voided'`, [task.taskId], 'voided');
  voidRoundEntries(db, task);
  for (const v of db.all<Row>(`SELECT * FROM tasks WHERE verifies = ? AND state IN ('queued', 'leased')`, [task.taskId]).map(rowToTask)) {
    const step = stepTask(v, { type: 'cancel', reason: `the tile it verifies is rendered again (${reason})`, now });
    saveTask(db, step.task);
    changes.push(step.change);
  }
  const again = reopenForRouting(stepVerificationInto(task, { type: 'rerender', reason, now }, changes), job);
  saveTask(db, { ...again, excludeNodes: exclude ? [...new Set([...task.excludeNodes, exclude])] : task.excludeNodes });
  if (task.kind === 'render' && !task.final) changes.push(...restitch(db, task.jobId, task.frame, now));
  return changes;
}

/** Queue the frame's stitch again (when done or running): one of its tiles changes. */
export function restitch(db: SqlDriver, jobId: string, frame: number, now: number): StatusChange[] {
  const stitch = db.all<Row>(`SELECT * FROM tasks WHERE job_id = ? AND frame = ? AND kind = 'stitch'`, [jobId, frame]).map(rowToTask)[0];
  if (!stitch || (stitch.state !== 'done' && stitch.state !== 'leased')) return [];
  // A stitch that was sampled (its vote open or over): its round ends here, and the new stitch is checked again.
  if (stitch.verification) return rerender(db, stitch.taskId, 'a tile of the frame is rendered again', null, now);
  const job = readJob(db, jobId)!;
  const step = stepTask(stitch, { type: 'requeue', reason: 'a tile of the frame is rendered again', now });
  saveTask(db, reopenForRouting(step.task, job));
  setLedger(db, `task_id = ? AND state <> 'voided'`, [stitch.taskId], 'voided');
  return [step.change];
}

/** Void the still pending entries of the target's verify tasks (their round ended without crediting them). */
export function voidRoundEntries(db: SqlDriver, target: TaskRecord): void {
  setLedger(db, `state = 'pending' AND task_id IN (SELECT task_id FROM tasks WHERE verifies = ?)`, [target.taskId], 'voided');
}

/** Blocklist a node (once): see JobStore.blocklistNode. Its ledger entries are voided (work redone) or forfeited. */
export function blocklist(db: SqlDriver, nodeId: string, reason: string, now: number): StatusChange[] {
  const marked = db.run(`UPDATE nodes SET blocklisted_at = ?, blocklist_reason = ? WHERE node_id = ? AND blocklisted_at IS NULL`, [now, reason, nodeId]);
  if (marked === 0) return [];
  const changes: StatusChange[] = [];
  const why = `node ${nodeId} was blocklisted: ${reason}`;
  // Its leases: revoked, the tasks queued again for others (not counted as failed attempts).
  for (const t of db.all<Row>(`SELECT * FROM tasks WHERE state = 'leased' AND node_id = ?`, [nodeId]).map(rowToTask)) {
    if (t.kind === 'render') {
      changes.push(...rerender(db, t.taskId, why, nodeId, now));
      continue;
    }
    const job = readJob(db, t.jobId)!;
    const step = stepTask(t, { type: 'requeue', reason: why, now });
    saveTask(db, { ...reopenForRouting(step.task, job), excludeNodes: [...new Set([...t.excludeNodes, nodeId])] });
    changes.push(step.change);
  }
  // Everything it delivered in unfinished jobs is rendered again by others, and the frames re-stitched.
  const delivered = db
    .all<Row>(`SELECT * FROM tasks WHERE state = 'done' AND node_id = ? AND kind IN ('render', 'stitch') AND job_id IN ${UNFINISHED_JOBS}`, [nodeId])
    .map(rowToTask);
  // (Read again: re-rendering a tile may have queued its frame's stitch already.)
  for (const t of delivered) if (readTask(db, t.taskId)!.state === 'done') changes.push(...rerender(db, t.taskId, why, nodeId, now));
  // Tiles it vouched for are no longer verified: rendered again too.
  const vouched = db
    .all<Row>(
      `SELECT t.* FROM tasks t WHERE t.state = 'done' AND t.kind IN ('render', 'stitch') AND t.verify_state = 'verified' AND t.job_id IN ${UNFINISHED_JOBS}
         AND EXISTS (SELECT 1 FROM json_each(t.verified_by) x WHERE x.value = ?)`,
      [nodeId],
    )
    .map(rowToTask);
  for (const t of vouched) if (readTask(db, t.taskId)!.state === 'done') changes.push(...rerender(db, t.taskId, `${why} (it had verified this ${t.kind === 'stitch' ? 'frame' : 'tile'})`, null, now));
  setLedger(db, `node_id = ? AND state <> 'voided' AND job_id IN ${UNFINISHED_JOBS}`, [nodeId], 'voided');
  // A proven liar earns nothing: whatever else it was credited or awaits (finished jobs, verifying renders,
  // sessions) is forfeited, as a trusted compute network withholds a cheat's credit.
  setLedger(db, `node_id = ? AND state IN ('pending', 'credited')`, [nodeId], 'forfeited');
  return changes;
}

/** Step a task's verification through the state machine; its change (if any) joins `changes`. Not saved. */
export function stepVerificationInto(task: TaskRecord, event: VerificationEvent, changes: StatusChange[]): TaskRecord {
  const step = stepVerification(task, event);
  if (step.change) changes.push(step.change);
  return step.task;
}
