/**
 * Where a session goes: the capable node with the earliest expected first frame,
 *   RTT(client, node) + scene load (0 when the node has the scene cached) + queue + render of one stereo frame,
 * with the router's RTT prediction (measured, else the network-coordinate estimate made pessimistic by its
 * error) and render estimate (the node's measured reference-tile speed). Never a node that is unhealthy or
 * blocklisted (callers pass live nodes only), that has no free session slot or a full task queue (busy), or
 * that fails the requirements (incapable). Ties go to a random node; the runner-up is named as the fallback.
 */
import type { SessionRoute } from '../protocol/session.ts';
import type { LiveNode } from './node-directory.ts';
import { meetsRequirements, type JobRequirements } from './routing/requirements.ts';
import { expectedQueueMs, expectedRenderMs, isBusy, predictRtt, ROUTE_DEFAULTS, type ClientView, type RouteOptions } from './routing/router.ts';
import type { Random } from './routing/seeded-random.ts';

export interface SessionPlacementOptions {
  /** Fixed cost of loading a scene that is not cached (download start, parse, GPU upload), ms. */
  sceneLoadBaseMs: number;
  /** Scene download + parse throughput, bytes per ms (for the size-dependent part). */
  sceneBytesPerMs: number;
  /**
   * Starting the headless Chromium a session renders in on the Chromium backend (each session starts its own, cached
   * scene or not): 1.4–3.2 s measured on a quiet 2-core machine (docs/rendering.md, `npm run bench:backends`).
   */
  chromiumStartMs: number;
}

export const SESSION_PLACEMENT_DEFAULTS: SessionPlacementOptions = {
  sceneLoadBaseMs: 150,
  sceneBytesPerMs: 20_000, // 20 MB/s
  chromiumStartMs: 2000,
};

export interface SessionPlacementRequest {
  client: ClientView;
  requirements?: JobRequirements;
  eye: { width: number; height: number };
  /** The session asks for depth frames: only nodes whose card lists the `depth` session feature qualify. */
  depth?: boolean;
  /**
   * What of the scene needs WebGL 2 (its flagged extensions), to name in the reason when no node can serve it. The
   * requirement itself is `requirements.webgl2`: only nodes whose card lists the `webgl2` session feature qualify.
   */
  webgl2Extensions?: readonly string[];
  /** The session asks for the `fast` look: only nodes whose card lists the `fast` session feature qualify. */
  fast?: boolean;
  sceneBytes: number;
  /** Open sessions per node id. */
  openSessions: Record<string, number>;
  /** Nodes believed to hold the scene: they served its sessions, or report it in their heartbeats' scene cache. */
  cachedOn: ReadonlySet<string>;
  /** Nodes the client asked not to use. */
  exclude?: readonly string[];
}

export type SessionPlacement =
  | { ok: true; route: SessionRoute }
  | { ok: false; reason: string };

