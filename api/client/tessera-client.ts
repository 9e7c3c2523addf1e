import { SessionCreated, SessionView, type SessionRequestInput } from '../protocol/session.ts';
import { openSession, type InteractiveSession, type OpenSessionOptions } from './interactive-session.ts';
import { ApiKeyCreated, ApiKeyList, ApiKeyView, KeyIdentity, type CreateApiKey } from '../protocol/api-keys.ts';
import { z } from 'zod';
import { TesseraError, isTesseraError } from '../protocol/errors.ts';
import type { JobRequestInput } from '../protocol/job-spec.ts';
import { JobCreated, JobFrames, JobStatus, JobSummary, SceneUploaded, SceneUploadTicket, type JobEvent, type JobState } from '../protocol/job-status.ts';
import { NearbyNodes, NodeList, type GeoPoint, type JobClientInput, type NodeSearch, type ProbeCandidate, type RttMeasurement } from '../protocol/latency.ts';
import { errorFromResponse } from '../protocol/error-from-response.ts';
import { JobLedger, NodeLedger, Quote } from '../protocol/metering.ts';
import { sha256Hex } from '../protocol/sha256-hex.ts';
import { RetriesExhaustedError, sleep, withRetries } from '../protocol/with-retries.ts';
import { pingProven, PING_DEFAULTS } from '../protocol/ping-url.ts';
import { timeEdgePing } from '../protocol/time-edge-ping.ts';
import { bestRemembered, memoryProbeHistory, remember, type ProbeHistoryStore } from './probe-history.ts';
import type { EdgeSighting } from '../protocol/edge.ts';
import { readServerSentEvents } from './read-server-sent-events.ts';

// Runs wherever fetch does (Node 20+, browsers, workers, VR web apps): no node:* imports here.

export interface TesseraClientOptions {
  /** Where the API answers, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /**
   * Sent as `Authorization: Bearer …` to the API (never to presigned storage URLs). Default: the
   * TESSERA_API_KEY environment variable where there is one (Node, Deno, Bun).
   */
  apiKey?: string;
  /** A fetch implementation; default: the global one. */
  fetch?: typeof fetch;
  /** Scenes up to this size go in one `POST /v1/scenes`; larger ones straight to storage via a presigned URL. */
  directUploadMaxBytes?: number;
  /** How many times an idempotent request is retried after a network failure or a 429/502/503/504. */
  retries?: number;
  /** First retry delay; doubles each time (a Retry-After header wins when it is shorter than 30 s). */
  retryDelayMs?: number;
  /** Longest a JSON call may take. Uploads, downloads and event streams are bounded by their signal only. */
  timeoutMs?: number;
  /** How often {@link TesseraClient.waitForJob} polls when the event stream is unavailable. */
  pollIntervalMs?: number;
  /**
   * Where {@link TesseraClient.probe} keeps what it measured, per API, to route from its own history next
   * time: in memory by default; `localStorageProbeHistory()` in browsers, `fileProbeHistory()` (infra/cli)
   * in Node; false: remember nothing.
   */
  probeHistory?: ProbeHistoryStore | false;
}

export const CLIENT_DEFAULTS: Required<Omit<TesseraClientOptions, 'baseUrl' | 'apiKey' | 'fetch' | 'probeHistory'>> = {
  directUploadMaxBytes: 32 * 1024 * 1024,
  retries: 3,
  retryDelayMs: 250,
  timeoutMs: 30_000,
  pollIntervalMs: 1_000,
};

/** A `progress` event of a job (also what polling reports). */
export type JobProgress = Extract<JobEvent, { type: 'progress' }>;

/** `submitJob`'s answer: the protocol's `JobCreated`. */
export type JobSubmitted = JobCreated;

export interface WaitOptions {
  /** Called with every progress report (from events, or from polling when events are unavailable). */
  onProgress?(progress: JobProgress): void;
  /** Called with every event of the stream (progress, frame, end). */
  onEvent?(event: JobEvent): void;
  signal?: AbortSignal;
}

