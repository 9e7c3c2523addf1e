/** The shared retry helper: bounded attempts, non-retryable failures passed through, give-ups named. */
import { describe, expect, it } from 'vitest';
import { RetriesExhaustedError, withRetries } from '../api/protocol/with-retries.ts';

describe('withRetries', () => {
  it('retries until the call succeeds', async () => {
    let calls = 0;
    const value = await withRetries('flaky', async () => (++calls < 3 ? Promise.reject(new Error('reset')) : 'ok'), { baseDelayMs: 1 });
    expect(value).toBe('ok');
    expect(calls).toBe(3);
  });

  it('stops after its attempts (undefined options keep their defaults) and names the call and the last failure', async () => {
    let calls = 0;
    const err = await withRetries('uploading tile 3', async () => Promise.reject(new Error(`HTTP 503 #${++calls}`)), { attempts: undefined, baseDelayMs: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect(calls).toBe(6);
    expect(err.message).toBe('uploading tile 3 failed after 6 attempts: Error: HTTP 503 #6');
    expect(err.cause.message).toBe('HTTP 503 #6');
  });

  it('rethrows a failure that is not retryable at once', async () => {
    let calls = 0;
    const permanent = new Error('HTTP 403');
    const err = await withRetries('x', async () => Promise.reject((calls++, permanent)), { retryable: (e) => e !== permanent }).catch((e) => e);
    expect(err).toBe(permanent);
    expect(calls).toBe(1);
  });

  it('stops waiting when its signal aborts', async () => {
    const abort = new AbortController();
    const pending = withRetries('x', async () => Promise.reject(new Error('down')), { baseDelayMs: 10_000, signal: abort.signal });
    setTimeout(() => abort.abort(new Error('stopped')), 20);
    await expect(pending).rejects.toThrow('stopped');
  });
});