/** Place a session among `live` nodes (healthy, not blocklisted). */
export function placeSession(live: readonly LiveNode[], req: SessionPlacementRequest, rng: Random, options: SessionPlacementOptions = SESSION_PLACEMENT_DEFAULTS, route: RouteOptions = ROUTE_DEFAULTS): SessionPlacement {
  const o = { ...ROUTE_DEFAULTS, ...route };
  const pixels = 2 * req.eye.width * req.eye.height;
  let noSlots = 0, busy = 0, incapable = 0, tooFar = 0, noWebgl2 = 0;
  type Scored = { node: LiveNode; score: number; rtt: ReturnType<typeof predictRtt>; load: number; renderMs: number; queueMs: number; cached: boolean; chromium: boolean };
  const scored: Scored[] = [];
  let excluded = 0;
  for (const node of live) {
    const card = node.record.card;
    if (req.exclude?.includes(node.record.nodeId)) {
      excluded++;
      continue;
    }
    const slots = card.sessionSlots ?? 0;
    // Sessions render where the node's card says: `webgl2` among its session features, not just a WebGL 2 backend for
    // batch tasks (a node from before sessions ran on Chromium has one, and would render the scene without it).
    if (slots > 0 && card.sessionUrl && req.requirements?.webgl2 && !card.sessionFeatures?.includes('webgl2')) {
      noWebgl2++;
      continue;
    }
    if (slots <= 0 || !card.sessionUrl || card.tilesPerSecond <= 0 || (req.depth && !card.sessionFeatures?.includes('depth')) || (req.fast && !card.sessionFeatures?.includes('fast')) || !meetsRequirements(card, req.requirements) || card.gl.maxViewport[0] < 2 * req.eye.width || card.gl.maxViewport[1] < req.eye.height) {
      incapable++;
      continue;
    }
    if ((req.openSessions[node.record.nodeId] ?? 0) >= slots) {
      noSlots++;
      continue;
    }
    if (isBusy(node.load, o.maxQueuePerSlot)) {
      busy++;
      continue;
    }
    const rtt = predictRtt(node.router, req.client, o);
    const maxRtt = req.requirements?.maxRttMs;
    if (maxRtt !== undefined && (rtt.source === 'unknown' || rtt.rttMs > maxRtt)) {
      tooFar++;
      continue;
    }
    const cached = req.cachedOn.has(node.record.nodeId);
    // The session renders in a Chromium of its own when the scene needs WebGL 2 or Chromium is the node's default
    // backend (`--backend chromium`; such a node lists the webgl2 session feature): that start comes first.
    const chromium = !!card.sessionFeatures?.includes('webgl2') && (!!req.requirements?.webgl2 || card.backends?.[0]?.id === 'chromium');
    const load = (cached ? 0 : options.sceneLoadBaseMs + req.sceneBytes / options.sceneBytesPerMs) + (chromium ? options.chromiumStartMs : 0);
    const renderMs = expectedRenderMs(card, pixels);
    // A session renders in its own process, but shares the machine with the node's running tasks.
    const queueMs = node.load.running >= Math.max(1, node.load.concurrency) ? expectedQueueMs(node.load, renderMs) : 0;
    scored.push({ node, score: rtt.rttMs + load + queueMs + renderMs, rtt, load, renderMs, queueMs, cached, chromium });
  }
  const needs = req.webgl2Extensions?.length ? `the scene uses ${req.webgl2Extensions.join(', ')}` : 'the session requires WebGL 2';
  const skipped = [
    noWebgl2 && `${noWebgl2} without WebGL 2 sessions (${needs}; a node serves them with \`tessera node start --backend chromium\` or \`--backend auto\`)`,
    noSlots && `${noSlots} with no free session slot`, busy && `${busy} busy`, incapable && `${incapable} unable to serve this session`, tooFar && `${tooFar} beyond maxRttMs`, excluded && `${excluded} excluded by the client`].filter(Boolean);
  if (scored.length === 0) {
    return { ok: false, reason: `no node can take the session: ${live.length} healthy${skipped.length ? `, ${skipped.join(', ')}` : ''}` };
  }
  scored.sort((a, b) => a.score - b.score);
  const ties = scored.filter((s) => s.score <= scored[0].score + o.tieMs);
  const best = ties[Math.floor(rng() * ties.length)] ?? scored[0];
  const fallback = scored.find((s) => s !== best) ?? null;
  const f = (x: number) => x.toFixed(1);
  const reason =
    `earliest expected first frame ${f(best.score)} ms = RTT ${f(best.rtt.rttMs)} ms (${best.rtt.source}) + scene load ${f(best.load)} ms` +
    `${best.cached ? ' (cached)' : ''}${best.chromium ? ` (with Chromium's start, ${f(options.chromiumStartMs)} ms)` : ''} + queue ${f(best.queueMs)} ms + render ${f(best.renderMs)} ms, best of ${scored.length} capable node${scored.length === 1 ? '' : 's'}` +
    (ties.length > 1 ? ` (tie among ${ties.length}, broken at random)` : '') +
    (fallback ? `; fallback ${fallback.node.record.nodeId} at ${f(fallback.score)} ms` : '; no fallback') +
    (skipped.length ? `; passed over ${skipped.join(', ')}` : '');
  return {
    ok: true,
    route: {
      nodeId: best.node.record.nodeId,
      fallbackId: fallback?.node.record.nodeId ?? null,
      predictedRttMs: best.rtt.rttMs,
      rttSource: best.rtt.source,
      sceneLoadMs: best.load,
      sceneCached: best.cached,
      renderMs: best.renderMs,
      queueMs: best.queueMs,
      firstFrameMs: best.score,
      reason,
    },
  };
}
