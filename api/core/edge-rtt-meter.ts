/**
 * The edge measures its own RTTs to render nodes (routing/edge-rtts.ts), per PoP, kept in the job store's
 * meta table (one bounded row per PoP) and read through a short cache.
 *
 * How: the edge times the node's challenge ping itself (`GET <probeUrl>?nonce=`, the minimum of a few) and
 * keeps the RTT only when the answer is the node's HMAC of the edge's fresh nonce under the node's probe key:
 * a ping server that is not the node (a cache, a fast front) earns nothing, and a node that delays its answer
 * only looks farther away. An answer that speaks as the node (names it, or echoes the nonce) without the node's
 * HMAC proves the probe URL is not the node: the node is convicted (blocklisted, its credit forfeited). Nodes never report these RTTs; nothing a node sends is written here.
 *
 * Which PoP: on Workers the colo that took the request (`request.cf.colo`: the Worker runs there, so its
 * `fetch` leaves from there); on Node the API's configured PoP (TESSERA_EDGE_POP), the API being one PoP.
 * Never a PoP a client names. When: after a `GET /v1/nodes/nearby` answer, in the background (waitUntil on
 * Workers), a few nodes per request (measureBudget), one run per PoP at a time in a process; never on a node's
 * lease or heartbeat path. Probe URLs pass the same checks as the reachability probe (http(s), path /ping,
 * no private addresses unless allowed), so the edge cannot be pointed at anything else.
 */
import { pingProven } from '../protocol/ping-url.ts';
import { verifyProbeProof } from '../protocol/probe-proof.ts';
import type { JobStore, NodeRecord } from './job-store.ts';
import type { Logger } from './logger.ts';
import { forgedProbeReason } from './node-trust.ts';
import { refuseProbeUrl } from './probe-reachability.ts';
import { edgeColo } from './pop-learner.ts';
import { EDGE_RTT_DEFAULTS, edgeRttView, nodesToMeasure, parseEdgeRttRow, recordEdgeRtt, type EdgeRttOptions, type EdgeRttRow } from './routing/edge-rtts.ts';

/** Where a PoP's row is kept: this prefix and the PoP code. */
export const EDGE_RTT_KEY_PREFIX = 'network.edge-rtts.';

export interface EdgeRttMeterOptions extends EdgeRttOptions {
  /** Measure at all (false: the edge never pings nodes; routing uses nodes' own sightings only). */
  enabled?: boolean;
  /** How long a read of a PoP's row is reused (ms). */
  cacheMs?: number;
  /** Probe URLs naming loopback or private addresses may be pinged (farms on one machine or a LAN). */
  allowPrivateAddresses?: boolean;
}

export const EDGE_RTT_METER_DEFAULTS: Required<EdgeRttMeterOptions> = { ...EDGE_RTT_DEFAULTS, enabled: true, cacheMs: 2000, allowPrivateAddresses: false };

/** PoPs whose cached rows one process keeps. */
const MAX_CACHED_POPS = 512;
/** Failed (pop, node) pairs one process remembers. */
const MAX_FAILURES = 10_000;

/** A PoP code as the meter keys it. */
function popKey(pop: string): string | undefined {
  return /^[A-Za-z0-9_-]{1,16}$/.test(pop) ? pop.toUpperCase() : undefined;
}

export class EdgeRttMeter {
  readonly #jobs: JobStore;
  readonly #logger: Logger;
  readonly #o: Required<EdgeRttMeterOptions>;
  readonly #fetch: typeof fetch;
  readonly #cache = new Map<string, { at: number; row: EdgeRttRow }>();
  readonly #running = new Set<string>();
  /** When a node last gave this process no proven answer, by "pop nodeId". */
  readonly #failures = new Map<string, number>();
  readonly #convict: (nodeId: string, reason: string) => Promise<void>;

  /**
   * `convict`: what is done with a node whose probe URL forged the challenge (answered as the node without its
   * proof): the API blocklists it and forfeits its credit (convict-node.ts); by default the store blocklists it.
   */
  constructor(jobs: JobStore, logger: Logger, options: EdgeRttMeterOptions = {}, fetcher?: typeof fetch, convict?: (nodeId: string, reason: string) => Promise<void>) {
    this.#jobs = jobs;
    this.#logger = logger;
    this.#o = { ...EDGE_RTT_METER_DEFAULTS, ...options };
    this.#fetch = fetcher ?? ((input, init) => globalThis.fetch(input, init));
    this.#convict = convict ?? (async (nodeId, reason) => void (await jobs.blocklistNode(nodeId, reason, Date.now())));
  }

  get options(): Required<EdgeRttMeterOptions> {
    return this.#o;
  }

  /** The PoP this process measures from for `raw`: the edge's colo, else the configured PoP; never a client's claim. */
  measuringPop(raw: Request, configuredPop: string | undefined): string | undefined {
    const pop = edgeColo(raw) ?? configuredPop;
    return pop ? popKey(pop) : undefined;
  }

