import type { ProbeHistoryStore } from './probe-history.ts';

// The SDK's options, shared by its transport, job calls and probing (see tessera-client.ts).

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
  /**
   * Scenes of at least this size are first asked for by the sha256 of their bytes (`GET /v1/scenes/uploaded/…`):
   * bytes this key uploaded before are not sent again. Smaller ones are sent at once (the API still skips checking
   * bytes it has seen). Infinity: never ask.
   */
  askBeforeUploadMinBytes?: number;
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
  askBeforeUploadMinBytes: 256 * 1024,
  retries: 3,
  retryDelayMs: 250,
  timeoutMs: 30_000,
  pollIntervalMs: 1_000,
};

/** The options with their defaults filled in, the base URL without trailing slashes and a bound fetch. */
export type ResolvedClientOptions = typeof CLIENT_DEFAULTS &
  Pick<TesseraClientOptions, 'apiKey' | 'probeHistory'> & { baseUrl: string; fetch: typeof fetch };

export function resolveClientOptions(options: TesseraClientOptions): ResolvedClientOptions {
  // Options left undefined keep their defaults.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as TesseraClientOptions;
  const opts = { ...CLIENT_DEFAULTS, apiKey: environmentApiKey(), ...given };
  return { ...opts, baseUrl: opts.baseUrl.replace(/\/+$/, ''), fetch: opts.fetch ?? globalThis.fetch.bind(globalThis) };
}

/** TESSERA_API_KEY from the environment, where the runtime has one (browsers and Workers do not). */
function environmentApiKey(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.TESSERA_API_KEY || undefined;
}
