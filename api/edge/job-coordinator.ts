/**
 * The farm's coordinator: a Durable Object with SQLite storage that hosts the shared SqlJobStore (same
 * schema and SQL as the Node store). Workers in every location run the API and reach the store through
 * `call` (one RPC per JobStore operation, the composite node calls included: see durable-job-store.ts). One
 * object holds a farm's whole queue because leasing picks across jobs; docs/workers-edge.md ("One coordinator Durable Object
 * per farm") gives its measured limits and the plan for sharding past them. What it does per call (wake-ups for the changes
 * made, idle long-polls held here) is in coordinator-core.ts; this is the runtime adapter.
 *
 * Each JobStore operation is synchronous SQL inside `transactionSync`, so calls never interleave inside
 * one: the object's input gate already serializes them, the transaction makes each all-or-nothing.
 * Errors cross the RPC boundary as `{code, message}` and become TesseraErrors again on the caller's side.
 */
import { DurableObject } from 'cloudflare:workers';
import { SqlJobStore } from '../core/sql-job-store.ts';
import { SqlSessionStore } from '../core/sql-session-store.ts';
import { CoordinatorCore } from './coordinator-core.ts';
import { createDurableObjectSqlDriver } from './durable-object-sql-driver.ts';
import type { CallResult, CoordinatorMethod } from './job-store-methods.ts';
import { createConsoleLogger } from './console-logger.ts';
import { createEdgeBlobStore } from './edge-blob-store.ts';
import type { FetchS3BlobStore } from './fetch-s3-blob-store.ts';

export class JobCoordinator extends DurableObject<Env> {
  readonly #core: CoordinatorCore;
  /** Store calls served since the object started (GET /v1/admin/coordinator-requests reads it: load tests). */
  #calls = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    let blobs: FetchS3BlobStore | undefined;
    this.#core = new CoordinatorCore(
      () => ({
        // The Workers API presigns node URLs for API_DEFAULTS.nodeUrlSeconds: the store's default clean-up delay.
        jobs: new SqlJobStore(createDurableObjectSqlDriver(this.ctx.storage)),
        sessions: new SqlSessionStore(createDurableObjectSqlDriver(this.ctx.storage)),
      }),
      {
        // The object's alarm runs the storage clean-up sweep (alarm() below); it survives restarts of the object.
        alarm: { get: () => this.ctx.storage.getAlarm(), set: (at) => this.ctx.storage.setAlarm(at) },
        blobs: () => (blobs ??= createEdgeBlobStore(env)),
        logger: createConsoleLogger(env.LOG_LEVEL, { farm: env.FARM, in: 'coordinator' }),
      },
    );
  }

  /** The alarm: prune the ended jobs whose storage clean-up is due, and set the alarm for the next one. */
  async alarm(): Promise<void> {
    await this.#core.sweepCleanups(Date.now());
  }

  /** Run one JobStore or SessionStore operation. */
  async call(method: CoordinatorMethod, args: unknown[]): Promise<CallResult> {
    this.#calls++;
    return this.#core.call(method, args);
  }

  /** Drop the open store and open it again on the same storage (what a restart of the object does). */
  async reopen(): Promise<void> {
    await this.#core.reopen();
  }

  /** Resolve after `notify(topic)` or `timeoutMs`; true when notified. */
  async wait(topic: string, timeoutMs: number): Promise<boolean> {
    this.#calls++;
    return this.#core.wait(topic, timeoutMs);
  }

  /** Wake every `wait(topic)`. */
  async notify(topics: string[]): Promise<void> {
    this.#calls++;
    this.#core.notify(topics);
  }

  /** Requests (calls, waits, notifies) this object served since it started: what a load test counts. */
  async requestCount(): Promise<number> {
    return this.#calls;
  }
}
