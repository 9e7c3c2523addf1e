/**
 * The node's requests to storage through presigned URLs: bounded retries with backoff and jitter on network
 * failures, 5xx and 429 (the body read included), every other answer a named failure at once.
 */
import { TesseraError } from '../../api/protocol/errors.ts';
import { RetriesExhaustedError, withRetries } from '../../api/protocol/with-retries.ts';

export interface StorageFetchOptions {
  signal?: AbortSignal;
  /** Longest one try may take (default 60 s). */
  timeoutMs?: number;
  /** Tries in all (default 6). */
  attempts?: number;
}

/** An answer that retrying will not change (4xx other than 429). */
class PermanentStorageError extends Error {}

/** GET an object's bytes from a presigned URL. */
export function fetchObject(url: string, what: string, options: StorageFetchOptions = {}): Promise<Uint8Array> {
  return storageCall(`downloading ${what}`, options, async (signal) => {
    const res = await fetch(url, { signal });
    await throwUnlessOk(res);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const declared = res.headers.get('content-length');
    if (declared !== null && Number(declared) !== bytes.length) throw new Error(`the body ended after ${bytes.length} of ${declared} bytes`);
    return bytes;
  });
}

/**
 * PUT `bytes` to a presigned URL (a repeated PUT of the same bytes is harmless), with the headers it was signed
 * for (an upload ticket's checksum and content type). Storage refusing the body (400 BadDigest) is permanent.
 */
export function putObject(url: string, bytes: Uint8Array, what: string, options: StorageFetchOptions & { headers?: Record<string, string> } = {}): Promise<void> {
  return storageCall(`uploading ${what}`, options, async (signal) => {
    const res = await fetch(url, { method: 'PUT', body: bytes as Uint8Array<ArrayBuffer>, headers: options.headers, signal });
    await throwUnlessOk(res);
    await res.body?.cancel();
  });
}

async function storageCall<T>(what: string, options: StorageFetchOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal, timeoutMs = 60_000, attempts } = options;
  try {
    return await withRetries(what, () => fn(AbortSignal.any([...(signal ? [signal] : []), AbortSignal.timeout(timeoutMs)])), {
      attempts,
      signal,
      retryable: (err) => !(err instanceof PermanentStorageError),
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    const message = err instanceof RetriesExhaustedError ? err.message : `${what} failed: ${(err as Error).message}`;
    throw new TesseraError('STORAGE_FAILED', message, { cause: err });
  }
}

async function throwUnlessOk(res: Response): Promise<void> {
  if (res.ok) return;
  const detail = `HTTP ${res.status} ${(await res.text().catch(() => '')).slice(0, 200)}`.trim();
  throw res.status >= 500 || res.status === 429 ? new Error(detail) : new PermanentStorageError(detail);
}
