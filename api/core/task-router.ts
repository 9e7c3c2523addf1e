/**
 * Routes ready tasks of routed jobs (jobs whose client brought RTT information) to nodes: for each task, in
 * lease order, `routeTask` over the healthy nodes picks the capable, not busy node with the earliest
 * expected finish (client RTT + queue wait + render time + scene load, 0 on a node that reports the job's
 * scene in its cache) and a runner-up. The decision is stored on the
 * task with two deadlines: past `fallbackAt` (expected queue wait + a grace period) the runner-up may lease
 * it, and past `openAt` (another grace period) any capable node may, so work moves when the chosen node is
 * slower than predicted. Tasks routed to a node that turned unhealthy are routed again.
 *
 * A node's queue is capped (the router's "busy"), so a pass routes only as many tasks as there are free
 * queue places; the rest wait for the next pass, which runs when something changed (a job arrived, a task
 * finished, failed or was leased, a node came back) and at least every passIntervalMs (nodes dying).
 */
import type { Clock } from './clock.ts';
import { fitsNode } from './fits-node.ts';
import { taskPixels } from './job-compiler.ts';
import type { JobStore, RouteAssignment, TaskRoute } from './job-store.ts';
import type { Logger } from './logger.ts';
import type { LiveNode, NodeDirectory } from './node-directory.ts';
import { explainNoRoute, routeTask, type ClientView, type EdgeSighting, type RouterNode } from './routing/router.ts';
import type { Random } from './routing/seeded-random.ts';
import { sceneHolders } from './scene-holders.ts';
import { graceMs, type RoutingPolicy } from './routing-policy.ts';

export class TaskRouter {
  readonly #jobs: JobStore;
  readonly #nodes: NodeDirectory;
  readonly #clock: Clock;
  readonly #policy: RoutingPolicy;
  readonly #rng: Random;
  readonly #logger: Logger;
  /** A PoP's own RTTs to nodes (EdgeRttMeter.rtts): with a job client's PoP and RTT to it, a bound on each. */
  readonly #edgeRow: ((pop: string, now: number) => Promise<Readonly<Record<string, number>>>) | undefined;
  #generation = 0;
  #passedGeneration = -1;
  #lastPassAt = -Infinity;
  #running: Promise<number> | undefined;
  /** Whether any runnable job is routed, as the store last said (with a lease); undefined: not known yet. */
  #routedJobs: boolean | undefined;

  constructor(
    jobs: JobStore,
    nodes: NodeDirectory,
    clock: Clock,
    policy: RoutingPolicy,
    rng: Random,
    logger: Logger,
    edgeRow?: (pop: string, now: number) => Promise<Readonly<Record<string, number>>>,
  ) {
    this.#edgeRow = edgeRow;
    this.#jobs = jobs;
    this.#nodes = nodes;
    this.#clock = clock;
    this.#policy = policy;
    this.#rng = rng;
    this.#logger = logger;
  }

  /**
   * What the store said with its latest lease: whether any runnable job is routed. While none is, passes are
   * skipped (a pass would read the runnable jobs only to find none to route: one store call, a Durable Object
   * request on Workers, per lease). Returns true when it says so anew: the caller routes and leases again.
   */
  noteRoutedJobs(present: boolean): boolean {
    const appeared = present && this.#routedJobs === false;
    this.#routedJobs = present;
    if (appeared) this.#generation++;
    return appeared;
  }

  /** Something changed that may make tasks routable (or routes stale): the next call runs a pass. */
  invalidate(): void {
    this.#generation++;
  }

