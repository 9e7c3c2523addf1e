/** Hosts and true RTTs, as the simulator sees them: from CSV files or from the synthetic generator. */

/** One host; `lat`/`lon` are absent when unknown. */
export interface Host {
  readonly id: string;
  readonly name: string;
  readonly lat?: number;
  readonly lon?: number;
}

/** Directed RTTs (ms) between hosts by index; NaN where the pair was not measured. */
export interface RttSource {
  readonly size: number;
  rtt(src: number, dst: number): number;
  /**
   * Optional: a cheap number ≤ rtt(src, dst) and ≤ rtt(dst, src) (for pairs that have an RTT), so the
   * simulator can find each client's truly nearest node among 10,000 without computing every RTT.
   */
  lowerBound?(src: number, dst: number): number;
  /**
   * Optional: the host among `dsts` with the smallest pairRtt from `src`, as its position in `dsts`
   * (-1 when none has an RTT), found faster than by trying them all. Must agree with pairRtt.
   */
  nearestAmong?(src: number, dsts: readonly number[]): { index: number; rttMs: number };
}

/** The RTT between two hosts: the directed value, else the reverse direction, else NaN. */
export function pairRtt(source: RttSource, a: number, b: number): number {
  const x = source.rtt(a, b);
  return Number.isNaN(x) ? source.rtt(b, a) : x;
}
