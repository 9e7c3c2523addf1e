/** What every route handler gets: the ports, the resolved options, and helpers shared across routes. */
import type { BlobStore } from './blob-store.ts';
import type { ClientKeys } from './client-keys.ts';
import type { Clock } from './clock.ts';
import type { JobStore } from './job-store.ts';
import type { Logger } from './logger.ts';
import type { NodeDirectory } from './node-directory.ts';
import type { NodeNetwork } from './node-network.ts';
import type { NodePolls } from './node-polls.ts';
import type { PopLearner } from './pop-learner.ts';
import type { EdgeRttMeter } from './edge-rtt-meter.ts';
import { jobTopic, TASKS_TOPIC, type Notifier } from './notifier.ts';
import { pruneSupersededOutputs } from './prune-outputs.ts';
import { stampTimeline } from './timeline.ts';
import type { ResolvedApiOptions } from './api-options.ts';
import type { RateLimiter } from './rate-limiter.ts';
import type { SceneInspector } from '../../scene-check/scene-inspector.ts';
import { isJobFinished, type StatusChange } from './state-machine.ts';
import { advanceOnJobEnd } from './session-verification.ts';
import type { JobState } from '../protocol/job-status.ts';
import type { StreamSlots } from './stream-slots.ts';
import type { TaskRouter } from './task-router.ts';
import type { Verifier } from './verifier.ts';
import type { ImageComparer } from './image-comparer.ts';
import type { Random } from './routing/seeded-random.ts';
import type { SessionStore } from './session-store.ts';
import type { SessionTickets } from './session-tickets.ts';
import type { NodeCredentials } from './node-credentials.ts';
import type { RecentFrames } from './recent-frames.ts';
import type { InspectionSlots } from './inspection-slots.ts';

export interface ApiContext {
  jobs: JobStore;
  blobs: BlobStore;
  inspector: SceneInspector;
  /** Bounds the scene inspections this process runs at once (503 past its queue). */
  inspections: InspectionSlots;
  clock: Clock;
  logger: Logger;
  notifier: Notifier;
  options: ResolvedApiOptions;
  /** Healthy nodes, their loads and the router's picture of them. */
  nodes: NodeDirectory;
  /** Measurements → network coordinates. */
  network: NodeNetwork;
  /** What earlier clients of each edge PoP found best, suggested to the next. */
  pops: PopLearner;
  /** The edge's own RTTs to nodes, per PoP: measured here, never claimed. */
  edgeRtts: EdgeRttMeter;
  /** Routes ready tasks of routed jobs to nodes. */
  router: TaskRouter;
  /** Re-issues sampled render results to other nodes and compares them. */
  verifier: Verifier;
  /** Compares pictures (verification; session frames against batch renders); absent where none is configured. */
  comparer?: ImageComparer;
  /** Client API keys: who a bearer key is. */
  keys: ClientKeys;
  /** Per-key request rate limits (client keys, node tokens, registrations). */
  limiter: RateLimiter;
  /** Interactive sessions; absent when this API serves none. */
  sessions?: SessionStore;
  /** Issues node tokens and checks their signatures without the store. */
  credentials: NodeCredentials;
  /** Mints session tickets; hands nodes their ticket secrets. */
  tickets: SessionTickets;
  /** Breaks routing ties (seeded when routing.seed is set). */
  rng: Random;
  /** Per-key open event streams. */
  streams: StreamSlots;
  /** Finished frames still in memory from their inline completions, for frame events that carry them. */
  recentFrames: RecentFrames;
  /** The fetch for probe URLs that must be public (ApiDeps.publicFetch); absent: the global fetch. */
  publicFetch?: typeof fetch;
  /** HMAC-SHA256 at once, where the runtime has it (ApiDeps.hmacSha256Sync). */
  hmacSha256Sync?: (key: Uint8Array, data: Uint8Array) => Uint8Array;
  /** Open lease long-polls per node (at most its slots). */
  polls: NodePolls;
  /**
   * Log each status change as old → new, wake whoever waits on the jobs and tasks involved, delete the
   * superseded outputs of jobs that just ended (the store's clean-up mark makes the sweep do it again later), and
   * move on the session samples whose reference render just ended (a verdict with nobody polling).
   */
  applied(changes: StatusChange[]): Promise<void>;
}

/** How long an ended job's prune waits, so the job's event streams go first (ms). */
const PRUNE_AFTER_MS = 20;

/** Build the context; `applied` is the one place status changes are logged. */
export function createApiContext(parts: Omit<ApiContext, 'applied'>): ApiContext {
  const ctx: ApiContext = {
    ...parts,
    async applied(changes) {
      if (changes.length === 0) return;
      const jobs = new Set<string>();
      for (const ch of changes) {
        parts.logger.info(
          { entity: ch.entity, id: ch.id, jobId: ch.jobId, from: ch.from, to: ch.to, reason: ch.reason },
          `${ch.entity} ${ch.id}: ${ch.from} → ${ch.to}`,
        );
        jobs.add(ch.jobId);
      }
      // Tasks finished, freed or requeued: queues changed, so routing may place more.
      parts.router.invalidate();
      // A store that announces its own changes (the coordinator object) has woken the farm already: only this
      // process's waiters are left (no second request to the object).
      const { notifier } = parts;
      const wake = parts.jobs.announcesChanges && notifier.notifyLocal ? (t: string) => notifier.notifyLocal!(t) : (t: string) => notifier.notify(t);
      for (const jobId of jobs) wake(jobTopic(jobId));
      wake(TASKS_TOPIC);
      const ended = changes.filter((ch) => ch.entity === 'job' && isJobFinished(ch.to as JobState));
      // The woken event streams send the job's last frame and its end before the prune's storage calls compete with
      // them for this process (a frame's file is what the client waits for; the prune only tidies storage).
      if (ended.length) await new Promise((resolve) => setTimeout(resolve, PRUNE_AFTER_MS));
      for (const ch of ended) {
        stampTimeline(parts.options.timeline, parts.logger, 'prune-start', { jobId: ch.jobId });
        await pruneSupersededOutputs(parts, ch.jobId);
        stampTimeline(parts.options.timeline, parts.logger, 'prune-end', { jobId: ch.jobId });
        // An attempt whose lease was taken back may still hold an upload URL and PUT after the job has ended: the
        // store marked the job's clean-up as due once every such URL has expired, and the sweep (prune-sweep.ts)
        // prunes again then, whatever restarts in between.
      }
      // A session sample's reference render ended: its verdict (and a disproven node's penalty) follows now, not at
      // the client's next poll (session-verification.ts). Other jobs' ends cost nothing here (the id tells).
      if (ended.length) await advanceOnJobEnd(ctx, ended.map((ch) => ch.jobId));
    },
  };
  return ctx;
}
