/**
 * The latency lab for sessions: three real nodes (one session slot each) whose public servers (GET /ping and
 * the session WebSockets) sit behind delay proxies of 5, 40 and 120 ms each way. By the client's
 * measurements alone, a session lands on the 5 ms node; with its slot taken, the next one lands on the 40 ms
 * node; when the 5 ms node is SIGKILLed mid-session, the SDK re-opens through the API on the next best node
 * and frames keep coming.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient, type InteractiveSession, type TesseraClient } from '../../api/client/index.ts';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';
import { startApi, type RunningApi } from '../../api/node/start-api.ts';
import { stereoPose } from '../../api/protocol/session-pose.ts';
import { TEST_API_KEY, withTestKey } from '../support/api-harness.ts';
import { startDelayProxy, type DelayProxy } from '../support/delay-proxy.ts';
import { BIN, ROOT } from '../support/tessera-cli.ts';
import { scenePath } from '../support/renderer.ts';

const LEASE_MS = 3000;

interface LabNode {
  label: string;
  proxy: DelayProxy;
  child: ChildProcess;
  log: string[];
  id: string;
  exited: Promise<unknown>;
}

let dir: string;
let s3: LocalS3;
let api: RunningApi;
let client: TesseraClient;
let sceneId: string;
const nodes: LabNode[] = [];
const label = (id: string) => nodes.find((n) => n.id === id)?.label ?? id;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startLabNode(name: string, delayMs: number): Promise<LabNode> {
  const probePort = await freePort();
  const proxy = await startDelayProxy({ target: { port: probePort }, delayMs });
  const args = [BIN, 'node', 'start', '--api', api.url, '--name', name, '--region', name, '--concurrency', '1', '--session-slots', '1'];
  args.push('--cache', join(dir, `cache-${name}`), '--probe-host', '127.0.0.1', '--probe-port', String(probePort), '--probe-url', proxy.url);
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, DISPLAY: '', TESSERA_LOG_LEVEL: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  child.stderr!.on('data', (d) => log.push(...String(d).split('\n').filter(Boolean)));
  return { label: name, proxy, child, log, id: '', exited: new Promise((r) => child.on('exit', r)) };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${nodes.map((n) => `[${n.label}] ${n.log.slice(-5).join('\n')}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

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
  dir = mkdtempSync(join(tmpdir(), 'tessera-session-lab-'));
  s3 = await startLocalS3({ dir: join(dir, 's3') });
  api = await startApi({ dataDir: join(dir, 'api'), s3, leaseMs: LEASE_MS, port: 0, api: withTestKey({ verification: { sampleRate: 0 } }) });
  client = createTesseraClient({ baseUrl: api.url, apiKey: TEST_API_KEY });
  nodes.push(await startLabNode('near', 5), await startLabNode('mid', 40), await startLabNode('far', 120));
  ({ sceneId } = await client.uploadScene(new Uint8Array(await readFile(scenePath('textured-pbr')))));
  const listed = await waitFor('three healthy nodes', async () => {
    const { nodes: up } = await client.nodes({ healthy: true });
    return up.length === 3 ? up : undefined;
  });
  for (const n of nodes) n.id = listed.find((v) => v.card.name === n.label)!.nodeId;
}, 120_000);

afterAll(async () => {
  for (const n of nodes) n.child.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
  for (const n of nodes) await n.proxy.close();
  await api?.close();
  await s3?.close();
});

describe('session latency lab: three nodes behind 5/40/120 ms proxies, one session slot each', () => {
  it('places by measured RTT, spills to the next node when the slot is taken, and re-opens on the next best after SIGKILL', async () => {
    // The first probe also opens connections through the proxies; the second measures what the client sees.
    await client.probe({ count: 3 });
    const probe = await client.probe({ count: 3 });
    expect(probe.rtts.map((r) => label(r.nodeId)), JSON.stringify(probe.rtts)).toEqual(['near', 'mid', 'far']);

    const first = await client.openSession({ request: { sceneId, eye: '128x128', client: probe } });
    expect(label(first.nodeId)).toBe('near');
    const placed = await client.getSession(first.sessionId);
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
