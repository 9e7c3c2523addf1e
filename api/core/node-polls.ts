/**
 * Open long-polls per node: a node may hold as many lease long-polls as it has slots. One more ends the
 * oldest (it answers 204 at once), so a node that floods the API with long-polls pins no more connections
 * than its slots, and a node whose connection died unnoticed is not locked out by its own ghost. In memory,
 * per API process (per Workers isolate).
 */

export interface OpenPoll {
  /** Aborts when a newer poll of the same node displaces this one. */
  readonly signal: AbortSignal;
  /** Call when the poll answers, however it ends. */
  close(): void;
}

/** Nodes tracked at most; beyond it the longest-idle node's polls are forgotten (they end by their own timeout). */
const MAX_NODES = 10_000;

export class NodePolls {
  readonly #open = new Map<string, AbortController[]>();

  /** Open a long-poll for `nodeId`, which may hold `slots` at once; the oldest beyond that is ended. */
  open(nodeId: string, slots: number): OpenPoll {
    let list = this.#open.get(nodeId);
    if (!list) {
      if (this.#open.size >= MAX_NODES) this.#open.delete(this.#open.keys().next().value!);
      this.#open.set(nodeId, (list = []));
    }
    const controller = new AbortController();
    list.push(controller);
    while (list.length > Math.max(1, slots)) list.shift()!.abort(new Error(`node ${nodeId} opened more long-polls than its ${slots} slot(s)`));
    return {
      signal: controller.signal,
      close: () => {
        const current = this.#open.get(nodeId);
        if (!current) return;
        const i = current.indexOf(controller);
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
