/**
 * Per-PoP learning on Workers, through the Worker's fetch handler in workerd: the PoP a job teaches is the colo
 * that took its request (request.cf.colo), whatever PoP the client names, and `GET /v1/nodes/nearby` from that
 * colo suggests first what its earlier clients found best; another colo is untouched.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createDurableJobStore } from '../../api/edge/durable-job-store.ts';
import { coordinatorFor } from '../../api/edge/coordinator-for.ts';
import { newProbeNonce, probeProof } from '../../api/protocol/probe-proof.ts';
import { coloCaller, EDGE_NODE_CARD } from './support/worker-caller.ts';

const sceneId = 'c'.repeat(64);
const card = (i: number) => ({ ...EDGE_NODE_CARD, name: `pop-node-${i}`, probeUrl: `https://node-${i}.example/ping` });

describe('per-PoP learning on Workers', () => {
  it('learns under the colo that took the job, not the PoP the client names, and suggests it to that colo’s next client', async () => {
    const farmEnv = { ...env, FARM: `pops-${Date.now()}`, REQUIRE_JOIN_TOKEN: '0' };
    await createDurableJobStore(coordinatorFor(farmEnv)).putScene({
      sceneId,
      bytes: 100,
      stats: {},
      info: { cameras: [], cameraNodes: [], clips: [{ name: 'move', duration: 2 }], scenes: [null], defaultScene: 0 },
      createdAt: Date.now(),
    });
    const call = coloCaller(farmEnv);
    const nodes: { nodeId: string; probeKey: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const reg = await call('POST', '/v1/nodes', card(i), undefined);
      expect(reg.status).toBe(201);
      nodes.push(reg.body as { nodeId: string; probeKey: string });
    }
    const first = async (colo: string) => {
      const res = await call('GET', '/v1/nodes/nearby?count=1', undefined, { colo });
      expect(res.status).toBe(200);
      return res.body.candidates[0].nodeId as string;
    };
    const before = { fra: await first('FRA'), nrt: await first('NRT') };
    const best = nodes.find((n) => n.nodeId !== before.fra)!;
    const other = nodes.find((n) => n !== best)!;
    const proven = async (n: { nodeId: string; probeKey: string }, rttMs: number) => {
      const nonce = newProbeNonce();
      return { nodeId: n.nodeId, rttMs, nonce, proof: await probeProof(n.probeKey, nonce) };
    };
    // The client names NRT; the edge took its request at FRA.
    const job = await call('POST', '/v1/jobs', { sceneId, frames: '0', size: '64x64', client: { rtts: [await proven(best, 9), await proven(other, 70)], edge: { pop: 'NRT', rttMs: 2 } } }, { colo: 'FRA' });
    expect(job.status).toBe(201);
    expect(await first('FRA')).toBe(best.nodeId);
    expect(await first('NRT')).toBe(before.nrt);
  });
});