export interface ProbeOptions {
  /** How many nodes to ping (the API's nearest candidates). */
  count?: number;
  /** Pings per node; the minimum is kept. */
  samples?: number;
  /** Longest one ping may take. */
  timeoutMs?: number;
  /** Where this client is, if it knows (helps the API choose candidates; Cloudflare's edge knows without it). */
  location?: GeoPoint;
  /** Of `count` pings, how many go to the fastest nodes this client remembers (the rest explore new ones). */
  reprobe?: number;
  signal?: AbortSignal;
}

/** What {@link TesseraClient.probe} measured: pass it as the job's `client` (or its `rtts`). */
export interface ProbeResult {
  /** RTTs (ms) to the nodes that answered, nearest first. */
  rtts: RttMeasurement[];
  /** The client's location, when the API (or the caller) knew it. */
  location?: GeoPoint;
  /** The nodes the API suggested. */
  candidates: ProbeCandidate[];
  /** Candidates that did not answer, and why. */
  failed: { nodeId: string; error: string }[];
  /** The API's edge location (PoP) this client reaches and its RTT to it, when the API knows its PoP. */
  edge?: EdgeSighting;
}

export interface TesseraClient {
  readonly baseUrl: string;
  /** `GET /v1/health`. */
  health(opts?: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
  /** Upload a GLB, a .gltf (JSON, resources embedded) or a zip of a .gltf with its files; same bytes, same scene id. */
  uploadScene(bytes: Uint8Array | Blob, opts?: { contentType?: string; signal?: AbortSignal }): Promise<SceneUploaded>;
  /**
   * `POST /v1/jobs`. With `client.rtts` (from {@link TesseraClient.probe}), each task goes to the node with
   * the earliest expected finish for this client; a probe result may be passed as `client` as it is.
   */
  submitJob(request: JobRequestInput, opts?: { signal?: AbortSignal }): Promise<JobSubmitted>;
  /**
   * Measure this client's RTTs to the farm: ask `GET /v1/nodes/nearby` which nodes to ping, ping each
   * candidate's GET /ping a few times (all candidates at once) and keep each minimum. Never throws for a
   * node that does not answer (it is listed in `failed`); throws when the API cannot be asked.
   */
  probe(opts?: ProbeOptions): Promise<ProbeResult>;
  /** `GET /v1/nodes`: nodes matching a search, with load, RTT to the API and coordinate. */
  nodes(search?: Partial<Record<keyof NodeSearch, string | number | boolean>>, opts?: { signal?: AbortSignal }): Promise<NodeList>;
  /**
   * `POST /v1/quote`: what the job would cost (tiles, megapixels, render-seconds, wall time, price), from the
   * same request {@link TesseraClient.submitJob} takes, before submitting it.
   */
  quote(request: JobRequestInput, opts?: { signal?: AbortSignal }): Promise<Quote>;
  /** `GET /v1/jobs/:id/ledger`: the job's accepted work per node. */
  jobLedger(jobId: string, opts?: { signal?: AbortSignal }): Promise<JobLedger>;
  /** `GET /v1/ledger`: accepted work per node (one node with `node`). */
  ledger(filter?: { node?: string }, opts?: { signal?: AbortSignal }): Promise<NodeLedger>;
  /** `GET /v1/jobs/:id`. */
  getJob(jobId: string, opts?: { signal?: AbortSignal }): Promise<JobStatus>;
  /** `GET /v1/jobs/:id/summary`: state, progress and ETA without the task list (fast for a job of any size). */
  jobSummary(jobId: string, opts?: { signal?: AbortSignal }): Promise<JobSummary>;
  /** The job's server-sent events, parsed, until the server closes the stream (after `end`) or `signal` aborts. */
  events(jobId: string, opts?: { signal?: AbortSignal }): AsyncGenerator<JobEvent>;
  /** `GET /v1/jobs/:id/frames`: finished frames with presigned download URLs. */
  frames(jobId: string, opts?: { signal?: AbortSignal }): Promise<JobFrames>;
  /** `DELETE /v1/jobs/:id`. */
  cancel(jobId: string, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Follow a job to its end (events, falling back to polling) and return its final status. */
  waitForJob(jobId: string, opts?: WaitOptions): Promise<JobStatus>;
  /** Download a finished frame from its presigned URL; with `sha256`, the bytes are checked against it. */
  downloadFrame(url: string, opts?: { sha256?: string; signal?: AbortSignal }): Promise<Uint8Array>;
  /** `GET /v1/keys/me`: the key this client sends (id, name, role, limits); `UNAUTHORIZED` for a wrong key. */
  whoAmI(opts?: { signal?: AbortSignal }): Promise<KeyIdentity>;
  /** `POST /v1/keys` (admin key): a new API key, shown only in this answer. */
  createKey(input: CreateApiKey, opts?: { signal?: AbortSignal }): Promise<ApiKeyCreated>;
  /** `GET /v1/keys` (admin key): the stored keys, without the keys themselves. */
  listKeys(opts?: { signal?: AbortSignal }): Promise<ApiKeyView[]>;
  /** `DELETE /v1/keys/:id` (admin key). */
  revokeKey(keyId: string, opts?: { signal?: AbortSignal }): Promise<ApiKeyView>;
  /** `POST /v1/sessions`: place an interactive session; use {@link TesseraClient.openSession} to stream it. */
  createSession(request: SessionRequestInput, opts?: { signal?: AbortSignal }): Promise<SessionCreated>;
  /** `GET /v1/sessions/:id`. */
  getSession(sessionId: string, opts?: { signal?: AbortSignal }): Promise<SessionView>;
  /** `DELETE /v1/sessions/:id`. */
  deleteSession(sessionId: string, opts?: { signal?: AbortSignal }): Promise<SessionView>;
  /**
   * Open an interactive (VR) session: probe, place it on the nearest capable node, connect to that node's
   * WebSocket and stream poses → frames; re-opens on another node when its node dies.
   */
  openSession(options: OpenSessionOptions): Promise<InteractiveSession>;
}

const FINISHED: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);
/** Statuses worth another try of an idempotent request. */
const RETRY_STATUSES = new Set([408, 429, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 30_000;
/** After this many broken event streams in a row, waitForJob only polls. */
const MAX_STREAM_FAILURES = 3;

interface SendOptions {
  body?: BodyInit;
  contentType?: string;
  /** Safe to send again (GET, DELETE, content-addressed uploads). */
  idempotent?: boolean;
  signal?: AbortSignal;
  /** Apply the JSON-call timeout (not for uploads, downloads and streams). */
  timeout?: boolean;
  /** An absolute URL outside the API (presigned storage URL): no Authorization header. */
  external?: boolean;
  accept?: string;
  /** More headers (e.g. the signed checksum of a presigned PUT). */
  headers?: Record<string, string>;
}

/** A failed try of an idempotent request that is worth another (after the server's Retry-After, if any). */
class TryAgain extends Error {
  constructor(
    readonly attempt: number,
    readonly delayMs?: number,
  ) {
    super('try again');
  }
}

/** Create a client for a Tessera API. */
export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  // Options left undefined keep their defaults.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TesseraClientOptions;
  const opts = { ...CLIENT_DEFAULTS, apiKey: environmentApiKey(), ...given };
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const history = opts.probeHistory === false ? undefined : (opts.probeHistory ?? memoryProbeHistory());

  /** One request with retries for idempotent ones; resolves only with a 2xx response. */
  async function send(method: string, target: string, so: SendOptions = {}): Promise<Response> {
    const url = so.external ? target : `${baseUrl}${target}`;
    const what = so.external ? `${method} ${stripQuery(target)}` : `${method} ${target}`;
    const headers: Record<string, string> = { accept: so.accept ?? 'application/json', ...so.headers };
    if (so.contentType) headers['content-type'] = so.contentType;
    if (opts.apiKey && !so.external) headers.authorization = `Bearer ${opts.apiKey}`;
    const attempts = so.idempotent ? opts.retries + 1 : 1;
    // Each try either answers, throws TryAgain (not on the last try), or throws the error the caller gets.
    return withRetries(
      what,
      async (attempt) => {
        const signals = so.signal ? [so.signal] : [];
        if (so.timeout) signals.push(AbortSignal.timeout(opts.timeoutMs));
        let res: Response;
        try {
          res = await doFetch(url, { method, headers, body: so.body, signal: signals.length ? AbortSignal.any(signals) : undefined });
        } catch (cause) {
          if (so.signal?.aborted) throw so.signal.reason ?? cause;
          if (attempt < attempts) throw new TryAgain(attempt);
          const where = so.external ? `storage at ${originOf(target)}` : `the API at ${baseUrl}`;
          throw new TesseraError('UNAVAILABLE', `cannot reach ${where} (${what}): ${describeNetworkError(cause)}`, { cause });
        }
        if (res.ok) return res;
        // Storage's 500 (S3 InternalError) is a hiccup worth another try; the API's is a bug.
        if (attempt < attempts && (RETRY_STATUSES.has(res.status) || (so.external && res.status === 500))) {
          await res.body?.cancel().catch(() => {});
          throw new TryAgain(attempt, retryAfterMs(res));
        }
        throw await errorFromResponse(res, what);
      },
      {
        attempts,
        signal: so.signal,
        retryable: (err) => err instanceof TryAgain,
        delayFor: (err) => (err as TryAgain).delayMs ?? backoff((err as TryAgain).attempt),
      },
    );
  }

  const backoff = (attempt: number) => opts.retryDelayMs * 2 ** (attempt - 1) * (0.75 + Math.random() * 0.5);

  /** Send, then parse the JSON answer with the protocol's schema. */
  async function json<S extends z.ZodType>(schema: S, method: string, path: string, so: SendOptions = {}): Promise<z.infer<S>> {
    const res = await send(method, path, { timeout: true, ...so });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      throw new TesseraError('INTERNAL', `${method} ${path} answered with a body that is not JSON: ${text.slice(0, 200)}`, { cause });
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TesseraError('INTERNAL', `${method} ${path} answered with an unexpected body (${issue.path.join('.') || 'body'}: ${issue.message}); is the API a different version?`);
    }
    return parsed.data;
  }

  const jobPath = (jobId: string, rest = '') => `/v1/jobs/${encodeURIComponent(jobId)}${rest}`;

  const client: TesseraClient = {
    baseUrl,

    health: ({ signal } = {}) => json(HealthBody, 'GET', '/v1/health', { idempotent: true, signal }),

    async uploadScene(bytes, { contentType, signal } = {}) {
      const size = bytes instanceof Uint8Array ? bytes.byteLength : bytes.size;
      const type = contentType ?? (await sniffContentType(bytes));
      const body = bytes as BodyInit;
      // Content-addressed: sending the same bytes twice stores one scene, so uploads may be retried.
      if (size <= opts.directUploadMaxBytes) {
        return json(SceneUploaded, 'POST', '/v1/scenes', { body, contentType: type, idempotent: true, signal, timeout: false });
      }
      // Announcing the size and SHA-256 gets a URL storage accepts only these bytes through.
      const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(await bytes.arrayBuffer());
      const sha256 = await sha256Hex(data);
      const upload = await json(SceneUploadTicket, 'POST', '/v1/scenes/uploads', { body: JSON.stringify({ bytes: size, sha256, contentType: type }), contentType: 'application/json', signal });
      await send('PUT', upload.url, { body: data as BodyInit, contentType: type, headers: upload.headers, external: true, idempotent: true, signal });
      return json(SceneUploaded, 'POST', `/v1/scenes/uploads/${encodeURIComponent(upload.uploadId)}/complete`, { signal, timeout: false });
    },

    submitJob: (request, { signal } = {}) =>
      json(JobCreated, 'POST', '/v1/jobs', { body: JSON.stringify({ ...request, client: clientPart(request.client) }), contentType: 'application/json', signal }),

    async probe({ count = 3, samples = PING_DEFAULTS.samples, timeoutMs = PING_DEFAULTS.timeoutMs, location, reprobe, signal } = {}) {
      // The edge first: its PoP and RTT are free landmarks that help the API choose whom to ping.
      const edge = await timeEdgePing(baseUrl, { samples, timeoutMs, fetch: doFetch, signal }).catch((err) => {
        if (signal?.aborted) throw err;
        return undefined;
      });
      const memory = history ? await history.load(baseUrl).catch(() => undefined) : undefined;
      // A client that comes back re-probes its best known nodes and explores a few new ones.
      const known = bestRemembered(memory, Math.min(count, reprobe ?? Math.max(1, Math.floor(count / 3))));
      const remembered = new Set(Object.keys(memory?.nodes ?? {}));
      // Enough candidates that some are new to this client (the API does not know what it remembers).
      const query = new URLSearchParams({ count: String(Math.min(16, count + remembered.size)) });
      if (location) {
        query.set('lat', String(location.lat));
        query.set('lon', String(location.lon));
      }
      if (edge) {
        query.set('pop', edge.pop);
        query.set('popRttMs', String(edge.rttMs));
      }
      const nearby = await json(NearbyNodes, 'GET', `/v1/nodes/nearby?${query}`, { idempotent: true, signal });
      // Explore nodes it never measured first, then re-measure remembered ones (a stale RTT must not stick).
      const knownIds = new Set(known.map((k) => k.nodeId));
      const others = nearby.candidates.filter((c) => !knownIds.has(c.nodeId));
      const explore = [...others.filter((c) => !remembered.has(c.nodeId)), ...others.filter((c) => remembered.has(c.nodeId))].slice(0, Math.max(0, count - known.length));
      const targets = [...known.map((k) => ({ nodeId: k.nodeId, probeUrl: k.probeUrl })), ...explore];
      const failed: ProbeResult['failed'] = [];
      const measured = await Promise.all(
        targets.map(async (c): Promise<(RttMeasurement & { probeUrl: string }) | undefined> => {
          try {
            // The nonce and the node's answer travel with the RTT: the API credits it only when the answer checks out.
            return { nodeId: c.nodeId, probeUrl: c.probeUrl, ...(await pingProven(c.probeUrl, { samples, timeoutMs, expectNodeId: c.nodeId, fetch: doFetch, signal })) };
          } catch (err) {
            if (signal?.aborted) throw signal.reason ?? err;
            failed.push({ nodeId: c.nodeId, error: (err as Error)?.message ?? String(err) });
            return undefined;
          }
        }),
      );
      const fresh = measured.filter((m): m is RttMeasurement & { probeUrl: string } => m !== undefined);
      // A remembered node that did not answer is forgotten; one that did gets its fresh RTT.
      let kept = memory;
      if (kept) for (const f of failed) if (kept.nodes[f.nodeId]) kept = { ...kept, nodes: Object.fromEntries(Object.entries(kept.nodes).filter(([id]) => id !== f.nodeId)) };
      const next = remember(kept, fresh, edge);
      if (history) await history.save(baseUrl, next).catch(() => undefined);
      // The job carries this session's RTTs and the best of what the client remembers (16 at most).
      const rtts = Object.entries(next.nodes)
        .map(([nodeId, n]) => ({ nodeId, rttMs: n.rttMs, ...(n.nonce ? { nonce: n.nonce } : {}), ...(n.proof ? { proof: n.proof } : {}) }))
        .sort((a, b) => a.rttMs - b.rttMs)
        .slice(0, 16);
      const where = nearby.location ? { lat: nearby.location.lat, lon: nearby.location.lon } : location;
      return { rtts, ...(where ? { location: where } : {}), ...(edge ? { edge } : {}), candidates: targets.map((t) => nearby.candidates.find((c) => c.nodeId === t.nodeId) ?? { nodeId: t.nodeId, probeUrl: t.probeUrl, region: '' }), failed };
    },

    nodes: (search = {}, { signal } = {}) => {
      const query = new URLSearchParams(Object.entries(search).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
      return json(NodeList, 'GET', `/v1/nodes${query.size ? `?${query}` : ''}`, { idempotent: true, signal });
    },

    // The API lists tasks a page at a time; the SDK follows the pages, so callers get every task.
    async getJob(jobId, { signal } = {}) {
      const status = await json(JobStatus, 'GET', jobPath(jobId), { idempotent: true, signal });
      for (let next = status.tasksNext; next !== null && next !== undefined; ) {
        const page = await json(JobStatus, 'GET', `${jobPath(jobId)}?tasksFrom=${next}`, { idempotent: true, signal });
        status.tasks.push(...page.tasks);
        next = page.tasksNext;
      }
      return { ...status, tasksNext: null };
    },
    jobSummary: (jobId, { signal } = {}) => json(JobSummary, 'GET', jobPath(jobId, '/summary'), { idempotent: true, signal }),

    // A quote changes nothing on the server: safe to retry.
    quote: (request, { signal } = {}) =>
      json(Quote, 'POST', '/v1/quote', { body: JSON.stringify({ ...request, client: clientPart(request.client) }), contentType: 'application/json', idempotent: true, signal }),

    jobLedger: (jobId, { signal } = {}) => json(JobLedger, 'GET', jobPath(jobId, '/ledger'), { idempotent: true, signal }),

    ledger: ({ node } = {}, { signal } = {}) =>
      json(NodeLedger, 'GET', `/v1/ledger${node ? `?node=${encodeURIComponent(node)}` : ''}`, { idempotent: true, signal }),

    async *events(jobId, { signal } = {}) {
      const res = await send('GET', jobPath(jobId, '/events'), { idempotent: true, signal, accept: 'text/event-stream' });
      if (!res.body) return;
      for await (const message of readServerSentEvents(res.body)) {
        const event = toJobEvent(message.event, message.data);
        if (event) yield event;
      }
    },

    // Frames come a page at a time, in frame order; the SDK follows the pages.
    async frames(jobId, { signal } = {}) {
      const list = await json(JobFrames, 'GET', jobPath(jobId, '/frames'), { idempotent: true, signal });
      for (let next = list.next; next !== null && next !== undefined; ) {
        const page = await json(JobFrames, 'GET', `${jobPath(jobId, '/frames')}?after=${next}`, { idempotent: true, signal });
        list.frames.push(...page.frames);
        next = page.next;
      }
      return { ...list, next: null };
    },

    createKey: (input, { signal } = {}) =>
      json(ApiKeyCreated, 'POST', '/v1/keys', { body: JSON.stringify(input), contentType: 'application/json', signal }),

    whoAmI: ({ signal } = {}) => json(KeyIdentity, 'GET', '/v1/keys/me', { idempotent: true, signal }),

    listKeys: async ({ signal } = {}) => (await json(ApiKeyList, 'GET', '/v1/keys', { idempotent: true, signal })).keys,

    revokeKey: (keyId, { signal } = {}) => json(ApiKeyView, 'DELETE', `/v1/keys/${encodeURIComponent(keyId)}`, { idempotent: true, signal }),

    createSession: (request, { signal } = {}) =>
      json(SessionCreated, 'POST', '/v1/sessions', { body: JSON.stringify(request), contentType: 'application/json', signal }),
    getSession: (sessionId, { signal } = {}) => json(SessionView, 'GET', `/v1/sessions/${encodeURIComponent(sessionId)}`, { idempotent: true, signal }),
    deleteSession: (sessionId, { signal } = {}) => json(SessionView, 'DELETE', `/v1/sessions/${encodeURIComponent(sessionId)}`, { idempotent: true, signal }),
    openSession: (options) => openSession(client, options),

    async cancel(jobId, { signal } = {}) {
      const res = await send('DELETE', jobPath(jobId), { idempotent: true, signal, timeout: true });
      await res.body?.cancel().catch(() => {});
    },

    async waitForJob(jobId, { onProgress, onEvent, signal } = {}) {
      let streamFailures = 0;
      while (streamFailures < MAX_STREAM_FAILURES) {
        try {
          for await (const event of client.events(jobId, { signal })) {
            streamFailures = 0;
            onEvent?.(event);
            if (event.type === 'progress') onProgress?.(event);
            if (event.type === 'end') return client.getJob(jobId, { signal });
          }
        } catch (err) {
          if (signal?.aborted || !streamProblem(err)) throw err;
        }
        // The stream broke or ended early: the job may have finished meanwhile.
        streamFailures++;
        const status = await client.getJob(jobId, { signal });
        onProgress?.(progressOf(status));
        if (FINISHED.has(status.state)) return status;
        await sleep(backoff(streamFailures), signal);
      }
      for (;;) {
        const status = await client.getJob(jobId, { signal });
        onProgress?.(progressOf(status));
        if (FINISHED.has(status.state)) return status;
        await sleep(opts.pollIntervalMs, signal);
      }
    },

    async downloadFrame(url, { sha256, signal } = {}) {
      // A body cut short or bytes that fail the checksum are fetched again (storage may have hiccuped on the
      // way); refused requests were already retried by send().
      const what = `downloading ${stripQuery(url)}`;
      try {
        return await withRetries(
          what,
          async () => {
            const res = await send('GET', url, { idempotent: true, external: true, signal, accept: '*/*' });
            const bytes = new Uint8Array(await res.arrayBuffer());
            if (sha256 !== undefined) {
              const actual = await sha256Hex(bytes);
              if (actual !== sha256.toLowerCase()) {
                throw new TesseraError('OUTPUT_CORRUPT', `downloaded ${bytes.byteLength} bytes from ${stripQuery(url)} whose sha256 is ${actual}, not ${sha256}`);
              }
            }
            return bytes;
          },
          { attempts: opts.retries + 1, baseDelayMs: opts.retryDelayMs, signal, retryable: (err) => !isTesseraError(err) || err.code === 'OUTPUT_CORRUPT' },
        );
      } catch (err) {
        if (!(err instanceof RetriesExhaustedError)) throw err;
        const last = err.cause;
        throw isTesseraError(last) ? new TesseraError(last.code, `${last.message} (${err.attempts} attempts)`, { cause: err }) : new TesseraError('STORAGE_FAILED', err.message, { cause: err });
      }
    },
  };
  return client;
}

// The health answer is kept loose (any object), so a load balancer's or an older server's answer still parses.
const HealthBody = z.record(z.string(), z.unknown());

/** The part of a job's `client` the API takes (a probe result carries more, for the caller). */
function clientPart(client: JobClientInput | (JobClientInput & Partial<ProbeResult>) | undefined): JobClientInput | undefined {
  if (!client) return undefined;
  return { rtts: client.rtts, location: client.location, coordinate: client.coordinate, ...(client.edge ? { edge: client.edge } : {}) };
}

/** A job status as a progress report. */
export function progressOf(status: JobStatus): JobProgress {
  return { type: 'progress', jobId: status.jobId, state: status.state, frames: status.frames, tiles: status.tiles };
}

/** Whether a job in this state will not change any more. */
export function isFinished(state: JobState): boolean {
  return FINISHED.has(state);
}

const EVENT_TYPES = new Set(['progress', 'frame', 'end']);

function toJobEvent(name: string, data: string): JobEvent | undefined {
  let body: any;
  try {
    body = JSON.parse(data);
  } catch {
    return undefined;
  }
  const type = name !== 'message' ? name : body?.type;
  // Unknown event types (keep-alives, newer servers) are skipped, not errors.
  if (!EVENT_TYPES.has(type) || typeof body !== 'object' || body === null) return undefined;
  return { ...body, type } as JobEvent;
}

/** Errors after which waitForJob should poll instead of giving up: the stream broke, or this server has none. */
function streamProblem(err: unknown): boolean {
  if (!isTesseraError(err)) return true;
  // QUOTA_EXCEEDED: the key holds its limit of open streams; polling still works.
  return err.code === 'UNAVAILABLE' || err.code === 'NOT_FOUND' || err.code === 'INTERNAL' || err.code === 'RATE_LIMITED' || err.code === 'QUOTA_EXCEEDED';
}

async function sniffContentType(bytes: Uint8Array | Blob): Promise<string> {
  const head = bytes instanceof Uint8Array ? bytes.subarray(0, 4) : new Uint8Array(await bytes.slice(0, 4).arrayBuffer());
  const magic = String.fromCharCode(...head);
  if (magic === 'glTF') return 'model/gltf-binary';
  if (magic === 'PK\x03\x04') return 'application/zip';
  if (magic.trimStart().startsWith('{')) return 'model/gltf+json';
  if (!(bytes instanceof Uint8Array) && bytes.type) return bytes.type;
  return 'application/octet-stream';
}


function retryAfterMs(res: Response): number | undefined {
  const value = res.headers.get('retry-after');
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_RETRY_AFTER_MS ? ms : undefined;
}

/** Node's fetch hides the reason in `cause` (e.g. `connect ECONNREFUSED 127.0.0.1:8080`). */
function describeNetworkError(err: unknown): string {
  const e = err as Error & { cause?: any };
  if (e?.name === 'TimeoutError') return 'no answer in time';
  const cause = e?.cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return String(cause.code);
  return e?.message ?? String(err);
}

function stripQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}


/** TESSERA_API_KEY from the environment, where the runtime has one (browsers and Workers do not). */
function environmentApiKey(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.TESSERA_API_KEY || undefined;
}
