/**
 * Sessions through the Worker's fetch handler in workerd: a node registers (and gets its ticket secret),
 * a client opens a session and gets that node's WebSocket URL and a ticket the node can check offline, the
 * node leases the session through its long-poll, and DELETE closes it (the node learns at its heartbeat).
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createDurableJobStore } from '../../api/edge/durable-job-store.ts';
import { coordinatorFor } from '../../api/edge/coordinator-for.ts';
import { EDGE_NODE_CARD, fetchWorker, workerCaller } from './support/worker-caller.ts';
import { checkTicket, fromBase64Url } from '../../api/protocol/session-ticket.ts';
import { newProbeNonce, probeProof } from '../../api/protocol/probe-proof.ts';
import { VR_SAMPLE_PAGE } from '../../api/core/sample/vr-page.ts';

const sceneId = 'c'.repeat(64);
const card = {
  ...EDGE_NODE_CARD,
  sessionSlots: 1,
  sessionUrl: 'wss://node.example:8443',
  sessionFeatures: ['depth'],
  probeUrl: 'https://node.example:8443/ping',
};

describe('sessions on Workers', () => {
  it('places a session on the node, mints a ticket only it accepts, leases it to the node and closes it', async () => {
    const farmEnv = { ...env, FARM: `sessions-${Date.now()}` };
    await createDurableJobStore(coordinatorFor(farmEnv)).putScene({ sceneId, bytes: 100, stats: {}, info: { cameras: [], cameraNodes: [], clips: [], scenes: [null], defaultScene: 0 }, createdAt: Date.now() });
    const call = workerCaller(farmEnv);
    const reg = await call('POST', '/v1/nodes', card);
    expect(reg.status).toBe(201);
    const { nodeId, nodeToken, ticketSecret, probeKey } = reg.body!;
    // A client RTT counts only with the node's answer to the ping's challenge (as for jobs).
    const nonce = newProbeNonce();
    const rtt = { nodeId, rttMs: 12, nonce, proof: await probeProof(probeKey, nonce) };
    expect(typeof ticketSecret).toBe('string');

    const created = await call('POST', '/v1/sessions', { sceneId, eye: '256x256', depth: true, shadows: false, client: { rtts: [rtt] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const s = created.body!;
    expect(s).toMatchObject({ nodeId, route: { rttSource: 'measured', predictedRttMs: 12 } });
    expect(s.url).toBe(`wss://node.example:8443/v1/sessions/${s.sessionId}`);
    const checked = await checkTicket(s.ticket, fromBase64Url(ticketSecret), nodeId, Date.now());
    expect(checked).toMatchObject({ ok: true, payload: { sid: s.sessionId, nid: nodeId } });
    expect(await checkTicket(s.ticket, fromBase64Url(ticketSecret), 'node_other', Date.now())).toEqual({ ok: false, problem: 'wrong-node' });

    // The node's one slot is taken: a second session has nowhere to go.
    const full = await call('POST', '/v1/sessions', { sceneId, client: { rtts: [rtt] } });
    expect(full.status).toBe(503);
    expect(full.body!.message).toMatch(/no free session slot/);

    const lease = await call('POST', `/v1/nodes/${nodeId}/lease`, { waitSeconds: 0, kinds: ['session'] }, nodeToken);
    expect(lease.status).toBe(200);
    expect(lease.body).toMatchObject({ kind: 'session', sessionId: s.sessionId, render: { eye: { width: 256, height: 256 }, format: 'jpeg', quality: 80, depth: true, shadows: false } });
    expect(lease.body!.scene.url).toContain(sceneId);
    expect((await call('GET', `/v1/sessions/${s.sessionId}`)).body).toMatchObject({ state: 'starting', nodeId });

    // Frame samples: the Worker's image comparer decodes PNG only, so it cannot check a JPEG frame: a clear 422.
    const sample = { seq: 1, eyes: [{ view: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, -3, 1], projection: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, -1, 0, 0, -0.1, 0] }], width: 256, height: 256, format: 'jpeg', image: 'AAAA', mac: 'A'.repeat(43) };
    const sampled = await call('POST', `/v1/sessions/${s.sessionId}/samples`, sample);
    expect(sampled.status, JSON.stringify(sampled.body)).toBe(422);
    expect(sampled.body).toMatchObject({ code: 'SAMPLE_UNVERIFIABLE' });

    const deleted = await call('DELETE', `/v1/sessions/${s.sessionId}`);
    expect(deleted.body).toMatchObject({ state: 'closed' });
    const hb = await call('POST', `/v1/nodes/${nodeId}/heartbeat`, { sessions: [{ sessionId: s.sessionId, state: 'open', stats: { frames: 5, dropped: 0, skipped: 0, p50Ms: 9, p95Ms: 12, renderMs: 40 } }] }, nodeToken);
    expect(hb.body!.revokedSessions).toEqual([s.sessionId]);
  });

  it('refuses a WebGL 2 scene\'s session with 422 NO_CAPABLE_NODE while no node renders sessions on WebGL 2, 503 while the one that does is full', async () => {
    const farmEnv = { ...env, FARM: `sessions-webgl2-${Date.now()}` };
    const glass = 'd'.repeat(64);
    const info = { cameras: [], cameraNodes: [], clips: [], scenes: [null], defaultScene: 0, webgl2: ['KHR_materials_dispersion'] };
    await createDurableJobStore(coordinatorFor(farmEnv)).putScene({ sceneId: glass, bytes: 100, stats: {}, info, createdAt: Date.now() });
    const call = workerCaller(farmEnv);
    // No node at all, then a node whose sessions render on WebGL 1 only: retrying cannot help.
    const none = await call('POST', '/v1/sessions', { sceneId: glass });
    expect(none.status, JSON.stringify(none.body)).toBe(422);
    expect(none.body).toMatchObject({ code: 'NO_CAPABLE_NODE', message: expect.stringMatching(/the scene uses KHR_materials_dispersion, which renders only on WebGL 2, and no node is registered \(start one with `tessera node start --backend auto` or `--backend chromium`\)/) });
    expect((await call('POST', '/v1/nodes', { ...card, name: 'gl1' })).status).toBe(201);
    const gl1 = await call('POST', '/v1/sessions', { sceneId: glass });
    expect(gl1.status, JSON.stringify(gl1.body)).toBe(422);
    expect(gl1.body).toMatchObject({ code: 'NO_CAPABLE_NODE', message: expect.stringMatching(/KHR_materials_dispersion.*the one registered node does not render sessions on it/) });
    // A node with WebGL 2 sessions: placed there; while its one slot is taken, a retry may help (503).
    const webgl2 = await call('POST', '/v1/nodes', { ...card, name: 'webgl2', sessionFeatures: ['depth', 'webgl2'], backends: [{ id: 'chromium', webgl2: true, version: 'b' }] });
    expect(webgl2.status).toBe(201);
    await new Promise((r) => setTimeout(r, 300)); // the API reuses its node list for 250 ms
    const placed = await call('POST', '/v1/sessions', { sceneId: glass });
    expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    expect(placed.body!.nodeId).toBe(webgl2.body!.nodeId);
    const full = await call('POST', '/v1/sessions', { sceneId: glass });
    expect(full.status, JSON.stringify(full.body)).toBe(503);
    expect(full.body).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/1 with no free session slot.*retry shortly/) });
  });

  it('serves the sample WebXR page', async () => {
    const res = await fetchWorker(new Request('https://api.example/sample/vr'), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain("requestSession('immersive-vr')");
    expect(html).toContain('/v1/sessions');
    // The very page test/farm/vr-page.test.ts drives in Chromium (desktop and immersive-vr), byte for byte.
    expect(html).toBe(VR_SAMPLE_PAGE);
  });
});
