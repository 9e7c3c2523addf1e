/**
 * Open long-polls per node: a node may hold as many lease long-polls as it has slots. One more displaces the
 * oldest (woken, it answers 204 at once), so a node that floods the API with long-polls pins no more connections
 * than its slots, and a node whose connection died unnoticed is not locked out by its own ghost. In memory,
 * per API process (per Workers isolate).
 */

export interface OpenPoll {
  /**
   * True once a newer poll of the same node displaced this one: the poll should answer 204 at its next check.
   * A flag, not an AbortSignal: on Workers, aborting from the displacing request would touch the displaced
   * request's I/O objects, which workerd refuses ("Cannot perform I/O on behalf of a different request").
   */
  readonly displaced: boolean;
  /** Whether opening this poll displaced older ones (wake the waiters, so they see their flag at once). */
  readonly displacedOthers: boolean;
  /** Call when the poll answers, however it ends. */
  close(): void;
}

/** Nodes tracked at most; beyond it the longest-idle node's polls are forgotten (they end by their own timeout). */
const MAX_NODES = 10_000;

interface PollEntry {
  displaced: boolean;
}

export class NodePolls {
  readonly #open = new Map<string, PollEntry[]>();

  /** Open a long-poll for `nodeId`, which may hold `slots` at once; the oldest beyond that is displaced. */
  open(nodeId: string, slots: number): OpenPoll {
    let list = this.#open.get(nodeId);
    if (!list) {
      if (this.#open.size >= MAX_NODES) this.#open.delete(this.#open.keys().next().value!);
      this.#open.set(nodeId, (list = []));
    }
    const entry: PollEntry = { displaced: false };
    list.push(entry);
    let displacedOthers = false;
    while (list.length > Math.max(1, slots)) {
      list.shift()!.displaced = true;
      displacedOthers = true;
    }
    return {
      get displaced() {
        return entry.displaced;
      },
      displacedOthers,
      close: () => {
        const current = this.#open.get(nodeId);
        if (!current) return;
        const i = current.indexOf(entry);
        if (i >= 0) current.splice(i, 1);
        if (current.length === 0) this.#open.delete(nodeId);
      },
    };
  }

  /** How many long-polls `nodeId` holds open now. */
  count(nodeId: string): number {
    return this.#open.get(nodeId)?.length ?? 0;
  }
}
