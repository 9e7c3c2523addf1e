/**
 * `GET /v1/edge/ping` on the Node API: no key needed; the configured PoP (TESSERA_EDGE_POP) placed by the
 * colo table or by its own coordinates; unknown when none is configured; rate-limited per address.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EdgePing } from '../../api/protocol/edge.ts';
import { readApiConfig } from '../../api/node/api-config.ts';
import { call, startHarness, type Harness } from './support/api-harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('GET /v1/edge/ping on Node', () => {
  it('answers the configured PoP without a key, placed by the colo table', async () => {
    h = await startHarness({ api: { edgePop: readApiConfig({ TESSERA_EDGE_POP: 'fra' }).edgePop } });
    const res = await call(h.url, 'GET', '/v1/edge/ping', { token: null });
    expect(res.status).toBe(200);
    expect(EdgePing.parse(res.body)).toMatchObject({ pop: 'fra', source: 'config', location: { lat: 50.03, lon: 8.54 } });
  });

  it('takes CODE@lat,lon, refuses a bad TESSERA_EDGE_POP, and says unknown when none is set', async () => {
    expect(readApiConfig({ TESSERA_EDGE_POP: 'lab-1@48.85,2.35' }).edgePop).toEqual({ pop: 'lab-1', lat: 48.85, lon: 2.35 });
    expect(() => readApiConfig({ TESSERA_EDGE_POP: 'no spaces' })).toThrow(/TESSERA_EDGE_POP/);
    expect(() => readApiConfig({ TESSERA_EDGE_POP: 'x@91,0' })).toThrow(/TESSERA_EDGE_POP/);
    h = await startHarness();
    const res = await call(h.url, 'GET', '/v1/edge/ping', { token: null });
    expect(res.status).toBe(200);
    expect(EdgePing.parse(res.body)).toMatchObject({ pop: null, location: null, source: 'unknown' });
  });

  it('refuses an address that pings too often with 429 RATE_LIMITED and Retry-After', async () => {
    h = await startHarness();
    let last = 200;
    let retryAfter: string | null = null;
    for (let i = 0; i < 40 && last !== 429; i++) {
      const res = await fetch(`${h.url}/v1/edge/ping`, { headers: { 'x-forwarded-for': '192.0.2.44' } });
      last = res.status;
      retryAfter = res.headers.get('retry-after');
      if (last === 429) expect(await res.json()).toMatchObject({ code: 'RATE_LIMITED' });
    }
    expect(last).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${h.url}/v1/edge/ping`, { headers: { 'x-forwarded-for': '192.0.2.45' } })).status).toBe(200);
  });
});
