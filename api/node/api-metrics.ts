/**
 * The Node API's Prometheus metrics (prom-client), served on their own listener (see serveMetrics). Counts
 * by state are read from the SQLite database at scrape time through a second, read-only connection (WAL lets
 * it read while the API writes), so the core needs no hooks: what is in the database is what is reported.
 * Request latencies and storage errors are counted where the adapter already sees them (the fetch handler and
 * the BlobStore).
 */
import Database from 'better-sqlite3';
import client from 'prom-client';
import type { BlobStore } from '../core/blob-store.ts';

export interface ApiMetrics {
  readonly registry: client.Registry;
  /** Wrap the API's fetch handler: request counts by status, lease latency by result. */
  instrumentFetch<F extends (req: Request, ...rest: never[]) => Response | Promise<Response>>(fetch: F): F;
  /** The same store, counting its failures by operation. */
  instrumentBlobs(blobs: BlobStore): BlobStore;
  /** Read job, task, node and verification counts from this database file at each scrape. */
  watchDatabase(file: string): void;
  close(): void;
}

const LEASE_PATH = /^\/v1\/nodes\/[^/]+\/lease$/;

/** Metrics for one API process. */
export function createApiMetrics(): ApiMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'tessera_api_' });
  let db: Database.Database | undefined;

  const requests = new client.Counter({ name: 'tessera_api_http_requests_total', help: 'HTTP requests answered, by method and status code.', labelNames: ['method', 'status'], registers: [registry] });
  const lease = new client.Histogram({
    name: 'tessera_api_lease_seconds',
    help: 'How long node lease calls (long-polls) took to answer: result "task" (a task was leased), "empty" (none came within the wait) or "error".',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30],
    registers: [registry],
  });
  const storageErrors = new client.Counter({ name: 'tessera_api_storage_errors_total', help: 'Object storage calls of the API that failed, by operation.', labelNames: ['op'], registers: [registry] });
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: client.Gauge) => void) =>
    new client.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        if (db) collect(this);
      },
    });
  gauge('tessera_api_jobs', 'Jobs in the database, by state.', ['state'], (g) => {
    for (const r of db!.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as { state: string; n: number }[]) g.set({ state: r.state }, r.n);
  });
  gauge('tessera_api_tasks', 'Tasks in the database, by kind (render, stitch, verify) and state.', ['kind', 'state'], (g) => {
    for (const r of db!.prepare('SELECT kind, state, COUNT(*) AS n FROM tasks GROUP BY kind, state').all() as { kind: string; state: string; n: number }[]) g.set({ kind: r.kind, state: r.state }, r.n);
  });
  gauge('tessera_api_verifications', 'Render tasks sampled for verification, by verification state (pending, verified, skipped, …).', ['state'], (g) => {
    for (const r of db!.prepare('SELECT verify_state AS state, COUNT(*) AS n FROM tasks WHERE verify_state IS NOT NULL GROUP BY verify_state').all() as { state: string; n: number }[]) g.set({ state: r.state }, r.n);
  });
  gauge('tessera_api_node_results', 'Results of all nodes that verification agreed with ("verified") or outvoted ("outvoted").', ['verdict'], (g) => {
    const r = db!.prepare('SELECT COALESCE(SUM(verified_count), 0) AS verified, COALESCE(SUM(disproven_count), 0) AS outvoted FROM nodes').get() as { verified: number; outvoted: number };
    g.set({ verdict: 'verified' }, r.verified);
    g.set({ verdict: 'outvoted' }, r.outvoted);
  });
  gauge('tessera_api_nodes', 'Registered nodes: all, seen in the last minute ("recent"), blocklisted.', ['set'], (g) => {
    const r = db!.prepare('SELECT COUNT(*) AS total, SUM(last_seen_at >= ?) AS recent, SUM(blocklisted_at IS NOT NULL) AS blocked FROM nodes').get(Date.now() - 60_000) as { total: number; recent: number | null; blocked: number | null };
    g.set({ set: 'all' }, r.total);
    g.set({ set: 'recent' }, r.recent ?? 0);
    g.set({ set: 'blocklisted' }, r.blocked ?? 0);
  });

  return {
    registry,
    instrumentFetch(fetch) {
      return (async (req: Request, ...rest: never[]) => {
        const started = performance.now();
        const isLease = req.method === 'POST' && LEASE_PATH.test(new URL(req.url).pathname);
        try {
          const res = await fetch(req, ...rest);
          requests.inc({ method: req.method, status: String(res.status) });
          if (isLease) lease.observe({ result: res.status === 200 ? 'task' : res.status === 204 ? 'empty' : 'error' }, (performance.now() - started) / 1000);
          return res;
        } catch (err) {
          requests.inc({ method: req.method, status: 'error' });
          if (isLease) lease.observe({ result: 'error' }, (performance.now() - started) / 1000);
          throw err;
        }
      }) as typeof fetch;
    },
    instrumentBlobs(blobs) {
      const counted = <A extends unknown[], R>(op: string, fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
        try {
          return await fn(...a);
        } catch (err) {
          storageErrors.inc({ op });
          throw err;
        }
      };
      return {
        put: counted('put', blobs.put.bind(blobs)),
        get: counted('get', blobs.get.bind(blobs)),
        head: counted('head', blobs.head.bind(blobs)),
        copy: counted('copy', blobs.copy.bind(blobs)),
        list: counted('list', blobs.list.bind(blobs)),
        delete: counted('delete', blobs.delete.bind(blobs)),
        presignGet: counted('presign', blobs.presignGet.bind(blobs)),
        presignPut: counted('presign', blobs.presignPut.bind(blobs)),
      };
    },
    watchDatabase(file) {
      db?.close();
      db = new Database(file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 2000');
    },
    close() {
      db?.close();
      db = undefined;
    },
  };
}
