/**
 * The Notifier across Worker isolates: a long-poll waits in this isolate and, at the same time, in the
 * coordinator Durable Object, so a task queued through any location wakes a node waiting in any other.
 * Notifications are batched per microtask into one `notify` RPC, kept alive past the response through
 * `flush()` (the Worker hands it to `ctx.waitUntil`). Waiting in the object costs one request per wait
 * and no duration of its own (the object is awake for the farm's calls anyway). Changes the coordinator made are
 * announced by the coordinator itself (`notifyLocal` then wakes only this isolate), and an idle lease long-poll
 * waits inside the coordinator's own call (coordinator-core.ts), so neither costs a request here.
 */
import { createNotifier, type Notifier } from '../core/notifier.ts';

export interface NotifyTarget {
  wait(topic: string, timeoutMs: number): Promise<boolean>;
  notify(topics: string[]): Promise<void>;
}

export interface EdgeNotifier extends Notifier {
  /** Settles once the notifications sent so far have reached the coordinator. */
  flush(): Promise<void>;
}

/** A Notifier spanning every isolate that reaches `target` (the coordinator's stub). */
export function createEdgeNotifier(target: () => NotifyTarget): EdgeNotifier {
  const local = createNotifier();
  let batch: Set<string> | undefined;
  const inFlight = new Set<Promise<void>>();
  return {
    async wait(topic, timeoutMs, signal) {
      if (signal?.aborted) return false;
      const stop = new AbortController();
      const both = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
      const remote = target()
        .wait(topic, timeoutMs)
        .catch(() => false);
      // Whichever comes first; a failed remote wait leaves the local one and its timeout.
      const notified = await Promise.race([local.wait(topic, timeoutMs, both), remote.then((r) => (r ? true : new Promise<boolean>(() => {})))]);
      stop.abort();
      return notified;
    },
    notify(topic) {
      local.notify(topic);
      if (batch) {
        batch.add(topic);
        return;
      }
      batch = new Set([topic]);
      const sent: Promise<void> = Promise.resolve()
        .then(() => {
          const topics = [...batch!];
          batch = undefined;
          return target().notify(topics);
        })
        .catch(() => {})
        .finally(() => inFlight.delete(sent));
      inFlight.add(sent);
    },
    notifyLocal(topic) {
      local.notify(topic);
    },
    listen(topic, listener) {
      return local.listen!(topic, listener);
    },
    async flush() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
