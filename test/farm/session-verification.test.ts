/**
 * Session frames are verified (api/core/session-verification.ts) on a real farm (API, s3rver, three render node
 * processes). The attack: a node that streams every session the first frame it rendered for it, whatever the pose
 * (TESSERA_TEST_FAULT=stale-session: signed like honest frames, cheap to serve). The SDK reports a sampled frame;
 * two other nodes render its pose as batch tasks and agree with each other, not with the frame: the session is
 * closed and its render time voided, the liar blocklisted, and the SDK carries on on an honest node whose frames
 * follow the pose and pass the same check. A client cannot frame an honest node: a frame whose bytes or pose it
 * altered does not carry the node's signature and is refused, blaming nobody. The sample WebXR page reports frames
 * the same way (in real Chromium) and gets its verdict.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTesseraClient, type SessionFrame, type TesseraClient } from '../../api/client/index.ts';
import { bytesToBase64 } from '../../api/protocol/base64-bytes.ts';
import type { SessionSampleView } from '../../api/protocol/session-sample.ts';
import { orbitPosition } from '../../api/protocol/session-pose.ts';
import { TEST_API_KEY, call } from '../support/api-harness.ts';
import { expectError } from '../support/expect-error.ts';
import { waitFor } from '../support/farm-checks.ts';
import { startTestFarm } from '../support/farm.ts';
import { scenePath } from '../support/renderer.ts';
import { frameFor, meanAbsDiff, rgbPixels } from '../support/session-frames.ts';
import { BASE_FLAGS, launchBrowser } from '../web/browser.ts';

let farm: Awaited<ReturnType<typeof startTestFarm>>;
let client: TesseraClient;
let sceneId: string;
let ids: Record<string, string> = {};
const EYE = '160x160';

beforeAll(async () => {
  farm = await startTestFarm({ leaseMs: 3000 });
  client = createTesseraClient({ baseUrl: farm.url, apiKey: TEST_API_KEY });
  sceneId = (await client.uploadScene(new Uint8Array(await readFile(scenePath('textured-pbr'))))).sceneId;
  farm.spawnNode('liar', { concurrency: 1, env: { TESSERA_TEST_FAULT: 'stale-session' } });
  farm.spawnNode('honest-1', { concurrency: 1 });
  farm.spawnNode('honest-2', { concurrency: 1 });
  ids = await waitFor('three nodes', async () => {
    const { nodes } = await client.nodes({ healthy: true });
    if (nodes.length < 3) return undefined;
    return Object.fromEntries(nodes.map((n) => [n.card.name, n.nodeId]));
  }, 120_000);
}, 180_000);

afterAll(async () => {
  await farm?.close();
});

/** The frame with its bytes and header, as a client would report it (for the tampering cases). */
function sampleOf(frame: SessionFrame) {
  const h = frame.header;
  return { seq: h.seq, eyes: h.eyes, width: h.width, height: h.height, format: h.format, image: bytesToBase64(frame.image), mac: h.mac! };
}

