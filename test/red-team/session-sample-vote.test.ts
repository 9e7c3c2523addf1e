/**
 * Who must agree before a session's node is penalised (api/core/session-verification.ts), with the real API and
 * s3rver and scripted nodes: the session's node signs frames with its ticket secret as a node does, and reference
 * nodes lease the reference renders and upload the pictures each case needs.
 * - One reference agrees: `agreed`.
 * - The first reference disagrees, a second (neither) agrees with the frame: `agreed`, nobody blamed.
 * - The references disagree with the frame and with each other: `inconclusive`, nobody blamed.
 * - Both references agree with each other against the signed frame: `disproven`; the node is blocklisted, its session
 *   closed and its session credit voided.
 * - Nobody polls: the verdict follows the reference renders by themselves (the second reference is queued when the
 *   first one's job ends, the node blocklisted when the second's does).
 * And bounds: an unsigned sample, a `fast` session's, and samples past the per-session limit are refused.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeList } from '../../api/protocol/latency.ts';
import type { SceneUploaded } from '../../api/protocol/job-status.ts';
import { MAX_SAMPLES_PER_SESSION, type SessionSampleView } from '../../api/protocol/session-sample.ts';
import { fromBase64Url } from '../../api/protocol/session-ticket.ts';
import { call, startHarness, TestNode, type Harness } from '../support/api-harness.ts';
import { expectError } from '../support/expect-error.ts';
import { scenePath } from '../support/renderer.ts';
import { BLUE, GREEN, RED, renderReference as renderReferenceAs, type Rgb, signedFrame as signedFrameAs, YELLOW } from '../support/session-samples.ts';

const EYE = 64;
let h: Harness;
let sceneId: string;
let sessionNode: TestNode;
let refs: TestNode[];

beforeAll(async () => {
  h = await startHarness();
  sceneId = (await call<SceneUploaded>(h.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('textured-pbr'))), type: 'model/gltf-binary' })).body.sceneId;
  sessionNode = await TestNode.register(h, 'session-node', { sessionSlots: 8, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping', sessionFeatures: ['depth', 'fast'] });
  // Reference nodes draw ViewSpec.pose (as this version's nodes say in their card; session-reference-version.test.ts: older ones are never asked).
  const ref = (name: string) => TestNode.register(h, name, { renderFeatures: ['view-pose'] });
  refs = [await ref('ref-1'), await ref('ref-2'), await ref('ref-3')];
}, 60_000);
afterAll(async () => h?.close());

async function openSession(extra: Record<string, unknown> = {}): Promise<string> {
  const res = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: `${EYE}x${EYE}`, ...extra } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.nodeId).toBe(sessionNode.id);
  return res.body.sessionId;
}

let seq = 0;
/** A frame of `rgb` as the session's node sends it: JPEG, both eyes, signed with the node's secret. */
const signedFrame = (sessionId: string, rgb: Rgb, sign: Uint8Array = fromBase64Url(sessionNode.reg.ticketSecret!)) => signedFrameAs(sessionId, ++seq, rgb, sign, EYE);

