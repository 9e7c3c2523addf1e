/**
 * The farm's coordinator: a Durable Object with SQLite storage that hosts the shared SqlJobStore (same
 * schema and SQL as the Node store). Workers in every location run the API and reach the store through
 * `call` (one RPC per JobStore operation, see durable-job-store.ts). One object holds a farm's whole
 * queue because leasing picks across jobs; the README's "Durable Objects" section gives its measured
 * limits and the plan for sharding past them.
 *
 * Each JobStore operation is synchronous SQL inside `transactionSync`, so calls never interleave inside
 * one: the object's input gate already serializes them, the transaction makes each all-or-nothing.
 * Errors cross the RPC boundary as `{code, message}` and become TesseraErrors again on the caller's side.
 */
import { DurableObject } from 'cloudflare:workers';
import type { JobStore } from '../core/job-store.ts';
import { SqlJobStore } from '../core/sql-job-store.ts';
import { isTesseraError } from '../protocol/errors.ts';
import { createDurableObjectSqlDriver } from './durable-object-sql-driver.ts';
import { JOB_STORE_METHODS, SESSION_STORE_METHODS, type CallResult, type CoordinatorMethod, type JobStoreMethod } from './job-store-methods.ts';
import { SqlSessionStore } from '../core/sql-session-store.ts';
import type { SessionStore } from '../core/session-store.ts';

export class JobCoordinator extends DurableObject<Env> {
  #store: JobStore;
  #sessions: SessionStore;
  /** Wake-ups for long-polls waiting in any Worker: topic → resolvers (see edge-notifier.ts). */
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = this.#open();
    this.#sessions = new SqlSessionStore(createDurableObjectSqlDriver(this.ctx.storage));
  }

  #open(): JobStore {
    return new SqlJobStore(createDurableObjectSqlDriver(this.ctx.storage));
  }

  /** Run one JobStore or SessionStore operation. */
  async call(method: CoordinatorMethod, args: unknown[]): Promise<CallResult> {
    const target: object | undefined = JOB_STORE_METHODS.includes(method as JobStoreMethod)
      ? this.#store
      : SESSION_STORE_METHODS.includes(method as keyof SessionStore)
        ? this.#sessions
        : undefined;
    if (!target) return { ok: false, error: { code: 'INTERNAL', message: `No store operation ${String(method)}.` } };
    try {
      const fn = (target as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
      return { ok: true, value: await fn.apply(target, args) };
    } catch (err) {
      if (isTesseraError(err)) return { ok: false, error: { code: err.code, message: err.message, retryAfterSeconds: err.retryAfterSeconds } };
      return { ok: false, error: { code: null, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) } };
    }
  }

  /** Drop the open store and open it again on the same storage (what a restart of the object does). */
  async reopen(): Promise<void> {
    await this.#store.close();
    this.#store = this.#open();
    this.#sessions = new SqlSessionStore(createDurableObjectSqlDriver(this.ctx.storage));
  }

  /** Resolve after `notify(topic)` or `timeoutMs`; true when notified. */
  async wait(topic: string, timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let set = this.#waiters.get(topic);
      if (!set) this.#waiters.set(topic, (set = new Set()));
      const wake = (): void => {
        clearTimeout(timer);
        set!.delete(wake);
        if (set!.size === 0 && this.#waiters.get(topic) === set) this.#waiters.delete(topic);
        resolve(true);
      };
      const timer = setTimeout(() => {
        set!.delete(wake);
        if (set!.size === 0 && this.#waiters.get(topic) === set) this.#waiters.delete(topic);
        resolve(false);
      }, Math.max(0, Math.min(timeoutMs, MAX_WAIT_MS)));
      set.add(wake);
    });
  }

  /** Wake every `wait(topic)`. */
  async notify(topics: string[]): Promise<void> {
    for (const topic of topics) for (const wake of [...(this.#waiters.get(topic) ?? [])]) wake();
  }
}

/** Longest one wait may hold an RPC open. */
const MAX_WAIT_MS = 60_000;
