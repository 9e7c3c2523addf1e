/**
 * The Worker's fetch handler in workerd: a job submitted without probes takes the client's location from
 * request.cf (where Cloudflare's edge saw it), and the coordinator stores it as the job's client; probes or
 * a location the client sent win. Each test's farm is a coordinator of its own (the FARM setting).
 */
import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createDurableJobStore } from '../../api/edge/durable-job-store.ts';
import { coordinatorFor } from '../../api/edge/coordinator-for.ts';
import worker from '../../api/edge/worker.ts';

const sceneId = 'b'.repeat(64);
let farms = 0;

async function openFarm() {
  const farmEnv = { ...env, FARM: `cf-test-${Date.now()}-${++farms}` };
  const coordinator = coordinatorFor(farmEnv);
  await createDurableJobStore(coordinator).putScene({
    sceneId,
    bytes: 100,
    stats: {},
    info: { cameras: [], cameraNodes: [], clips: [{ name: 'move', duration: 2 }], scenes: [null], defaultScene: 0 },
    createdAt: Date.now(),
  });
  const submit = async (body: object, cf?: object) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request('https://api.example/v1/jobs', {
        method: 'POST',
        headers: { authorization: `Bearer ${env.TESSERA_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sceneId, frames: '0', size: '64x64', ...body }),
        ...(cf ? { cf } : {}),
      }) as Request<unknown, IncomingRequestCfProperties>,
      farmEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status, await res.clone().text()).toBe(201);
    const { jobId } = (await res.json()) as { jobId: string };
    const stored = await runInDurableObject(coordinator, (_o, state) =>
      state.storage.sql.exec<{ client: string | null }>('SELECT client FROM jobs WHERE job_id = ?', jobId).one(),
    );
    return stored.client === null ? null : (JSON.parse(stored.client) as { location: unknown; rttMs: object });
  };
  return { submit };
}

const AUSTIN = { colo: 'DFW', latitude: '30.27130', longitude: '-97.74260', country: 'US' };

describe('request.cf as a routing hint', () => {
  it('locates a client that sent no probes where the edge saw it', async () => {
    const farm = await openFarm();
    expect(await farm.submit({}, AUSTIN)).toMatchObject({ location: { lat: 30.2713, lon: -97.7426 }, rttMs: {} });
  });

  it('keeps what the client sent, and has no hint without request.cf', async () => {
    const farm = await openFarm();
    expect(await farm.submit({ client: { location: { lat: 48.85, lon: 2.35 } } }, AUSTIN)).toMatchObject({ location: { lat: 48.85, lon: 2.35 } });
    expect(await farm.submit({ client: { rtts: [{ nodeId: 'n1', rttMs: 12 }] } }, AUSTIN)).toMatchObject({ location: null, rttMs: { n1: 12 } });
    expect(await farm.submit({})).toBeNull();
    expect(await farm.submit({}, { colo: 'DFW' })).toBeNull();
  });
});
