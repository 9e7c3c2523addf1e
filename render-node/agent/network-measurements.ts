import { pingProven } from '../../api/protocol/ping-url.ts';
import { timeEdgePing } from '../../api/protocol/time-edge-ping.ts';
import type { EdgeSighting } from '../../api/protocol/edge.ts';
import { RttFilter, nodeSideRttMs } from '../../api/protocol/rtt-filter.ts';
import type { Coordinate, ProbeCandidate, RttMeasurement } from '../../api/protocol/latency.ts';
import type { Heartbeat, HeartbeatAck } from '../../api/protocol/node-messages.ts';

export interface NetworkMeasurementOptions {
  /** Probe the peers offered in the ack on every n-th heartbeat (the first included). */
  peerProbeEvery?: number;
  /** Pings per peer per round; the minimum is kept. */
  pingSamples?: number;
  pingTimeoutMs?: number;
  /** Called when a peer round fails for a peer (for the log). */
  onPeerError?(peer: ProbeCandidate, err: unknown): void;
  /** The API's base URL: each peer round also times its `GET /v1/edge/ping` (the node's PoP and RTT to it). */
  apiBaseUrl?: string;
}

export const NETWORK_MEASUREMENT_DEFAULTS = { peerProbeEvery: 3, pingSamples: 3, pingTimeoutMs: 2000 };

/**
 * What a node measures about the network and reports in its heartbeats: its RTT to the API (each
 * heartbeat's request → response on its own clock, filtered), the echo the API needs to time the same path
 * from its side, and RTTs to a few peers (their GET /ping) pinged now and then.
 */
export class NetworkMeasurements {
  readonly #opts: Required<Omit<NetworkMeasurementOptions, 'onPeerError' | 'apiBaseUrl'>> & Pick<NetworkMeasurementOptions, 'onPeerError' | 'apiBaseUrl'>;
  /** The node's PoP and its RTT to it, from the latest edge pings. */
  edge: EdgeSighting | undefined;
  readonly #api = new RttFilter();
  readonly #peers = new Map<string, RttFilter>();
  /** Peer RTTs measured since the last heartbeat that carried them, with the challenge the peer answered. */
  #unsent = new Map<string, RttMeasurement>();
  #lastAck: { serverTime: number; at: number } | undefined;
  #beats = 0;
  #probing: Promise<void> | undefined;
  /** The node's coordinate as the API last reported it. */
  coordinate: Coordinate | undefined;
  /** The node ↔ API RTT as the API last reported it. */
  apiRttMs: number | undefined;

  constructor(options: NetworkMeasurementOptions = {}) {
    this.#opts = { ...NETWORK_MEASUREMENT_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  }

  /** The measurement fields of the next heartbeat; `now` is performance.now(). */
  heartbeatFields(now = performance.now()): Pick<Heartbeat, 'rttToApiMs' | 'echo' | 'peers' | 'edge'> {
    const peers: RttMeasurement[] = [...this.#unsent.values()].slice(0, 16);
    return {
      rttToApiMs: this.#api.value,
      echo: this.#lastAck ? { serverTime: this.#lastAck.serverTime, heldMs: Math.max(0, now - this.#lastAck.at) } : undefined,
      peers,
      ...(this.edge ? { edge: this.edge } : {}),
    };
  }

  /**
   * Record a heartbeat's answer: `sentAt` and `receivedAt` are performance.now() when the heartbeat left
   * and its ack arrived; `sentPeers` are the peer RTTs it carried (now delivered). Starts a peer round
   * when one is due.
   */
  onAck(ack: HeartbeatAck, sentAt: number, receivedAt: number, sentPeers: RttMeasurement[]): void {
    const rtt = nodeSideRttMs(sentAt, receivedAt);
    if (rtt !== undefined) this.#api.add(rtt);
    this.#lastAck = { serverTime: ack.serverTime, at: receivedAt };
    for (const p of sentPeers) if (this.#unsent.get(p.nodeId) === p) this.#unsent.delete(p.nodeId);
    if (ack.coordinate) this.coordinate = ack.coordinate;
    if (ack.rttToApiMs !== undefined) this.apiRttMs = ack.rttToApiMs;
    if (this.#beats++ % this.#opts.peerProbeEvery === 0 && (ack.probePeers.length || this.#opts.apiBaseUrl) && !this.#probing) {
      this.#probing = Promise.all([this.#probePeers(ack.probePeers), this.#timeEdge()]).then(() => undefined).finally(() => (this.#probing = undefined));
    }
  }

  /** Peer RTTs measured and not yet sent. */
  get unsent(): number {
    return this.#unsent.size;
  }

  /** Settles when no peer round is running. */
  async idle(): Promise<void> {
    await this.#probing;
  }

  async #timeEdge(): Promise<void> {
    if (!this.#opts.apiBaseUrl) return;
    const seen = await timeEdgePing(this.#opts.apiBaseUrl, { samples: this.#opts.pingSamples, timeoutMs: this.#opts.pingTimeoutMs });
    if (seen) this.edge = seen;
  }

  async #probePeers(peers: ProbeCandidate[]): Promise<void> {
    await Promise.all(
      peers.map(async (peer) => {
        try {
          const ping = await pingProven(peer.probeUrl, { samples: this.#opts.pingSamples, timeoutMs: this.#opts.pingTimeoutMs, expectNodeId: peer.nodeId });
          let filter = this.#peers.get(peer.nodeId);
          if (!filter) this.#peers.set(peer.nodeId, (filter = new RttFilter()));
          const filtered = filter.add(ping.rttMs);
          // The peer's answer to this round's challenge goes with the filtered RTT: the API credits it only then.
          if (filtered !== undefined) this.#unsent.set(peer.nodeId, { nodeId: peer.nodeId, rttMs: Math.round(filtered * 100) / 100, nonce: ping.nonce, ...(ping.proof ? { proof: ping.proof } : {}) });
        } catch (err) {
          this.#opts.onPeerError?.(peer, err);
        }
      }),
    );
  }
}
