/**
 * Verification by re-issue, as the routes use it: decides which completed render and stitch results are re-issued to
 * another node (seeded sampling, and only while another eligible node is healthy), compares a verifying
 * render with the earlier results of its round (checksums for equal renderer versions, the ImageComparer's
 * perceptual tolerance for different ones), and skips verifications no healthy node may take. The store
 * applies the votes atomically (JobStore.completeTask); see verification-vote.ts for what a vote decides.
 */
import { fitsNode } from './fits-node.ts';
import type { Clock } from './clock.ts';
import { randomId } from './crypto-utils.ts';
import type { ImageComparer } from './image-comparer.ts';
import type { JobRecord, JobStore, NodeRecord, TaskRecord } from './job-store.ts';
import type { Logger } from './logger.ts';
import { acceptedKey } from './object-keys.ts';
import type { NodeDirectory } from './node-directory.ts';
import { meetsRequirements } from './routing/requirements.ts';
import { cardRendererIdentity } from '../protocol/node-card.ts';
import type { StatusChange } from './state-machine.ts';
import { isSampled, type VerificationOptions } from './verification-policy.ts';
import { onProbation, TRUST_DEFAULTS, type TrustOptions } from './node-trust.ts';

/** How often lease calls look for stranded verifications. */
const SWEEP_INTERVAL_MS = 1000;

export class Verifier {
  readonly #jobs: JobStore;
  readonly #nodes: NodeDirectory;
  readonly #comparer: ImageComparer | undefined;
  readonly #options: VerificationOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #seed: string;
  #lastSweep = -Infinity;
  /** What the last lease call learned: whether any job is runnable (with none, nothing waits for verification). */
  #runnableJobs = true;

  readonly #trust: TrustOptions;

  constructor(
    jobs: JobStore,
    nodes: NodeDirectory,
    comparer: ImageComparer | undefined,
    options: VerificationOptions,
    clock: Clock,
    logger: Logger,
    trust: TrustOptions = TRUST_DEFAULTS,
  ) {
    this.#trust = trust;
    this.#jobs = jobs;
    this.#nodes = nodes;
    this.#comparer = comparer;
    this.#options = options;
    this.#clock = clock;
    this.#logger = logger;
    this.#seed = options.seed ?? randomId('seed');
  }

  /**
   * For the result `node` just delivered for render or stitch task `task` (its record as the caller authenticated
   * it, so no second read of it): whether the seeded draw re-issues it (`sample`), and whether any other healthy
   * node may run the job (`verifiable`). A result that is not verifiable is accepted unverified, re-render or not:
   * the frame would wait for nobody.
   */
  async sampling(task: TaskRecord, node: NodeRecord, job?: JobRecord): Promise<{ sample: boolean; verifiable: boolean }> {
    // A stitch decides its whole frame: checked by the same rules as a tile (another node stitches the same tiles).
    if (task.kind !== 'render' && task.kind !== 'stitch') return { sample: false, verifiable: false };
    const { nodeId } = node;
    // A node on probation (too few verified results: a new identity, maybe a blocklisted one come back) is
    // checked far more often than one with a record.
    // (A sample rate of 0 switches verification off, probation included.)
    const base = this.#options.sampleRate;
    const rate = base > 0 && onProbation(node, this.#trust) ? Math.max(base, this.#trust.probationSampleRate) : base;
    const sample = isSampled(task.taskId, task.round, rate, this.#seed);
    if (!sample && task.verification?.state !== 'rerender') return { sample, verifiable: true };
    const record = job ?? (await this.#jobs.getJob(task.jobId));
    // A session sample's reference render (the only job that asks for `viewPose`) is a vote already: two other nodes
    // must agree before a session frame is disproven, and references that disagree leave it inconclusive
    // (session-verification.ts). Re-rendering it too would only hold the verdict back (a probationary node's
    // reference would wait for a third node), so it is accepted as delivered.
    if (record?.requirements?.viewPose) return { sample: false, verifiable: true };
    // Only nodes that ask for work can verify: a node that just heartbeats would leave the frame waiting.
    const healthy = (await this.#nodes.workingNodes(this.#clock.now())).filter((n) => n.nodeId !== nodeId);
    if (healthy.length === 0) return { sample, verifiable: false };
    const requirements = record?.requirements ?? undefined;
    // …and only nodes whose card takes this kind of task (a tiles-only browser tab verifies no stitch).
    return { sample, verifiable: healthy.some((n) => meetsRequirements(n.card, requirements) && fitsNode(n.card, task)) };
  }

  /**
   * For a verify task whose output `node` just uploaded: whether it agrees with each earlier result of its
   * round. Undefined when its vote is over (the store then records the result without effect).
   */
  async agreement(task: TaskRecord, node: NodeRecord, checksum: string): Promise<boolean[] | undefined> {
    if (task.kind !== 'verify') return undefined;
    const round = await this.#jobs.getVerificationRound(task.taskId);
    if (!round) return undefined;
    // A tile's renders are the tile's size; a stitch's (no tile) are the frame's.
    const size = task.tile ?? (await this.#jobs.getJob(task.jobId))?.view;
    if (!size) return undefined;
    // Each node's identity for this job's scene: an auto node renders a WebGL 2 scene on Chromium, any other on headless-gl.
    const webgl2 = (await this.#jobs.getJob(task.jobId))?.requirements?.webgl2 ?? false;
    const mine = cardRendererIdentity(node.card, webgl2);
    return Promise.all(
      round.earlier.map(async (r) => {
        const other = await this.#jobs.getNode(r.nodeId);
        const theirs = other && cardRendererIdentity(other.card, webgl2);
        if (!this.#comparer || !other || theirs === mine) return r.checksum === checksum;
        const { diffRatio } = await this.#comparer.compare(r.outputKey, acceptedKey(task), size);
        const agrees = diffRatio <= this.#options.maxDiffRatio;
        this.#logger.info(
          { taskId: round.target.taskId, nodes: [r.nodeId, node.nodeId], versions: [theirs, mine], diffRatio, agrees },
          'renderer versions differ: compared pixels',
        );
        return agrees;
      }),
    );
  }

  /** Note whether the store has any runnable job (a lease call's answer): sweeps are skipped while none is. */
  noteRunnableJobs(present: boolean): void {
    this.#runnableJobs = present;
  }

  /** Skip verifications that waited abandonAfterMs while no healthy node could take them (at most once a second). */
  async sweep(now: number): Promise<StatusChange[]> {
    // No runnable job when the store last said: no verification can be waiting (an idle farm costs no sweeps).
    if (!this.#runnableJobs) return [];
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return [];
    this.#lastSweep = now;
    // Eligible: nodes that ask for work (a node that only heartbeats never takes a verification).
    const eligible = await this.#nodes.workingNodes(now);
    // No working node at all: nothing runs anyway, so wait rather than accept results unverified.
    if (eligible.length === 0) return [];
    const { changes, skipped } = await this.#jobs.skipStrandedVerifications({ waitingSince: now - this.#options.abandonAfterMs, eligible, now });
    if (skipped.length) this.#logger.warn({ tasks: skipped }, 'verification skipped: no other healthy node could render these tiles; accepted unverified');
    return changes;
  }
}
