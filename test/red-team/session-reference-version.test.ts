/**
 * A session frame's reference render goes only to nodes that honour ViewSpec `pose` (api/core/session-verification.ts).
 * The attack it closes: a node of an older Tessera strips the `pose` it does not know and draws the job's camera (the
 * session's start view); two such nodes agree with each other against an honest frame of any other pose, and the
 * honest node would be blocklisted. Scripted nodes here: the "old" ones register cards without the `view-pose` render
 * feature (as older nodes do) and would deliver the start view if they were given a reference.
 * - With no other node that lists `view-pose`, a sample is refused 422 SAMPLE_UNVERIFIABLE and nothing is queued.
 * - With one such node, it renders the reference; when it disagrees and no second one exists, the sample is
 *   `inconclusive` at once, no old node is asked, nobody is blamed.
 * - With a second one, the second opinion goes to it, never to an old node.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SceneUploaded } from '../../api/protocol/job-status.ts';
import type { NodeList } from '../../api/protocol/latency.ts';
import { FRAME_MAC_PURPOSE, frameMacMessage, type SessionSampleView } from '../../api/protocol/session-sample.ts';
import { stereoPose } from '../../api/protocol/session-pose.ts';
import { fromBase64Url } from '../../api/protocol/session-ticket.ts';
import { call, startHarness, TestNode, type Harness } from '../support/api-harness.ts';
import { expectError } from '../support/expect-error.ts';
import { scenePath } from '../support/renderer.ts';

const EYE = 64;
let h: Harness;
let sceneId: string;
let sessionNode: TestNode;
let old: TestNode[];
let ref1: TestNode;

beforeAll(async () => {
  h = await startHarness();
  sceneId = (await call<SceneUploaded>(h.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('textured-pbr'))), type: 'model/gltf-binary' })).body.sceneId;
  sessionNode = await TestNode.register(h, 'session-node', { sessionSlots: 8, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping', sessionFeatures: ['depth', 'fast'], renderFeatures: ['view-pose'] });
  // Cards as nodes of an older Tessera send them: no renderFeatures (a newer feature they do not have is no help either).
  old = [await TestNode.register(h, 'old-1'), await TestNode.register(h, 'old-2', { renderFeatures: ['some-other-feature'] })];
}, 60_000);
afterAll(async () => h?.close());

type Rgb = [number, number, number];
const solid = (width: number, rgb: Rgb) => sharp({ create: { width, height: EYE, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
const RED: Rgb = [200, 30, 30], GREEN: Rgb = [30, 200, 30];

async function openSession(): Promise<string> {
  const res = await call(h.url, 'POST', '/v1/sessions', { json: { sceneId, eye: `${EYE}x${EYE}` } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.nodeId).toBe(sessionNode.id);
  return res.body.sessionId;
}

let seq = 0;
/** A frame of `rgb` as the session's node sends it: JPEG, both eyes, signed with the node's secret. */
async function signedFrame(sessionId: string, rgb: Rgb) {
  const image = new Uint8Array(await solid(2 * EYE, rgb).jpeg({ quality: 90 }).toBuffer());
  const eyes = stereoPose([0, 1, 3], [0, 0, 0]);
  const s = ++seq;
  const key = createHmac('sha256', fromBase64Url(sessionNode.reg.ticketSecret!)).update(FRAME_MAC_PURPOSE).digest();
  const mac = createHmac('sha256', key).update(frameMacMessage({ sessionId, seq: s, eyes, width: 2 * EYE, height: EYE, format: 'jpeg', imageSha256: createHash('sha256').update(image).digest('hex') })).digest('base64url');
  return { seq: s, eyes, width: 2 * EYE, height: EYE, format: 'jpeg', image: Buffer.from(image).toString('base64'), mac };
}

const postSample = async (sessionId: string, rgb: Rgb) => call<SessionSampleView>(h.url, 'POST', `/v1/sessions/${sessionId}/samples`, { json: await signedFrame(sessionId, rgb) });
const sample = async (sessionId: string, id: string) => (await call<SessionSampleView>(h.url, 'GET', `/v1/sessions/${sessionId}/samples/${id}`)).body;
const reputation = async (node: TestNode) => (await call<NodeList>(h.url, 'GET', '/v1/nodes')).body.nodes.find((n) => n.nodeId === node.id)!.reputation;

/** `node` leases the waiting reference render (a pose to draw) and delivers a picture of `rgb`. */
async function renderReference(node: TestNode, rgb: Rgb): Promise<void> {
  const task = await node.lease(0);
  expect(task, `${node.id} leases the reference`).not.toBeNull();
  expect(task!.view.pose).toBeDefined();
  const res = await node.finish(task!, new Uint8Array(await solid(EYE, rgb).png().toBuffer()));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** Old nodes are never handed a reference render (they would draw the start view and agree with each other). */
async function oldNodesGetNothing(): Promise<void> {
  for (const n of old) expect(await n.lease(0), `${n.id} (no view-pose) leases nothing`).toBeNull();
}

async function nobodyBlamed(sessionId: string): Promise<void> {
  for (const n of [sessionNode, ...old]) expect(await reputation(n)).toMatchObject({ blocklisted: null });
  expect((await call(h.url, 'GET', `/v1/sessions/${sessionId}`)).body.state).not.toBe('closed');
}

describe('session frame references: only nodes that honour ViewSpec.pose', () => {
  it('only older nodes besides the session\'s: the sample is unverifiable, nothing queued, nobody blamed', async () => {
    const sessionId = await openSession();
    const res = await postSample(sessionId, RED);
    expectError(res, 'SAMPLE_UNVERIFIABLE');
    expect(JSON.stringify(res.body)).toMatch(/view-pose/);
    await oldNodesGetNothing();
    await nobodyBlamed(sessionId);
  });

  it('one capable node disagrees and no second exists: inconclusive at once, old nodes never asked, nobody blamed', async () => {
    ref1 = await TestNode.register(h, 'ref-1', { renderFeatures: ['view-pose'] });
    const sessionId = await openSession();
    const res = await postSample(sessionId, RED);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await oldNodesGetNothing();
    await renderReference(ref1, GREEN);
    const v = await sample(sessionId, res.body.sampleId);
    expect(v).toMatchObject({ state: 'inconclusive', referenceNodes: [ref1.id], reason: expect.stringMatching(/view-pose/) });
    await oldNodesGetNothing();
    expect(await ref1.lease(0)).toBeNull();
    await nobodyBlamed(sessionId);
    expect(await reputation(ref1)).toMatchObject({ blocklisted: null });
  });

  it('a second capable node gives the second opinion; old nodes still get nothing', async () => {
    const ref2 = await TestNode.register(h, 'ref-2', { renderFeatures: ['view-pose'] });
    const sessionId = await openSession();
    const res = await postSample(sessionId, RED);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await oldNodesGetNothing();
    // ref-2 leases the first reference and disagrees; the second opinion must go to ref-1.
    const first = await ref2.lease(0);
    expect(first?.view.pose).toBeDefined();
    expect((await ref2.finish(first!, new Uint8Array(await solid(EYE, GREEN).png().toBuffer()))).status).toBe(200);
    expect((await sample(sessionId, res.body.sampleId)).state).toBe('second-opinion');
    await oldNodesGetNothing();
    expect(await ref2.lease(0)).toBeNull();
    await renderReference(ref1, RED);
    expect(await sample(sessionId, res.body.sampleId)).toMatchObject({ state: 'agreed', referenceNodes: [ref2.id, ref1.id] });
    await nobodyBlamed(sessionId);
  });
});
