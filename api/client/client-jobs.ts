import { ApiKeyCreated, ApiKeyList, ApiKeyView, KeyIdentity, type CreateApiKey } from '../protocol/api-keys.ts';
import { z } from 'zod';
import { TesseraError, isTesseraError } from '../protocol/errors.ts';
import type { JobRequestInput } from '../protocol/job-spec.ts';
import { JobCreated, JobFrames, JobStatus, JobSummary, SceneUploaded, SceneUploadTicket, type JobEvent, type JobState } from '../protocol/job-status.ts';
import type { JobClientInput } from '../protocol/latency.ts';
import { JobLedger, NodeLedger, Quote } from '../protocol/metering.ts';
import { sha256Hex } from '../protocol/sha256-hex.ts';
import { RetriesExhaustedError, sleep, withRetries } from '../protocol/with-retries.ts';
import { readServerSentEvents } from './read-server-sent-events.ts';
import { stripQuery, type ClientTransport } from './client-transport.ts';
import type { ProbeResult } from './client-probing.ts';

// The SDK's job calls: scene uploads, jobs (pages followed), their events (SSE, falling back to polling),
// frames and their downloads, quotes, the ledger and API keys.

/** A `progress` event of a job (also what polling reports). */
export type JobProgress = Extract<JobEvent, { type: 'progress' }>;

/** `submitJob`'s answer: the protocol's `JobCreated`. */
export type JobSubmitted = JobCreated;

export interface WaitOptions {
  /** Called with every progress report (from events, or from polling when events are unavailable). */
  onProgress?(progress: JobProgress): void;
  /** Called with every event of the stream (progress, frame, end). */
  onEvent?(event: JobEvent): void;
  /** Ask for small frames inside their `frame` events (`inline`, see {@link ClientJobs.events}). */
  inlineFrames?: boolean;
  signal?: AbortSignal;
}

/** The job, scene, ledger and key calls of {@link TesseraClient}. */
export interface ClientJobs {
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
  /**
   * The job's server-sent events, parsed, until the server closes the stream (after `end`) or `signal` aborts.
   * `inlineFrames`: `frame` events carry small frames themselves (base64 `inline`, sha256 `checksum`) while the API
   * still holds them, so the caller need not download those (older servers ignore the ask).
   */
  events(jobId: string, opts?: { signal?: AbortSignal; inlineFrames?: boolean }): AsyncGenerator<JobEvent>;
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
}

const FINISHED: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);
/** After this many broken event streams in a row, waitForJob only polls. */
const MAX_STREAM_FAILURES = 3;

export function createClientJobs({ options: opts, send, json, backoff }: ClientTransport): ClientJobs {
  const jobPath = (jobId: string, rest = '') => `/v1/jobs/${encodeURIComponent(jobId)}${rest}`;

  const jobs: ClientJobs = {
    health: ({ signal } = {}) => json(HealthBody, 'GET', '/v1/health', { idempotent: true, signal }),

    async uploadScene(bytes, { contentType, signal } = {}) {
      const size = bytes instanceof Uint8Array ? bytes.byteLength : bytes.size;
      const type = contentType ?? (await sniffContentType(bytes));
      const body = bytes as BodyInit;
      const direct = size <= opts.directUploadMaxBytes;
      // Web Crypto is missing on a page served over plain http from another host: small scenes then just upload.
      const asking = size >= opts.askBeforeUploadMinBytes && (!direct || (typeof crypto !== 'undefined' && !!crypto.subtle));
      const data = asking || !direct ? (bytes instanceof Uint8Array ? bytes : new Uint8Array(await bytes.arrayBuffer())) : undefined;
      const sha256 = data ? await sha256Hex(data) : undefined;
      if (asking && sha256) {
        // Bytes this key uploaded before are not sent again. Any failure here (an older API: 404) just uploads.
        const known = await json(SceneUploaded, 'GET', `/v1/scenes/uploaded/${sha256}`, { idempotent: true, signal }).catch((err: unknown) => {
          if (signal?.aborted) throw err;
          return undefined;
        });
        if (known) return known;
      }
      // Content-addressed: sending the same bytes twice stores one scene, so uploads may be retried.
      if (direct || !data || !sha256) {
        return json(SceneUploaded, 'POST', '/v1/scenes', { body, contentType: type, idempotent: true, signal, timeout: false });
      }
      // Announcing the size and SHA-256 gets a URL storage accepts only these bytes through.
      const upload = await json(SceneUploadTicket, 'POST', '/v1/scenes/uploads', { body: JSON.stringify({ bytes: size, sha256, contentType: type }), contentType: 'application/json', signal });
      await send('PUT', upload.url, { body: data as BodyInit, contentType: type, headers: upload.headers, external: true, idempotent: true, signal });
      // Retried like the direct upload: a busy API (503, no inspection slot) keeps the upload for the next try.
      return json(SceneUploaded, 'POST', `/v1/scenes/uploads/${encodeURIComponent(upload.uploadId)}/complete`, { idempotent: true, signal, timeout: false });
    },

    submitJob: (request, { signal } = {}) =>
      json(JobCreated, 'POST', '/v1/jobs', { body: JSON.stringify({ ...request, client: clientPart(request.client) }), contentType: 'application/json', signal }),

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

    async *events(jobId, { signal, inlineFrames } = {}) {
      const res = await send('GET', jobPath(jobId, `/events${inlineFrames ? '?inline=1' : ''}`), { idempotent: true, signal, accept: 'text/event-stream' });
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

    async cancel(jobId, { signal } = {}) {
      const res = await send('DELETE', jobPath(jobId), { idempotent: true, signal, timeout: true });
      await res.body?.cancel().catch(() => {});
    },

    async waitForJob(jobId, { onProgress, onEvent, inlineFrames, signal } = {}) {
      let streamFailures = 0;
      while (streamFailures < MAX_STREAM_FAILURES) {
        try {
          for await (const event of jobs.events(jobId, { signal, inlineFrames })) {
            streamFailures = 0;
            onEvent?.(event);
            if (event.type === 'progress') onProgress?.(event);
            if (event.type === 'end') return jobs.getJob(jobId, { signal });
          }
        } catch (err) {
          if (signal?.aborted || !streamProblem(err)) throw err;
        }
        // The stream broke or ended early: the job may have finished meanwhile.
        streamFailures++;
        const status = await jobs.getJob(jobId, { signal });
        onProgress?.(progressOf(status));
        if (FINISHED.has(status.state)) return status;
        await sleep(backoff(streamFailures), signal);
      }
      for (;;) {
        const status = await jobs.getJob(jobId, { signal });
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
  return jobs;
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