  /**
   * Route what is ready, unless nothing changed since the last pass and it ran less than passIntervalMs
   * ago. One pass at a time: a caller arriving during a pass waits for it, then runs another if something
   * changed meanwhile. Resolves with the number of tasks this call's pass routed (0 when skipped); never
   * rejects.
   */
  async routePending(): Promise<number> {
    if (this.#routedJobs === false) return 0;
    for (;;) {
      if (this.#running) {
        await this.#running.catch(() => 0);
        continue;
      }
      const now = this.#clock.now();
      if (this.#generation === this.#passedGeneration && now - this.#lastPassAt < this.#policy.passIntervalMs) return 0;
      const generation = this.#generation;
      // A failed pass (a busy store, say) must not fail the lease call or submission that ran it: the
      // tasks stay as they were and the next pass tries again.
      const attempt = this.#pass(now).catch((err: unknown) => {
        this.#logger.warn({ err: (err as Error)?.message ?? String(err) }, 'routing pass failed; retrying on the next one');
        this.#generation++;
        return 0;
      });
      const pass = attempt.finally(() => {
        this.#running = undefined;
        this.#passedGeneration = generation;
        this.#lastPassAt = now;
      });
      this.#running = pass;
      return pass;
    }
  }

  /**
   * A job client's PoP sighting with the PoP's own RTTs to nodes (the job route keeps `edge` only where that
   * PoP's row applies, as GET /v1/nodes/nearby does): the client's RTT to every node the PoP timed is bounded,
   * |r − d| ≤ RTT ≤ r + d, for the nodes it did not measure itself (routeTask). Rows are cached by the meter.
   */
  async #clientEdge(edge: EdgeSighting | undefined, now: number, rows: Map<string, Promise<Readonly<Record<string, number>>>>): Promise<EdgeSighting | undefined> {
    if (!edge || !this.#edgeRow) return undefined;
    // One row object per PoP and pass: the router caches its node indexes per row object.
    let row = rows.get(edge.pop);
    if (!row) rows.set(edge.pop, (row = this.#edgeRow(edge.pop, now)));
    const nodeRttMs = await row;
    return Object.keys(nodeRttMs).length ? { pop: edge.pop, rttMs: edge.rttMs, nodeRttMs } : undefined;
  }

  async #pass(now: number): Promise<number> {
    const jobs = (await this.#jobs.listRunnableJobs()).filter((j) => j.routed);
    if (jobs.length === 0) return 0;
    // Only nodes that ask for work: one that heartbeats but never leases would hold its tasks until a fallback.
    const live = (await this.#nodes.liveNodes(now)).filter((n) => this.#nodes.isAskingForWork(n.record, n.load, now));
    if (live.length === 0) return 0;
    const healthy = new Set(live.map((n) => n.record.nodeId));
    const stale = (await this.#jobs.listRoutedNodes()).filter((id) => !healthy.has(id));
    const nodes = live.map((n) => n.router);
    const framesNodes = live.filter((n) => !n.record.card.tilesOnly).map((n) => n.router);
    const byId = new Map(live.map((n) => [n.record.nodeId, n]));
    const maxQueue = this.#policy.route.maxQueuePerSlot ?? 4;
    let budget = Math.min(
      this.#policy.maxRoutesPerPass,
      live.reduce((sum, n) => sum + Math.max(0, maxQueue * Math.max(1, n.load.concurrency) - n.load.queued), 0),
    );
    const assignments: RouteAssignment[] = [];
    const edgeRows = new Map<string, Promise<Readonly<Record<string, number>>>>();
    const perJob: { jobId: string; routed: number; nodes: Record<string, number>; unroutable?: string }[] = [];
    for (const job of jobs) {
      if (budget <= 0) break;
      const client: ClientView = {
        measuredRttMs: job.client?.rttMs ?? {},
        coord: job.client?.coordinate ?? undefined,
        location: job.client?.location ?? undefined,
        edge: await this.#clientEdge(job.client?.edge, now, edgeRows),
      };
      const requirements = job.requirements ?? undefined;
      // The scene term: nodes whose heartbeats say they hold the scene, where this API handed it to them, save its
      // load (scene-holders.ts). When none does, the load is the same everywhere and changes no ranking: it is left
      // out (scores stay RTT + queue + render).
      const claimed = live.some((n) => n.record.cachedScenes?.includes(job.sceneId));
      const cachedOn = claimed ? sceneHolders(live, job.sceneId, { leasedTasks: await this.#jobs.nodesGivenScene(job.sceneId), servedSessions: [] }) : new Set<string>();
      const sceneRecord = cachedOn.size ? await this.#jobs.getScene(job.sceneId) : null;
      const scene = sceneRecord ? { bytes: sceneRecord.bytes, cachedOn } : undefined;
      const summary: (typeof perJob)[number] = { jobId: job.jobId, routed: 0, nodes: {} };
      const tasks = await this.#jobs.listRoutableTasks({ jobId: job.jobId, now, limit: budget, rerouteFrom: stale });
      for (const { task, failedOn } of tasks) {
        // A retried task avoids the nodes it failed on, while another node can take it.
        let candidates: readonly RouterNode[] = nodes;
        // A stitch or a one-tile frame goes only to nodes that encode finished frames (not tiles-only ones).
        const needsFrames = !fitsNode({ tilesOnly: true }, task);
        if (needsFrames) candidates = framesNodes;
        if (failedOn.length) {
          const others = candidates.filter((n) => !failedOn.includes(n.id));
          if (others.length) candidates = others;
        }
        const request = { requirements, client, taskPixels: taskPixels(task, job.view), scene };
        const decision = routeTask(candidates, request, this.#rng, this.#policy.route);
        // No node that encodes frames can take it now: the job's later tiles may still go to tiles-only nodes.
        if (!decision && needsFrames && framesNodes.length < nodes.length) continue;
        if (!decision) {
          // Every capable node is busy (or none can run this job): the rest of the job waits for the next pass.
          if (summary.routed === 0) summary.unroutable = explainNoRoute(candidates, request, this.#policy.route);
          break;
        }
        const chosen: LiveNode = byId.get(decision.nodeId)!;
        chosen.load.queued++;
        budget--;
        const grace = graceMs(chosen.record.rttToApiMs ?? null, this.#policy);
        const due = now + decision.queueMs + grace;
        const fallbackAt = decision.fallbackId ? due : null;
        // A job with maxRttMs is never opened to just any node: only its chosen node and runner-up meet it.
        const openAt = requirements?.maxRttMs !== undefined ? null : decision.fallbackId ? due + grace : due;
        const route: TaskRoute = {
          nodeId: decision.nodeId,
          fallbackId: decision.fallbackId,
          predictedRttMs: decision.predictedRttMs,
          rttSource: decision.rttSource,
          queueMs: decision.queueMs,
          renderMs: decision.renderMs,
          score: decision.score,
          reason: decision.reason + passedOver(decision.skipped, failedOn.length && candidates !== nodes ? failedOn.length : 0),
          routedAt: now,
          fallbackAt,
          leasedAs: null,
        };
        assignments.push({ taskId: task.taskId, expectNode: task.route?.nodeId ?? null, route, openAt });
        summary.routed++;
        summary.nodes[decision.nodeId] = (summary.nodes[decision.nodeId] ?? 0) + 1;
        if (budget <= 0) break;
      }
      if (summary.routed || summary.unroutable) perJob.push(summary);
    }
    const applied = assignments.length ? await this.#jobs.setTaskRoutes(assignments) : 0;
    for (const s of perJob) {
      if (s.routed) this.#logger.info({ jobId: s.jobId, tasks: s.routed, nodes: s.nodes, rerouted: stale.length ? stale : undefined }, 'tasks routed');
      else this.#logger.debug({ jobId: s.jobId, why: s.unroutable }, 'tasks wait for a node');
    }
    return applied;
  }
}

/** The nodes a decision passed over, as a clause for its reason ('' when none). */
function passedOver(skipped: { unhealthy: number; busy: number; incapable: number; tooFar: number }, failedOn: number): string {
  const parts: string[] = [];
  if (skipped.busy) parts.push(`${skipped.busy} busy`);
  if (skipped.incapable) parts.push(`${skipped.incapable} not meeting the job's requirements`);
  if (skipped.tooFar) parts.push(`${skipped.tooFar} beyond maxRttMs`);
  if (skipped.unhealthy) parts.push(`${skipped.unhealthy} unhealthy`);
  if (failedOn) parts.push(`${failedOn} that failed this task before`);
  return parts.length ? `; passed over ${parts.join(', ')}` : '';
}
