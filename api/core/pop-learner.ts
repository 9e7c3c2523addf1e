/**
 * The API's per-PoP learning (routing/pop-learning.ts) kept in the job store's meta table: a job's proven
 * RTTs teach its client's PoP which nodes were best, and `GET /v1/nodes/nearby` suggests those first to the
 * next client from that PoP. One table under one meta key, bounded (PoPs × nodes), read through a short
 * cache: the suggestions are a hint for whom to ping, never where to route.
 *
 * Which PoP is trusted: on Workers, `request.cf.colo` (Cloudflare sets it; a client cannot choose it); on
 * Node there is no edge to vouch for a client, so its `client.edge.pop` is only a claim and teaches nothing
 * unless the operator sets `trustClientPop` (clients of its own, or a proxy it trusts). Asking for
 * suggestions needs no trust: a client that names another PoP only misleads itself.
 */
import type { JobStore } from './job-store.ts';
import type { Logger } from './logger.ts';
import { learnPopTable, parsePopTable, POP_LEARNING_DEFAULTS, suggestFromPop, type PopLearningOptions, type PopTable } from './routing/pop-learning.ts';

/** Where the table is kept. */
export const POP_TABLE_KEY = 'network.pop-best';

export interface PopLearnerOptions extends PopLearningOptions {
  /** Learn on Node from the PoP a client names (false: only a PoP the edge itself saw, request.cf.colo). */
  trustClientPop?: boolean;
  /** How long a read of the table is reused for suggestions (ms). */
  cacheMs?: number;
}

export const POP_LEARNER_DEFAULTS: Required<PopLearnerOptions> = { ...POP_LEARNING_DEFAULTS, trustClientPop: false, cacheMs: 2000 };

/** The PoP Cloudflare's edge took the request at (`request.cf.colo`), if any. */
export function edgeColo(raw: Request): string | undefined {
  const colo = (raw as Request & { cf?: { colo?: unknown } }).cf?.colo;
  return typeof colo === 'string' && /^[A-Za-z0-9]{2,8}$/.test(colo) ? colo.toUpperCase() : undefined;
}

export class PopLearner {
  readonly #jobs: JobStore;
  readonly #logger: Logger;
  readonly #o: Required<PopLearnerOptions>;
  #cache: { at: number; table: PopTable } | undefined;

  constructor(jobs: JobStore, logger: Logger, options: PopLearnerOptions = {}) {
    this.#jobs = jobs;
    this.#logger = logger;
    this.#o = { ...POP_LEARNER_DEFAULTS, ...options };
  }

  /** The PoP a job's RTTs may teach: the edge's colo, else the client's claim when the operator trusts it. */
  trustedPop(raw: Request, claimed: string | undefined): string | undefined {
    return edgeColo(raw) ?? (this.#o.trustClientPop ? claimed?.toUpperCase() : undefined);
  }

  /** The PoP to suggest for: the edge's colo, else whatever the client names. */
  askingPop(raw: Request, claimed: string | undefined): string | undefined {
    return edgeColo(raw) ?? claimed?.toUpperCase();
  }

  /**
   * Learn from one client of `pop`: `rttMs` must hold only proven RTTs (NodeNetwork.locateClient's record);
   * ids of nodes the API does not know (`known`) are ignored.
   */
  async learn(pop: string, rttMs: Readonly<Record<string, number>>, known: ReadonlySet<string>, now: number): Promise<void> {
    const table = parsePopTable(await this.#jobs.getMeta(POP_TABLE_KEY), this.#o);
    const next = learnPopTable(table, pop, rttMs, (id) => known.has(id), now, this.#o);
    if (next === table) return;
    await this.#jobs.setMeta(POP_TABLE_KEY, JSON.stringify(next));
    this.#cache = { at: now, table: next };
    this.#logger.debug({ pop, nodes: Object.keys(next[pop]?.nodes ?? {}) }, 'PoP learned from a client');
  }

  /**
   * What a job or session request teaches: its client's proven RTTs (`rttMs`, NodeNetwork.locateClient's
   * record) under the trusted PoP of the request, if any; `known` lists the nodes the API knows now.
   */
  async teach(raw: Request, claimedPop: string | undefined, rttMs: Readonly<Record<string, number>> | undefined, known: () => Promise<Iterable<string>>, now: number): Promise<void> {
    const pop = this.trustedPop(raw, claimedPop);
    if (!pop || !rttMs || Object.keys(rttMs).length < this.#o.minRtts) return;
    await this.learn(pop, rttMs, new Set(await known()), now);
  }

  /** The nodes earlier clients of `pop` found best, best first (empty when it has learned nothing). */
  async suggest(pop: string | undefined, now: number): Promise<string[]> {
    if (!pop) return [];
    const c = this.#cache;
    const table = c && now - c.at <= this.#o.cacheMs && now >= c.at ? c.table : parsePopTable(await this.#jobs.getMeta(POP_TABLE_KEY), this.#o);
    if (!c || c.table !== table) this.#cache = { at: now, table };
    return suggestFromPop(Object.hasOwn(table, pop) ? table[pop] : undefined, now, this.#o);
  }
}