describe('session frame verification', () => {
  it('a client cannot pin a picture on an honest node: altered bytes or poses are refused unsigned, nobody blamed', async () => {
    const session = await client.openSession({ request: { sceneId, eye: EYE, excludeNodes: [ids.liar, ids['honest-2']] }, verify: false });
    try {
      expect(session.nodeId).toBe(ids['honest-1']);
      const { position, target } = session.ready.start;
      const a = await frameFor(session, position, target);
      const b = await frameFor(session, orbitPosition(position, target, 1, 70, 0.25), target);
      expect(a.header.mac).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const path = `/v1/sessions/${session.sessionId}/samples`;
      // Another frame's bytes under this frame's pose and signature.
      expectError(await call(farm.url, 'POST', path, { json: { ...sampleOf(a), image: bytesToBase64(b.image) } }), 'SAMPLE_UNSIGNED');
      // This frame's bytes and signature claimed for another pose.
      expectError(await call(farm.url, 'POST', path, { json: { ...sampleOf(a), eyes: b.header.eyes } }), 'SAMPLE_UNSIGNED');
      expectError(await call(farm.url, 'POST', path, { json: { ...sampleOf(a), seq: a.header.seq + 1 } }), 'SAMPLE_UNSIGNED');
      // Bounds: an unknown field, a MAC of the wrong length.
      expectError(await call(farm.url, 'POST', path, { json: { ...sampleOf(a), extra: 1 } }), 'BAD_REQUEST');
      expectError(await call(farm.url, 'POST', path, { json: { ...sampleOf(a), mac: 'x'.repeat(44) } }), 'BAD_REQUEST');

      // The honest frame itself checks out: another node draws the same picture.
      const verdict = await session.verifyFrame(b);
      expect(verdict, JSON.stringify(verdict)).toMatchObject({ state: 'agreed', nodeId: ids['honest-1'] });
      expect(verdict.referenceNodes).toHaveLength(1);
      expect(verdict.referenceNodes[0]).not.toBe(ids['honest-1']);
    } finally {
      await session.close();
    }
    const { nodes } = await client.nodes();
    for (const n of nodes) expect(n.reputation?.blocklisted ?? null, n.card.name).toBeNull();
  }, 240_000);

  it('a node streaming stale frames is disproven by two others, uncredited and blocklisted; the SDK moves to an honest node', async () => {
    const verdicts: SessionSampleView[] = [];
    const onLiar = [ids['honest-1'], ids['honest-2']];
    const session = await client.openSession({
      request: { sceneId, eye: EYE, excludeNodes: onLiar },
      verify: { first: 3, every: 1000, max: 1, pollMs: 300 },
      onVerdict: (v) => {
        if ('sampleId' in v) verdicts.push(v);
      },
    });
    try {
      expect(session.nodeId).toBe(ids.liar);
      // The placement was steered onto the liar; from here any node may take the session (the SDK reads the request's
      // exclusions at each placement).
      onLiar.splice(0);
      const liarSession = session.sessionId;
      const { position, target } = session.ready.start;
      const first = await frameFor(session, position, target);
      const turned = orbitPosition(position, target, 1, 70, 0.25);
      const stale = [await frameFor(session, turned, target), await frameFor(session, turned, target)];
      // The attack works on the wire: the turned pose gets the first picture back.
      expect(Buffer.from(stale[1].image).equals(Buffer.from(first.image))).toBe(true);

      // Frame 3 was reported; two other nodes agree on the picture and not with the liar's.
      const verdict = await waitFor('the verdict', async () => verdicts.find((v) => v.sessionId === liarSession), 180_000);
      expect(verdict, JSON.stringify(verdict)).toMatchObject({ state: 'disproven', nodeId: ids.liar, seq: stale[1].header.seq });
      expect(new Set(verdict.referenceNodes)).toEqual(new Set([ids['honest-1'], ids['honest-2']]));
      expect(Math.min(...verdict.diffs)).toBeGreaterThan(0.03);

      // The liar: blocklisted, its session closed and its render time not credited.
      const liar = (await client.nodes()).nodes.find((n) => n.nodeId === ids.liar)!;
      expect(liar.reputation!.blocklisted).toMatchObject({ reason: expect.stringMatching(/disproven/) });
      const closed = await client.getSession(liarSession);
      expect(closed.state).toBe('closed');
      expect(closed.closeReason).toMatch(/disproven/);
      const ledger = await client.ledger({ node: ids.liar });
      expect(ledger.nodes[0]?.renderSeconds ?? 0).toBe(0);

      // The SDK carried on on an honest node: its frames follow the pose, and check out.
      await waitFor('the SDK to move', async () => (session.nodeId !== ids.liar && session.stats().reopens >= 1 ? true : undefined), 60_000);
      expect([ids['honest-1'], ids['honest-2']]).toContain(session.nodeId);
      const honest = await frameFor(session, turned, target);
      expect(honest.nodeId).not.toBe(ids.liar);
      const [p1, p2] = await Promise.all([rgbPixels(first.image), rgbPixels(honest.image)]);
      expect(meanAbsDiff(p1.data, p2.data)).toBeGreaterThan(5);
      const after = await session.verifyFrame(honest);
      expect(after, JSON.stringify(after)).toMatchObject({ state: 'agreed' });
      expect(after.referenceNodes).not.toContain(ids.liar);
      expect(session.stats().verification).toMatchObject({ disproven: 1, agreed: 1 });
    } finally {
      await session.close();
    }
    // Honest nodes keep their standing.
    const { nodes } = await client.nodes();
    for (const n of nodes.filter((n) => n.nodeId !== ids.liar)) expect(n.reputation?.blocklisted ?? null, n.card.name).toBeNull();
  }, 360_000);

  it('the sample WebXR page reports a frame and gets its verdict', async () => {
    const browser = await launchBrowser(BASE_FLAGS);
    try {
      const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${farm.url}/sample/vr?key=${TEST_API_KEY}&scene=${sceneId}&eye=${EYE}&verifyFirst=3`);
      type V = { reported: number; agreed: number; disproven: number; inconclusive: number; refused: number };
      const verification = () => page.evaluate(() => ({ ...(window as unknown as { tessera: { verification: V } }).tessera.verification }));
      const v = await waitFor('the page\'s verdict', async () => {
        const now = (await page.evaluate(() => (window as unknown as { tessera?: unknown }).tessera)) ? await verification() : null;
        return now && now.agreed + now.disproven + now.inconclusive + now.refused >= 1 ? now : undefined;
      }, 180_000);
      expect(v).toMatchObject({ reported: 1, agreed: 1, disproven: 0, refused: 0 });
      const nodeId = await page.evaluate(() => (window as unknown as { tessera: { nodeId: string } }).tessera.nodeId);
      expect([ids['honest-1'], ids['honest-2']]).toContain(nodeId);
      expect(errors, errors.join('\n')).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 240_000);

  it('nobody polls: a reported stale frame is disproven and its node blocklisted when the references are done', async () => {
    // A liar of its own (the first one is blocklisted by now); the SDK checks nothing and polls nothing.
    farm.spawnNode('liar-2', { concurrency: 1, env: { TESSERA_TEST_FAULT: 'stale-session' } });
    const liar = await waitFor('liar-2', async () => (await client.nodes({ healthy: true })).nodes.find((n) => n.card.name === 'liar-2')?.nodeId, 120_000);
    const session = await client.openSession({ request: { sceneId, eye: EYE, excludeNodes: [ids['honest-1'], ids['honest-2']] }, verify: false });
    let sampleId: string;
    try {
      expect(session.nodeId).toBe(liar);
      const { position, target } = session.ready.start;
      const first = await frameFor(session, position, target);
      const turned = orbitPosition(position, target, 1, 70, 0.25);
      const stale = await frameFor(session, turned, target);
      expect(Buffer.from(stale.image).equals(Buffer.from(first.image))).toBe(true);
      // Reported once, by hand; from here no GET of the sample or of any session (they move samples on too).
      const posted = await call<SessionSampleView>(farm.url, 'POST', `/v1/sessions/${session.sessionId}/samples`, { json: sampleOf(stale) });
      expect(posted.status, JSON.stringify(posted.body)).toBe(201);
      sampleId = posted.body.sampleId;
      // The honest nodes render the pose (the second reference queued when the first one's job ended) and the liar is
      // blocklisted: only the node list is read meanwhile.
      const blocked = await waitFor('the liar blocklisted', async () => (await client.nodes()).nodes.find((n) => n.nodeId === liar)?.reputation?.blocklisted ?? undefined, 240_000);
      expect(blocked.reason).toMatch(/disproven/);
    } finally {
      await session.close().catch(() => {});
    }
    const asked = Date.now();
    const verdict = (await call<SessionSampleView>(farm.url, 'GET', `/v1/sessions/${session.sessionId}/samples/${sampleId!}`)).body;
    expect(verdict).toMatchObject({ state: 'disproven', nodeId: liar });
    expect(verdict.updatedAt).toBeLessThanOrEqual(asked);
    expect(new Set(verdict.referenceNodes)).toEqual(new Set([ids['honest-1'], ids['honest-2']]));
    const ledger = await client.ledger({ node: liar });
    expect(ledger.nodes[0]?.renderSeconds ?? 0).toBe(0);
    const { nodes } = await client.nodes();
    for (const n of nodes.filter((n) => n.card.name.startsWith('honest'))) expect(n.reputation?.blocklisted ?? null, n.card.name).toBeNull();
  }, 420_000);
});
