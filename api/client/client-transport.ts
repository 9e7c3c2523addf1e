import { z } from 'zod';
import { TesseraError } from '../protocol/errors.ts';
import { errorFromResponse } from '../protocol/error-from-response.ts';
import { withRetries } from '../protocol/with-retries.ts';
import type { ResolvedClientOptions } from './client-options.ts';

// The SDK's transport: one request with retries (idempotent ones only), timeouts, the API key, and the
// answer's JSON parsed with the protocol's schema. Runs wherever fetch does: no node:* imports here.

export interface SendOptions {
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

export interface ClientTransport {
  readonly options: ResolvedClientOptions;
  /** One request with retries for idempotent ones; resolves only with a 2xx response. */
  send(method: string, target: string, so?: SendOptions): Promise<Response>;
  /** Send, then parse the JSON answer with the protocol's schema. */
  json<S extends z.ZodType>(schema: S, method: string, path: string, so?: SendOptions): Promise<z.infer<S>>;
  /** The delay before retry `attempt` (1-based): retryDelayMs doubling, with jitter. */
  backoff(attempt: number): number;
}

/** Statuses worth another try of an idempotent request. */
const RETRY_STATUSES = new Set([408, 429, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 30_000;

/** A failed try of an idempotent request that is worth another (after the server's Retry-After, if any). */
class TryAgain extends Error {
  constructor(
    readonly attempt: number,
    readonly delayMs?: number,
  ) {
    super('try again');
  }
}

export function createClientTransport(opts: ResolvedClientOptions): ClientTransport {
  const { baseUrl, fetch: doFetch } = opts;

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

  return { options: opts, send, json, backoff };
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

/** A URL without its query (presigned URLs carry signatures there, which do not belong in messages). */
export function stripQuery(url: string): string {
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
