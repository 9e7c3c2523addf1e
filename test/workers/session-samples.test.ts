/**
 * Session frame samples on Workers: the Worker's image comparer decodes JPEG session frames (jpeg-js, pure JS) and
 * PNG references (fast-png) inside workerd and reaches the same verdicts as on Node. The pictures are real renders of
 * the textured sample (test/support/make-session-frame-fixtures.ts): a JPEG q80 session frame of pose A, the PNG
 * reference of its left eye, and the PNG of a pose turned 60°. Scripted nodes lease the reference renders through the
 * Worker and upload those PNGs to the suite's real S3 server through their presigned URLs.
 * - A frame whose reference shows the same pose: `agreed` (diff below 3%).
 * - A frame both references (agreeing with each other) show differently: `second-opinion`, then `disproven`; the
 *   session's node is blocklisted.
 * - A WebP session's frame: 422 SAMPLE_UNVERIFIABLE (no WebP decoder runs in workerd).
 * - Nobody polls: the reference renders' ends move the sample on inside the Worker (the second reference is queued,
 *   then the node blocklisted) with no GET of the sample or the session.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createDurableJobStore } from '../../api/edge/durable-job-store.ts';
import { coordinatorFor } from '../../api/edge/coordinator-for.ts';
import { base64ToBytes } from '../../api/protocol/base64-bytes.ts';
import { FRAME_MAC_PURPOSE, frameMacMessage } from '../../api/protocol/session-sample.ts';
import { fromBase64Url, hmacSha256, toBase64Url } from '../../api/protocol/session-ticket.ts';
import { sha256Hex } from '../../api/protocol/sha256-hex.ts';
import { NODE_PROTOCOL_VERSION } from '../../api/protocol/task.ts';
import { EYE, FRAME_A_JPEG, POSE_A, REF_A_PNG, REF_B_PNG } from './support/session-frame-fixtures.ts';
import { EDGE_NODE_CARD, workerCaller } from './support/worker-caller.ts';

const sceneId = 'd'.repeat(64);
const farmEnv = { ...env, FARM: `session-samples-${Date.now()}` };
let call = workerCaller(farmEnv);

type Node = { nodeId: string; nodeToken: string; ticketSecret: string };

async function register(name: string, extra: Record<string, unknown>): Promise<Node> {
  const reg = await call('POST', '/v1/nodes', { ...EDGE_NODE_CARD, name, ...extra });
  expect(reg.status, JSON.stringify(reg.body)).toBe(201);
  return reg.body as Node;
}

/** The frame as the session's node signed it (its ticket secret's frame key over session, pose, size and bytes). */
async function signedSample(sessionId: string, node: Node, seq: number, format: 'jpeg' | 'webp' = 'jpeg') {
  const bytes = base64ToBytes(FRAME_A_JPEG);
  const key = await hmacSha256(fromBase64Url(node.ticketSecret), new TextEncoder().encode(FRAME_MAC_PURPOSE));
  const mac = toBase64Url(await hmacSha256(key, frameMacMessage({ sessionId, seq, eyes: POSE_A, width: 2 * EYE, height: EYE, format, imageSha256: await sha256Hex(bytes) })));
  return { seq, eyes: POSE_A, width: 2 * EYE, height: EYE, format, image: FRAME_A_JPEG, mac };
}

/** `node` leases the reference render and uploads `pngBase64` as its output, as a render node does. */
async function renderReference(node: Node, pngBase64: string): Promise<void> {
  const lease = await call('POST', `/v1/nodes/${node.nodeId}/lease`, { waitSeconds: 0, protocol: NODE_PROTOCOL_VERSION }, node.nodeToken);
  expect(lease.status, JSON.stringify(lease.body)).toBe(200);
  const task = lease.body!;
  expect(task.view.pose).toEqual({ view: POSE_A[0].view, projection: POSE_A[0].projection });
  const bytes = base64ToBytes(pngBase64);
  const checksum = await sha256Hex(bytes);
  const ticket = await call('POST', `/v1/tasks/${task.taskId}/upload`, { token: task.output.token, bytes: bytes.length, checksum }, null);
  expect(ticket.status, JSON.stringify(ticket.body)).toBe(200);
  const put = await fetch(ticket.body!.url, { method: 'PUT', body: bytes, headers: ticket.body!.headers });
  expect(put.status).toBe(200);
  const done = await call('POST', `/v1/tasks/${task.taskId}/complete`, { leaseId: task.leaseId, checksum, bytes: bytes.length, timings: { render: 1 } }, node.nodeToken);
  expect(done.status, JSON.stringify(done.body)).toBe(200);
}

