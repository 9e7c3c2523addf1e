/**
 * `GET /v1/edge/ping` in workerd: the Worker answers it from request.cf alone, before its app — no key, no
 * coordinator (the test's env has none: touching it would throw) — with the colo and its place from the
 * bundled table, and limits each address.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../api/edge/worker.ts';
import { EdgePing } from '../../api/protocol/edge.ts';

/** The worker's env with no coordinator binding at all. */
const noCoordinator = new Proxy(env, {
  get(target, key) {
    if (key === 'COORDINATOR') throw new Error('the edge ping touched the coordinator');
    return Reflect.get(target, key);
  },
}) as Env;

async function ping(cf: object | undefined, ip = '203.0.113.7') {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request('https://api.example/v1/edge/ping', { headers: { 'cf-connecting-ip': ip }, ...(cf ? { cf } : {}) }) as Request<unknown, IncomingRequestCfProperties>,
    noCoordinator,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

describe('GET /v1/edge/ping on Workers', () => {
  it('names the colo that took the request and where it is, with no key and no coordinator', async () => {
    const res = await ping({ colo: 'DFW', latitude: '30.2713', longitude: '-97.7426' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = EdgePing.parse(await res.json());
    expect(body).toMatchObject({ pop: 'DFW', source: 'cf', location: { lat: 32.9, lon: -97.04 } });
    expect(Math.abs(body.serverTime - Date.now())).toBeLessThan(60_000);
  });

  it('keeps a colo the table does not know, without a place; no request.cf: unknown', async () => {
    expect(EdgePing.parse(await (await ping({ colo: 'ZZZ' }, '203.0.113.8')).json())).toMatchObject({ pop: 'ZZZ', location: null, source: 'cf' });
    expect(EdgePing.parse(await (await ping(undefined, '203.0.113.8')).json())).toMatchObject({ pop: null, location: null, source: 'unknown' });
  });

  it('refuses an address that pings too often with 429 and Retry-After, others still pass', async () => {
    let refused: Response | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const res = await ping({ colo: 'AMS' }, '198.51.100.9');
      if (res.status === 429) refused = res;
      else expect(res.status).toBe(200);
    }
    expect(refused?.status).toBe(429);
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused!.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect((await ping({ colo: 'AMS' }, '198.51.100.10')).status).toBe(200);
  });
});
