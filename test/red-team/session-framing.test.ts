/**
 * Red team: framing an honest session node (api/core/session-verification.ts, session-vote-trust.ts). A session
 * frame is disproven when two reference nodes both disagree with it and agree with each other; two colluding nodes
 * handed a sample's references could draw the same wrong picture and get an honest node blocklisted. Real API and
 * s3rver, scripted nodes (the colluders deliver what they like):
 * - two fresh identities cannot convict a node with a verified record: `inconclusive`, nobody blamed;
 * - two established nodes registered with one join token (one operator) cannot convict another operator's node;
 * - …but one operator's nodes still convict that operator's own liar (a small farm of one operator works);
 * - a fresh liar is still convicted by fresh references (a new farm works).
 * And the networks registrations are grouped by (node-origin.ts).
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiKeyCreated } from '../../api/protocol/api-keys.ts';
import type { JobStatus, SceneUploaded } from '../../api/protocol/job-status.ts';
import { NodeList } from '../../api/protocol/latency.ts';
import { NodeRegistered } from '../../api/protocol/node-messages.ts';
import type { SessionSampleView } from '../../api/protocol/session-sample.ts';
import { fromBase64Url } from '../../api/protocol/session-ticket.ts';
import { addressNetwork } from '../../api/core/node-origin.ts';
import { call, fakePng, nodeCard, startHarness, TestNode, type Harness } from '../support/api-harness.ts';
import { scenePath } from '../support/renderer.ts';
import { GREEN, RED, renderReference, signedFrame } from '../support/session-samples.ts';

const EYE = 64;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A harness where one verified result ends probation (so tests can give nodes records cheaply). */
async function setup(api: object = {}) {
  h = await startHarness({ api: { verification: { sampleRate: 1, seed: 'framing' }, trust: { probationResults: 1, probationSampleRate: 1 }, ...api } });
  const harness = h;
  const sceneId = (await call<SceneUploaded>(harness.url, 'POST', '/v1/scenes', { body: new Uint8Array(await readFile(scenePath('textured-pbr'))), type: 'model/gltf-binary' })).body.sceneId;
  const keys: Record<string, string> = {};
  /** A join token of `operator` (made once). */
  const joinToken = async (operator: string) => {
    if (!keys[operator]) {
      const res = await call<ApiKeyCreated>(harness.url, 'POST', '/v1/keys', { json: { name: operator, role: 'node' } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      keys[operator] = res.body.key;
    }
    return keys[operator];
  };
  /** Register a node (with `operator`'s join token when given); session nodes serve sessions, references draw poses. */
  const node = async (name: string, opts: { operator?: string; session?: boolean; reference?: boolean } = {}) => {
    const card = { ...nodeCard(name), ...(opts.session ? { sessionSlots: 4, sessionUrl: 'ws://127.0.0.1:9/', probeUrl: 'http://127.0.0.1:9/ping' } : {}), ...(opts.reference === false ? {} : { renderFeatures: ['view-pose'] }) };
    const res = await call(harness.url, 'POST', '/v1/nodes', { json: card, token: opts.operator ? await joinToken(opts.operator) : undefined });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const n = new TestNode(harness, NodeRegistered.parse(res.body));
    expect(await n.lease(0)).toBeNull(); // running nodes ask for work (only they may verify)
    return n;
  };
  /** `subject` earns a verified record: it renders a batch frame and `witness` (no reference: it draws no poses) re-renders it alike. */
  const establish = async (subject: TestNode, witness: TestNode) => {
    const job = await call(harness.url, 'POST', '/v1/jobs', { json: { sceneId, size: '16x16', frames: '0' } });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    const jobId = job.body.jobId as string;
    for (const n of [subject, witness]) {
      const t = await n.lease(0);
      expect(t, `${n.id} leases`).not.toBeNull();
      expect((await n.finish(t!, fakePng('the right pixels'))).status).toBe(200);
    }
    expect((await call<JobStatus>(harness.url, 'GET', `/v1/jobs/${jobId}`)).body.state).toBe('done');
    expect((await view(subject)).trust!.probation).toBe(false);
  };
  const view = async (n: TestNode) => NodeList.parse((await call(harness.url, 'GET', '/v1/nodes')).body).nodes.find((v) => v.nodeId === n.id)!;
  let seq = 0;
  /** Open a session on `on` (`others` excluded) and report a RED frame it signed: the sample's ids. */
  const report = async (on: TestNode, others: TestNode[]) => {
    const res = await call(harness.url, 'POST', '/v1/sessions', { json: { sceneId, eye: `${EYE}x${EYE}`, excludeNodes: others.map((o) => o.id) } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.nodeId).toBe(on.id);
    const sessionId = res.body.sessionId as string;
    const posted = await call<SessionSampleView>(harness.url, 'POST', `/v1/sessions/${sessionId}/samples`, { json: await signedFrame(sessionId, ++seq, RED, fromBase64Url(on.reg.ticketSecret!), EYE) });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    return { sessionId, sampleId: posted.body.sampleId };
  };
  const sample = async (ids: { sessionId: string; sampleId: string }) => (await call<SessionSampleView>(harness.url, 'GET', `/v1/sessions/${ids.sessionId}/samples/${ids.sampleId}`)).body;
  /** Report a RED frame of `on`, have `refs` draw GREEN: the sample and its session. */
  const frame = async (on: TestNode, others: TestNode[], refs: [TestNode, TestNode]) => {
    const ids = await report(on, others);
    await renderReference(refs[0], GREEN, EYE);
    await renderReference(refs[1], GREEN, EYE);
    const session = (await call(harness.url, 'GET', `/v1/sessions/${ids.sessionId}`)).body;
    return { sample: await sample(ids), session };
  };
  return { node, establish, view, report, sample, frame };
}

describe('framing an honest session node', () => {
  it('two fresh identities cannot convict a node with a verified record', async () => {
    const s = await setup();
    const witness = await s.node('witness', { reference: false });
    const honest = await s.node('honest', { session: true });
    await s.establish(honest, witness);
    const [c1, c2] = [await s.node('colluder-1'), await s.node('colluder-2')];
    const { sample, session } = await s.frame(honest, [], [c1, c2]);
    expect(sample).toMatchObject({ state: 'inconclusive', referenceNodes: [c1.id, c2.id], reason: expect.stringMatching(/on probation.*nobody is blamed/) });
    expect((await s.view(honest)).reputation).toMatchObject({ blocklisted: null, disproven: 0 });
    expect(session.state).not.toBe('closed');
  });

  it('two established nodes of one operator (one join token) cannot convict another operator\'s node', async () => {
    const s = await setup({ requireJoinToken: true });
    const witness = await s.node('witness', { operator: 'op-w', reference: false });
    const honest = await s.node('honest', { operator: 'op-y', session: true });
    const [c1, c2] = [await s.node('colluder-1', { operator: 'op-x' }), await s.node('colluder-2', { operator: 'op-x' })];
    await s.establish(honest, witness);
    await s.establish(c1, witness);
    await s.establish(c2, witness);
    const { sample, session } = await s.frame(honest, [], [c1, c2]);
    expect(sample).toMatchObject({ state: 'inconclusive', reason: expect.stringMatching(/share a join token .* one voice; nobody is blamed/) });
    expect((await s.view(honest)).reputation).toMatchObject({ blocklisted: null, disproven: 0 });
    expect(session.state).not.toBe('closed');
  });

  it('the second reference goes to another operator\'s node when one is healthy: the colluder is passed over, the frame agreed', async () => {
    const s = await setup({ requireJoinToken: true });
    const witness = await s.node('witness', { operator: 'op-w', reference: false });
    const honest = await s.node('honest', { operator: 'op-y', session: true });
    const [c1, c2, other] = [await s.node('colluder-1', { operator: 'op-x' }), await s.node('colluder-2', { operator: 'op-x' }), await s.node('other', { operator: 'op-z' })];
    for (const n of [honest, c1, c2, other]) await s.establish(n, witness);
    const sample = await s.report(honest, []);
    await renderReference(c1, GREEN, EYE);
    // The second reference is not c2's to take (it shares c1's join token, which the honest node does not)...
    expect(await c2.lease(0)).toBeNull();
    // ...but the other operator's: it draws what the honest node streamed.
    await renderReference(other, RED, EYE);
    expect(await s.sample(sample)).toMatchObject({ state: 'agreed', referenceNodes: [c1.id, other.id] });
    expect((await s.view(honest)).reputation).toMatchObject({ blocklisted: null, disproven: 0 });
  });

  it('one operator\'s nodes still convict that operator\'s own liar, and fresh references a fresh liar', async () => {
    const s = await setup({ requireJoinToken: true });
    const witness = await s.node('witness', { operator: 'op-w', reference: false });
    const liar = await s.node('liar', { operator: 'op-x', session: true });
    const [r1, r2] = [await s.node('ref-1', { operator: 'op-x' }), await s.node('ref-2', { operator: 'op-x' })];
    await s.establish(liar, witness);
    await s.establish(r1, witness);
    await s.establish(r2, witness);
    const own = await s.frame(liar, [], [r1, r2]);
    expect(own.sample).toMatchObject({ state: 'disproven' });
    expect((await s.view(liar)).reputation!.blocklisted).toMatchObject({ reason: expect.stringMatching(/disproven/) });
    expect(own.session).toMatchObject({ state: 'closed' });

    // A new liar (no record, another operator): fresh references of a third operator convict it.
    const fresh = await s.node('fresh-liar', { operator: 'op-z', session: true });
    const [f1, f2] = [await s.node('fresh-1', { operator: 'op-f1' }), await s.node('fresh-2', { operator: 'op-f2' })];
    const next = await s.frame(fresh, [], [f1, f2]);
    expect(next.sample).toMatchObject({ state: 'disproven', referenceNodes: [f1.id, f2.id] });
    expect((await s.view(fresh)).reputation!.blocklisted).not.toBeNull();
  });
});

describe('registration networks', () => {
  it('groups IPv4 by /24 and IPv6 by /48; anything else is unknown', () => {
    expect(addressNetwork('203.0.113.7')).toBe('203.0.113.0/24');
    expect(addressNetwork('::ffff:203.0.113.200')).toBe('203.0.113.0/24');
    expect(addressNetwork('203.0.114.7')).not.toBe(addressNetwork('203.0.113.7'));
    expect(addressNetwork('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48');
    expect(addressNetwork('2001:0db8:abcd:ffff:1:2:3:4')).toBe('2001:db8:abcd::/48');
    expect(addressNetwork('2001:db8:abce::1')).not.toBe(addressNetwork('2001:db8:abcd::1'));
    expect(addressNetwork('::1')).toBe('0:0:0::/48');
    // IPv4 in any IPv6 spelling groups with that IPv4.
    expect(addressNetwork('::ffff:cb00:7107')).toBe('203.0.113.0/24');
    expect(addressNetwork('[0:0:0:0:0:ffff:203.0.113.9]')).toBe('203.0.113.0/24');
    for (const bad of ['unknown', '', '999.1.1.1', 'example.com', '1:2:3:4:5:6:7:8:9', '12345::1']) expect(addressNetwork(bad), bad).toBe('unknown');
  });
});
