/**
 * The latency lab for sessions: three real nodes (one session slot each) whose public servers (GET /ping and
 * the session WebSockets) sit behind delay proxies of 5, 40 and 120 ms each way. By the client's
 * measurements alone, a session lands on the 5 ms node; with its slot taken, the next one lands on the 40 ms
 * node; when the 5 ms node is SIGKILLed mid-session, the SDK re-opens through the API on the next best node
 * and frames keep coming.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractiveSession, TesseraClient } from '../../api/client/index.ts';
import { stereoPose } from '../../api/protocol/session-pose.ts';
import { startLatencyLab, type LabNode, type LatencyLab } from '../support/latency-lab.ts';
import { scenePath } from '../support/renderer.ts';

const LEASE_MS = 3000;

let lab: LatencyLab;
let client: TesseraClient;
let sceneId: string;
let nodes: LabNode[];
const label = (id: string) => lab.labelOf(id);
const waitFor: LatencyLab['waitFor'] = (...args) => lab.waitFor(...args);

/** Frames keep coming: send poses until `count` frames arrived from `nodeId`. */
async function framesFrom(session: InteractiveSession, nodeId: string, count = 3): Promise<void> {
  let got = 0;
  const off = session.onFrame((f) => {
    if (f.nodeId === nodeId) got++;
  });
  try {
    await waitFor(`${count} frames from ${label(nodeId)}`, async () => {
      if (session.nodeId === nodeId) {
        const { position, target, fov } = session.ready.start;
        session.sendPose({ eyes: stereoPose(position, target, { fov }) });
      }
      await new Promise((r) => setTimeout(r, 100));
      return got >= count ? true : undefined;
    });
  } finally {
    off();
  }
}

beforeAll(async () => {
  lab = await startLatencyLab({
    name: 'tessera-session-lab',
    leaseMs: LEASE_MS,
    api: { verification: { sampleRate: 0 } },
    nodes: [{ label: 'near', delayMs: 5 }, { label: 'mid', delayMs: 40 }, { label: 'far', delayMs: 120 }],
    nodeArgs: ['--concurrency', '1', '--session-slots', '1'],
  });
  ({ client, nodes } = lab);
  ({ sceneId } = await client.uploadScene(new Uint8Array(await readFile(scenePath('textured-pbr')))));
}, 120_000);

afterAll(async () => {
  await lab?.close();
});

describe('session latency lab: three nodes behind 5/40/120 ms proxies, one session slot each', () => {
  it('places by measured RTT, spills to the next node when the slot is taken, and re-opens on the next best after SIGKILL', async () => {
    // The first probe also opens connections through the proxies; the second measures what the client sees.
    await client.probe({ count: 3 });
    const probe = await client.probe({ count: 3 });
    expect(probe.rtts.map((r) => label(r.nodeId)), JSON.stringify(probe.rtts)).toEqual(['near', 'mid', 'far']);

    const first = await client.openSession({ request: { sceneId, eye: '128x128', client: probe } });
    const placed = await client.getSession(first.sessionId);
    expect(label(first.nodeId), JSON.stringify(placed.route)).toBe('near');
    expect(placed.route).toMatchObject({ rttSource: 'measured' });
    expect(placed.route.reason).toMatch(/earliest expected first frame/);
    await framesFrom(first, first.nodeId);
    // Pose → frame through the 5 ms proxy: at least its 10 ms round trip.
    expect(first.stats().p50Ms).toBeGreaterThan(10);

    // The near node's only slot is taken: the next session goes to the 40 ms node.
    const second = await client.openSession({ request: { sceneId, eye: '128x128', client: probe } });
    expect(label(second.nodeId)).toBe('mid');
    expect((await client.getSession(second.sessionId)).route.reason).toMatch(/1 with no free session slot/);
    await framesFrom(second, second.nodeId);
    await second.close();

    // SIGKILL the near node mid-session: the SDK opens a new session through the API on the next best node.
    const near = nodes.find((n) => n.label === 'near')!;
    near.child.kill('SIGKILL');
    await near.proxy.kill();
    await waitFor('the session re-opened elsewhere', async () => (first.stats().reopens >= 1 && first.nodeId !== near.id ? true : undefined), 60_000);
    const reopened = await client.getSession(first.sessionId);
    expect(label(first.nodeId), `${reopened.route.reason}\n${nodes.map((n) => `[${n.label}] ${n.log.filter((l) => /session/.test(l)).slice(-6).join('\n')}`).join('\n')}`).toBe('mid');
    await framesFrom(first, first.nodeId);
    await first.close();
  }, 180_000);
});
