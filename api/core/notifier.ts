/**
 * A small in-memory wake-up signal: long-polls and event streams wait on a topic until something happens
 * or a timeout passes, instead of polling the store in a tight loop. Runtime-free (timers only). It only
 * wakes waiters in this process, which is why waiters also re-check on a timer.
 */
export interface Notifier {
  /** Resolve on the next `notify(topic)`, after `timeoutMs`, or when `signal` aborts; true if notified. */
  wait(topic: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Wake everyone waiting on `topic`. */
  notify(topic: string): void;
  /**
   * Wake only this process's waiters on `topic`: the topic was already announced where every process hears it
   * (a store that announces its changes). Absent: `notify` is already local.
   */
  notifyLocal?(topic: string): void;
  /**
   * Call `listener` on every wake-up of `topic` in this process (notify, notifyLocal) until the returned function is
   * called: a waiter that reads between its waits learns of what it would otherwise miss while it was not waiting.
   */
  listen?(topic: string, listener: () => void): () => void;
}

/** A Notifier for one process. */
export function createNotifier(): Notifier {
  const waiters = new Map<string, Set<(notified: boolean) => void>>();
  const listeners = new Map<string, Set<() => void>>();
  return {
    wait(topic, timeoutMs, signal) {
      return new Promise<boolean>((resolve) => {
        if (signal?.aborted) return resolve(false);
        let set = waiters.get(topic);
        if (!set) waiters.set(topic, (set = new Set()));
        const done = (notified: boolean): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          set!.delete(done);
          if (set!.size === 0 && waiters.get(topic) === set) waiters.delete(topic);
          resolve(notified);
        };
        const onAbort = (): void => done(false);
        const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
        signal?.addEventListener('abort', onAbort, { once: true });
        set.add(done);
      });
    },
    notify(topic) {
      for (const listener of [...(listeners.get(topic) ?? [])]) listener();
      const set = waiters.get(topic);
      if (!set) return;
      for (const done of [...set]) done(true);
    },
    listen(topic, listener) {
      let set = listeners.get(topic);
      if (!set) listeners.set(topic, (set = new Set()));
      const own = (): void => listener();
      set.add(own);
      return () => {
        set!.delete(own);
        if (set!.size === 0 && listeners.get(topic) === set) listeners.delete(topic);
      };
    },
  };
}

/** Topic that wakes nodes waiting for a task. */
export const TASKS_TOPIC = 'tasks';

/** Topic that wakes event streams following a job. */
export function jobTopic(jobId: string): string {
  return `job:${jobId}`;
}