  /** A PoP's stored row (through the cache). */
  async row(pop: string, now: number): Promise<EdgeRttRow> {
    const key = popKey(pop);
    if (!key) return {};
    const c = this.#cache.get(key);
    if (c && now >= c.at && now - c.at <= this.#o.cacheMs) return c.row;
    const row = parseEdgeRttRow(await this.#jobs.getMeta(EDGE_RTT_KEY_PREFIX + key), this.#o);
    this.#remember(key, now, row);
    return row;
  }

  /** A PoP's unexpired RTTs by node id (the router's `EdgeSighting.nodeRttMs`); empty when it measured none. */
  async rtts(pop: string, now: number): Promise<Record<string, number>> {
    return edgeRttView(await this.row(pop, now), now, this.#o);
  }

  /**
   * Measure from `pop` the nodes that are due (at most measureBudget, `prefer` first: the nodes a client was
   * just told to ping), in parallel, and store what they proved. Resolves with the number recorded; never
   * throws (a failed measurement records nothing). A second call for a PoP while one runs returns 0.
   */
  async measure(pop: string, nodes: readonly NodeRecord[], now: number, prefer: readonly string[] = []): Promise<number> {
    const key = popKey(pop);
    if (!this.#o.enabled || !key || this.#running.has(key)) return 0;
    this.#running.add(key);
    try {
      const byId = new Map<string, NodeRecord>();
      for (const n of nodes) {
        if (n.probeKey && n.card.probeUrl && !n.reputation?.blocklisted && !refuseProbeUrl(n.card.probeUrl, this.#o) && !this.#recentlyFailed(key, n.nodeId, now)) byId.set(n.nodeId, n);
      }
      const row = await this.row(key, now);
      const due = nodesToMeasure(row, [...byId.keys()], now, this.#o.measureBudget, this.#o, prefer);
      if (due.length === 0) return 0;
      const results = await Promise.all(due.map((id) => this.#time(key, byId.get(id)!, now)));
      // Re-read before writing (another process may have written meanwhile), then add what was proven.
      this.#cache.delete(key);
      let next = parseEdgeRttRow(await this.#jobs.getMeta(EDGE_RTT_KEY_PREFIX + key), this.#o);
      let recorded = 0;
      results.forEach((rttMs, i) => {
        if (rttMs === undefined) return;
        next = recordEdgeRtt(next, due[i], rttMs, now, this.#o);
        recorded++;
      });
      if (recorded) await this.#jobs.setMeta(EDGE_RTT_KEY_PREFIX + key, JSON.stringify(next));
      this.#remember(key, now, next);
      this.#logger.debug({ pop: key, measured: due.length, recorded }, 'edge RTTs to nodes measured');
      return recorded;
    } catch (err) {
      this.#logger.warn({ pop: key, err: (err as Error).message }, 'edge RTT measurement failed');
      return 0;
    } finally {
      this.#running.delete(key);
    }
  }

  /**
   * One node's RTT from here: the minimum of its proven answers (one ping first; the rest only when it
   * answered, so an unreachable node costs one timeout). Undefined when no answer proved it is the node.
   */
  async #time(pop: string, node: NodeRecord, now: number): Promise<number | undefined> {
    let best: number | undefined;
    let unproven = false;
    let forged = false;
    for (let i = 0; i < this.#o.samples; i++) {
      let pong;
      try {
        pong = await pingProven(node.card.probeUrl!, { samples: 1, timeoutMs: this.#o.timeoutMs, expectNodeId: node.nodeId, fetch: this.#fetch });
      } catch {
        if (i === 0) break;
        continue;
      }
      if (pong.proof && (await verifyProbeProof(node.probeKey!, pong.nonce, pong.proof))) best = Math.min(pong.rttMs, best ?? Infinity);
      else if (pong.claimed) {
        // It answered as the node (its id, or our nonce) with a wrong or missing HMAC: only the node holds the key
        // (the API handed it out at registration), so whatever answers there is not the node. Proof of a lie.
        forged = true;
        break;
      } else unproven = true;
    }
    if (forged) {
      const reason = forgedProbeReason(node.card.probeUrl!, 'edge RTT meter');
      this.#logger.warn({ pop, nodeId: node.nodeId, probeUrl: node.card.probeUrl }, 'edge ping answered as the node without its probe key\'s proof: forged probe, node convicted');
      this.#failed(pop, node.nodeId, now);
      await this.#convict(node.nodeId, reason).catch((err: unknown) => this.#logger.warn({ nodeId: node.nodeId, err: (err as Error).message }, 'could not blocklist a node with a forged probe'));
      return undefined;
    }
    if (unproven) this.#logger.warn({ pop, nodeId: node.nodeId }, 'edge ping answered without a valid probe proof: not counted');
    if (best === undefined) this.#failed(pop, node.nodeId, now);
    return best;
  }

  /** Remember (per process, bounded) that a node gave no proven answer: it is not tried again for refreshMs. */
  #failed(pop: string, nodeId: string, now: number): void {
    const key = `${pop} ${nodeId}`;
    this.#failures.delete(key);
    if (this.#failures.size >= MAX_FAILURES) this.#failures.delete(this.#failures.keys().next().value!);
    this.#failures.set(key, now);
  }

  #recentlyFailed(pop: string, nodeId: string, now: number): boolean {
    const at = this.#failures.get(`${pop} ${nodeId}`);
    return at !== undefined && now >= at && now - at < this.#o.refreshMs;
  }

  #remember(key: string, at: number, row: EdgeRttRow): void {
    this.#cache.delete(key);
    if (this.#cache.size >= MAX_CACHED_POPS) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, { at, row });
  }
}