describe('session frame samples on Workers', () => {
  it('compares a JPEG frame with PNG references in workerd: agreed when the pose matches, disproven when two references agree against it', async () => {
    await createDurableJobStore(coordinatorFor(farmEnv)).putScene({ sceneId, bytes: 100, stats: {}, info: { cameras: [], cameraNodes: [], clips: [], scenes: [null], defaultScene: 0 }, createdAt: Date.now() });
    const sessionNode = await register('session-node', { sessionSlots: 4, sessionUrl: 'wss://node.example:8443', probeUrl: 'https://node.example:8443/ping', sessionFeatures: ['depth'], renderFeatures: ['view-pose'] });
    const refs = [await register('ref-1', { renderFeatures: ['view-pose'] }), await register('ref-2', { renderFeatures: ['view-pose'] })];

    const open = async (format: 'jpeg' | 'webp') => {
      const created = await call('POST', '/v1/sessions', { sceneId, eye: `${EYE}x${EYE}`, format, quality: 80 });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body!.nodeId).toBe(sessionNode.nodeId);
      return created.body!.sessionId as string;
    };

    // WebP frames: no decoder runs here, a clear 422 before anything is queued.
    const webp = await open('webp');
    const refused = await call('POST', `/v1/sessions/${webp}/samples`, await signedSample(webp, sessionNode, 1, 'webp'));
    expect(refused.status, JSON.stringify(refused.body)).toBe(422);
    expect(refused.body).toMatchObject({ code: 'SAMPLE_UNVERIFIABLE', message: expect.stringMatching(/webp/) });

    // The reference shows the frame's pose: agreed.
    const s1 = await open('jpeg');
    const posted = await call('POST', `/v1/sessions/${s1}/samples`, await signedSample(s1, sessionNode, 1));
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    await renderReference(refs[0], REF_A_PNG);
    const agreed = (await call('GET', `/v1/sessions/${s1}/samples/${posted.body!.sampleId}`)).body!;
    expect(agreed).toMatchObject({ state: 'agreed', referenceNodes: [refs[0].nodeId] });
    expect(agreed.diffs[0]).toBeLessThan(0.03);

    // Both references show another picture (a turned pose) and agree with each other: the frame is disproven.
    const s2 = await open('jpeg');
    const second = await call('POST', `/v1/sessions/${s2}/samples`, await signedSample(s2, sessionNode, 7));
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    await renderReference(refs[1], REF_B_PNG);
    const asked = (await call('GET', `/v1/sessions/${s2}/samples/${second.body!.sampleId}`)).body!;
    expect(asked).toMatchObject({ state: 'second-opinion', referenceNodes: [refs[1].nodeId] });
    expect(asked.diffs[0]).toBeGreaterThan(0.2);
    await renderReference(refs[0], REF_B_PNG);
    const verdict = (await call('GET', `/v1/sessions/${s2}/samples/${second.body!.sampleId}`)).body!;
    expect(verdict).toMatchObject({ state: 'disproven', referenceNodes: [refs[1].nodeId, refs[0].nodeId] });
    const nodes = (await call('GET', '/v1/nodes')).body!.nodes as { nodeId: string; reputation: { blocklisted: unknown } }[];
    expect(nodes.find((n) => n.nodeId === sessionNode.nodeId)!.reputation.blocklisted).not.toBeNull();
    for (const r of refs) expect(nodes.find((n) => n.nodeId === r.nodeId)!.reputation.blocklisted).toBeNull();
  });

  it('nobody polls: the references\' ends move the sample on, and the node is blocklisted', async () => {
    const quiet = { ...env, FARM: `session-samples-quiet-${Date.now()}` };
    call = workerCaller(quiet);
    await createDurableJobStore(coordinatorFor(quiet)).putScene({ sceneId, bytes: 100, stats: {}, info: { cameras: [], cameraNodes: [], clips: [], scenes: [null], defaultScene: 0 }, createdAt: Date.now() });
    const sessionNode = await register('session-node', { sessionSlots: 4, sessionUrl: 'wss://node.example:8443', probeUrl: 'https://node.example:8443/ping', sessionFeatures: ['depth'], renderFeatures: ['view-pose'] });
    const refs = [await register('ref-1', { renderFeatures: ['view-pose'] }), await register('ref-2', { renderFeatures: ['view-pose'] })];
    const created = await call('POST', '/v1/sessions', { sceneId, eye: `${EYE}x${EYE}`, format: 'jpeg', quality: 80 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const sessionId = created.body!.sessionId as string;
    const posted = await call('POST', `/v1/sessions/${sessionId}/samples`, await signedSample(sessionId, sessionNode, 3));
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    // From here only the nodes call: no GET of the sample or of the session.
    await renderReference(refs[0], REF_B_PNG);
    await renderReference(refs[1], REF_B_PNG);
    const nodes = (await call('GET', '/v1/nodes')).body!.nodes as { nodeId: string; reputation: { blocklisted: { reason: string } | null } }[];
    expect(nodes.find((n) => n.nodeId === sessionNode.nodeId)!.reputation.blocklisted).toMatchObject({ reason: expect.stringMatching(/disproven/) });
    for (const r of refs) expect(nodes.find((n) => n.nodeId === r.nodeId)!.reputation.blocklisted).toBeNull();
    const asked = Date.now();
    const verdict = (await call('GET', `/v1/sessions/${sessionId}/samples/${posted.body!.sampleId}`)).body!;
    expect(verdict).toMatchObject({ state: 'disproven', referenceNodes: [refs[0].nodeId, refs[1].nodeId] });
    expect(verdict.updatedAt).toBeLessThanOrEqual(asked);
  });
});