async function report(sessionId: string, rgb: Rgb): Promise<SessionSampleView> {
  const res = await call<SessionSampleView>(h.url, 'POST', `/v1/sessions/${sessionId}/samples`, { json: await signedFrame(sessionId, rgb) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.state).toBe('checking');
  return res.body;
}

/** `node` leases the waiting reference render and delivers a picture of `rgb`. */
const renderReference = (node: TestNode, rgb: Rgb) => renderReferenceAs(node, rgb, EYE);

const sample = async (sessionId: string, id: string) => (await call<SessionSampleView>(h.url, 'GET', `/v1/sessions/${sessionId}/samples/${id}`)).body;
const reputation = async (node: TestNode) => (await call<NodeList>(h.url, 'GET', '/v1/nodes')).body.nodes.find((n) => n.nodeId === node.id)!.reputation;

describe('session frame samples: who must agree', () => {
  it('refuses a sample not signed by the session\'s node, a fast session\'s, and more than the limit', async () => {
    const sessionId = await openSession();
    // Signed with another node's secret (a client cannot know the session node's).
    const forged = await signedFrame(sessionId, RED, fromBase64Url(refs[0].reg.ticketSecret!));
    expectError(await call(h.url, 'POST', `/v1/sessions/${sessionId}/samples`, { json: forged }), 'SAMPLE_UNSIGNED');
    // A frame size this session does not stream.
    expectError(await call(h.url, 'POST', `/v1/sessions/${sessionId}/samples`, { json: { ...(await signedFrame(sessionId, RED)), width: 3 * EYE } }), 'BAD_REQUEST');
    const fast = await openSession({ fidelity: 'fast' });
    expectError(await call(h.url, 'POST', `/v1/sessions/${fast}/samples`, { json: await signedFrame(fast, RED) }), 'SAMPLE_UNVERIFIABLE');
    // Unknown session, unknown sample.
    expectError(await call(h.url, 'POST', '/v1/sessions/ses_nope/samples', { json: await signedFrame('ses_nope', RED) }), 'SESSION_NOT_FOUND');
    expectError(await call(h.url, 'GET', `/v1/sessions/${sessionId}/samples/smp_nope`), 'NOT_FOUND');
    for (let i = 0; i < MAX_SAMPLES_PER_SESSION; i++) await report(sessionId, RED);
    expectError(await call(h.url, 'POST', `/v1/sessions/${sessionId}/samples`, { json: await signedFrame(sessionId, RED) }), 'QUOTA_EXCEEDED');
    // Clear the queue of reference renders those made (another node's picture each; they agree).
    for (let i = 0; i < MAX_SAMPLES_PER_SESSION; i++) await renderReference(refs[i % 3], RED);
    expect(await reputation(sessionNode)).toMatchObject({ blocklisted: null });
  });

  it('one agreeing reference: agreed', async () => {
    const sessionId = await openSession();
    const s = await report(sessionId, RED);
    await renderReference(refs[0], RED);
    expect(await sample(sessionId, s.sampleId)).toMatchObject({ state: 'agreed', referenceNodes: [refs[0].id] });
  });

  it('a lying first reference is outweighed by a second: agreed, nobody blamed', async () => {
    const sessionId = await openSession();
    const s = await report(sessionId, BLUE);
    await renderReference(refs[0], GREEN);
    expect(await sample(sessionId, s.sampleId)).toMatchObject({ state: 'second-opinion', referenceNodes: [refs[0].id] });
    // The second reference goes to neither the session's node nor the first reference's.
    expect(await refs[0].lease(0)).toBeNull();
    await renderReference(refs[1], BLUE);
    const v = await sample(sessionId, s.sampleId);
    expect(v).toMatchObject({ state: 'agreed', referenceNodes: [refs[0].id, refs[1].id] });
    expect(v.diffs[0]).toBeGreaterThan(0.5);
    expect(v.diffs[1]).toBeLessThan(0.03);
    expect(await reputation(sessionNode)).toMatchObject({ blocklisted: null });
  });

  it('references that disagree with each other: inconclusive, nobody blamed', async () => {
    const sessionId = await openSession();
    const s = await report(sessionId, RED);
    await renderReference(refs[1], GREEN);
    expect((await sample(sessionId, s.sampleId)).state).toBe('second-opinion');
    await renderReference(refs[2], YELLOW);
    expect(await sample(sessionId, s.sampleId)).toMatchObject({ state: 'inconclusive', reason: expect.stringMatching(/differ from each other/) });
    expect(await reputation(sessionNode)).toMatchObject({ blocklisted: null });
    expect((await call(h.url, 'GET', `/v1/sessions/${sessionId}`)).body.state).not.toBe('closed');
  });

  it('two references agreeing against the signed frame: disproven, the node blocklisted, its session closed and uncredited', async () => {
    const sessionId = await openSession();
    const s = await report(sessionId, RED);
    await renderReference(refs[2], GREEN);
    // The API moves a sample on when it is asked (the SDK polls) or when sessions are swept.
    expect((await sample(sessionId, s.sampleId)).state).toBe('second-opinion');
    await renderReference(refs[0], GREEN);
    const v = await sample(sessionId, s.sampleId);
    expect(v).toMatchObject({ state: 'disproven', nodeId: sessionNode.id, referenceNodes: [refs[2].id, refs[0].id], reason: expect.stringMatching(/disproven/) });
    expect(await reputation(sessionNode)).toMatchObject({ blocklisted: { reason: expect.stringMatching(/disproven/) } });
    for (const r of refs) expect(await reputation(r)).toMatchObject({ blocklisted: null });
    const session = (await call(h.url, 'GET', `/v1/sessions/${sessionId}`)).body;
    expect(session).toMatchObject({ state: 'closed', closeReason: expect.stringMatching(/disproven/) });
    // A verdict is final: asking again changes nothing.
    expect(await sample(sessionId, s.sampleId)).toEqual(v);
  });

  it('nobody polls: the references\' ends move the sample on, and the node is blocklisted all the same', async () => {
    // A session node of its own (the one above is blocklisted by now).
    const liar = await TestNode.register(h, 'session-node-2', { sessionSlots: 8, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping' });
    const res = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: `${EYE}x${EYE}` } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.nodeId).toBe(liar.id);
    const sessionId = res.body.sessionId as string;
    const posted = await call<SessionSampleView>(h.url, 'POST', `/v1/sessions/${sessionId}/samples`, { json: await signedFrame(sessionId, RED, fromBase64Url(liar.reg.ticketSecret!)) });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    // No GET of the sample or the session from here on (those move a sample on too): only the nodes' own calls.
    await renderReference(refs[0], GREEN);
    // The first reference's end queued the second (for neither the session's node nor the first reference's).
    expect(await refs[0].lease(0)).toBeNull();
    await renderReference(refs[1], GREEN);
    expect(await reputation(liar)).toMatchObject({ blocklisted: { reason: expect.stringMatching(/disproven/) } });
    for (const r of refs) expect(await reputation(r)).toMatchObject({ blocklisted: null });
    // The store holds the verdict already (read now, after the fact) and the session is closed.
    const asked = Date.now();
    const v = await sample(sessionId, posted.body.sampleId);
    expect(v).toMatchObject({ state: 'disproven', referenceNodes: [refs[0].id, refs[1].id] });
    expect(v.updatedAt).toBeLessThanOrEqual(asked);
    expect((await call(h.url, 'GET', `/v1/sessions/${sessionId}`)).body).toMatchObject({ state: 'closed', closeReason: expect.stringMatching(/disproven/) });
  });
});
