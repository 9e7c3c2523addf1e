/**
 * The edge benchmark's "before": a JobStore whose composite node calls run as the separate operations they
 * replace (each one a Durable Object request on Workers), as the routes made them before one call per route:
 * authenticate (getNode / findNodeByTokenHash), then lease, complete or heartbeat; the task and its job read
 * apart; no waiting in the store (the Worker waits with its own wait request) and no wake-ups announced by the
 * store (the Worker sends a notify request). Every other operation is passed through.
 */
import { checkNodeCredentials } from '../api/core/check-node-credentials.ts';
import type { JobStore } from '../api/core/job-store.ts';

export function perOperationJobStore(inner: JobStore): JobStore {
  const composite: Pick<JobStore, 'authenticateAndLease' | 'authenticateTask' | 'completeAndLease' | 'authenticateAndComplete' | 'authenticateAndHeartbeat'> & { announcesChanges: false } = {
    announcesChanges: false,
    async authenticateAndLease(input) {
      const { credentials, max, waitMs: _wait, resumeBefore, ...lease } = input;
      const node = checkNodeCredentials(credentials, await inner.getNode(credentials.nodeId));
      // Not known without another read: the Worker sweeps and waits as if jobs were runnable (as it did).
      if (node.reputation?.blocklisted) return { node, lease: null, runnableJobs: true };
      if (resumeBefore !== undefined && (node.lastLeaseAt ?? -Infinity) < resumeBefore) {
        // As the route did: record the lease call on its own first, then route and lease.
        await inner.recordLeaseCall(node.nodeId, lease.now);
        return { node, lease: { leased: [], expired: [], routedJobs: true, wakeAt: null }, runnableJobs: true, resumed: true };
      }
      const count = Math.max(0, Math.min(max, node.card.concurrency) + (lease.ahead ?? 0));
      const outcome = await inner.leaseMany({ ...lease, leaseIds: lease.leaseIds.slice(0, count), nodeId: node.nodeId, card: node.card, maxLeases: node.card.concurrency });
      return { node, lease: outcome, runnableJobs: true };
    },
    async authenticateTask({ tokenHash, taskId }) {
      const node = checkNodeCredentials({ tokenHash }, await inner.findNodeByTokenHash(tokenHash));
      const task = await inner.getTask(taskId);
      return { node, task, job: task ? await inner.getJob(task.jobId) : null };
    },
    async completeAndLease({ complete, lease }) {
      const completed = await inner.completeTask(complete);
      const next = lease && !completed.verdict?.blocklisted.includes(lease.nodeId) ? await inner.leaseMany(lease) : null;
      return { completed, lease: next };
    },
    async authenticateAndComplete(input, decide) {
      // As the routes did: read the node, task and job apart, check the output, then complete (or fail) apart.
      const read = await composite.authenticateTask(input);
      const decision = await decide(read);
      if ('stop' in decision) return { read, completed: null, failed: null, lease: null };
      if ('fail' in decision) return { read, completed: null, failed: await inner.failTask(decision.fail), lease: null };
      const { completed, lease } = await composite.completeAndLease(decision);
      return { read, completed, failed: null, lease };
    },
    async authenticateAndHeartbeat({ credentials, ...beat }) {
      const node = checkNodeCredentials(credentials, await inner.getNode(credentials.nodeId));
      if (node.reputation?.blocklisted) return { node, revoked: null };
      return { node, revoked: (await inner.heartbeat({ ...beat, nodeId: node.nodeId })).revoked };
    },
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (Object.hasOwn(composite, prop)) return (composite as Record<string | symbol, unknown>)[prop];
      return Reflect.get(target, prop, receiver);
    },
  });
}
