/**
 * The SessionStore contract: one suite every session store passes (SQLite on Node, the coordinator Durable
 * Object in workerd). Time is passed in explicitly.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionRecord, SessionSampleRecord, SessionStore } from '../../api/core/session-store.ts';
import type { JobStore } from '../../api/core/job-store.ts';
import { EMPTY_SESSION_STATS } from '../../api/protocol/session.ts';

export interface SessionStoreFixture {
  sessions: SessionStore;
  /** The job store on the same data (the ledger is shared). */
  jobs: JobStore;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

export function sessionRecord(id: string, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    sessionId: id,
    sceneId: 'b'.repeat(64),
    owner: 'key_a',
    nodeId: 'node_a',
    state: 'placed',
    render: {
      eye: { width: 512, height: 512 }, format: 'jpeg', quality: 80, depth: false, shadows: true, maxFps: 90, toneMapping: 'neutral', exposure: 1,
      background: 'environment', environmentIntensity: 1, keyLight: 'auto', camera: { kind: 'auto', yaw: 30, pitch: 15, fov: 40 },
    },
    route: { nodeId: 'node_a', fallbackId: null, predictedRttMs: 5, rttSource: 'measured', sceneLoadMs: 0, sceneCached: true, renderMs: 4, queueMs: 0, firstFrameMs: 9, reason: 'test' },
    url: 'ws://127.0.0.1:1/v1/sessions/' + id,
    leaseId: null,
    connectBy: T0 + 60_000,
    createdAt: T0,
    updatedAt: T0,
    closedAt: null,
    closeReason: null,
    stats: EMPTY_SESSION_STATS,
    ...over,
  };
}

export function describeSessionStoreContract(name: string, open: () => Promise<SessionStoreFixture>): void {
  describe(`SessionStore contract: ${name}`, () => {
    let f: SessionStoreFixture;
    beforeEach(async () => {
      f = await open();
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('creates, counts per owner and per node, and leases the oldest placed session to its node only', async () => {
      await f.sessions.createSession(sessionRecord('ses_1'));
      await f.sessions.createSession(sessionRecord('ses_2', { createdAt: T0 + 1 }));
      await f.sessions.createSession(sessionRecord('ses_3', { nodeId: 'node_b', owner: 'key_b' }));
      expect(await f.sessions.countOpenSessions('key_a')).toBe(2);
      expect(await f.sessions.countNodeSessions()).toEqual({ node_a: 2, node_b: 1 });
      expect(await f.sessions.leaseSession({ nodeId: 'node_c', leaseId: 'l0', now: T0 })).toBeNull();
      const leased = await f.sessions.leaseSession({ nodeId: 'node_a', leaseId: 'l1', now: T0 + 5 });
      expect(leased?.session).toMatchObject({ sessionId: 'ses_1', state: 'starting', leaseId: 'l1' });
      expect(leased?.changes).toEqual([expect.objectContaining({ entity: 'session', id: 'ses_1', from: 'placed', to: 'starting' })]);
      expect((await f.sessions.leaseSession({ nodeId: 'node_a', leaseId: 'l2', now: T0 + 6 }))?.session.sessionId).toBe('ses_2');
      expect(await f.sessions.leaseSession({ nodeId: 'node_a', leaseId: 'l3', now: T0 + 7 })).toBeNull();
      expect(await f.sessions.nodesWithScene('b'.repeat(64))).toEqual(['node_a']);
    });

    it('goes live on a report with frames, keeps stats monotonic, revokes other nodes\' and closed sessions', async () => {
      await f.sessions.createSession(sessionRecord('ses_1'));
      await f.sessions.leaseSession({ nodeId: 'node_a', leaseId: 'l1', now: T0 });
      const stats = { frames: 10, dropped: 2, skipped: 1, p50Ms: 12, p95Ms: 20, renderMs: 80 };
      const r1 = await f.sessions.reportSessions({ nodeId: 'node_a', reports: [{ sessionId: 'ses_1', state: 'open', stats }], now: T0 + 1000 });
      expect(r1.changes.map((c) => c.to)).toEqual(['open']);
      // A node cannot take back frames, nor report on another node's session or an unknown one.
      const r2 = await f.sessions.reportSessions({
        nodeId: 'node_b',
        reports: [{ sessionId: 'ses_1', state: 'open', stats: { ...stats, frames: 99999 } }, { sessionId: 'ses_nope', state: 'open', stats }],
        now: T0 + 2000,
      });
      expect(r2.revoked.sort()).toEqual(['ses_1', 'ses_nope']);
      await f.sessions.reportSessions({ nodeId: 'node_a', reports: [{ sessionId: 'ses_1', state: 'open', stats: { ...stats, frames: 3 } }], now: T0 + 3000 });
      expect((await f.sessions.getSession('ses_1'))!.stats.frames).toBe(10);
      const closed = await f.sessions.closeSession({ sessionId: 'ses_1', reason: 'DELETE', now: T0 + 4000 });
      expect(closed?.session).toMatchObject({ state: 'closed', closedAt: T0 + 4000, closeReason: 'DELETE' });
      expect((await f.sessions.closeSession({ sessionId: 'ses_1', reason: 'again', now: T0 + 5000 }))?.changes).toEqual([]);
      const r3 = await f.sessions.reportSessions({ nodeId: 'node_a', reports: [{ sessionId: 'ses_1', state: 'open', stats }], now: T0 + 6000 });
      expect(r3.revoked).toEqual(['ses_1']);
      expect(await f.sessions.closeSession({ sessionId: 'ses_x', reason: 'x', now: T0 })).toBeNull();
    });

    it('writes the session\'s render time to the shared ledger when it closes', async () => {
      await f.sessions.createSession(sessionRecord('ses_1'));
      await f.sessions.leaseSession({ nodeId: 'node_a', leaseId: 'l1', now: T0 });
      await f.sessions.reportSessions({ nodeId: 'node_a', reports: [{ sessionId: 'ses_1', state: 'closed', reason: 'client left', stats: { frames: 100, dropped: 0, skipped: 0, p50Ms: 10, p95Ms: 15, renderMs: 1500 } }], now: T0 + 9000 });
      const s = await f.sessions.getSession('ses_1');
      expect(s).toMatchObject({ state: 'closed', closeReason: 'node: client left' });
      const ledger = await f.jobs.listLedger({ nodeId: 'node_a' });
      expect(ledger).toEqual([expect.objectContaining({ kind: 'session', taskId: 'ses_1', jobId: 'ses_1', renderSeconds: 1.5, tiles: 100, state: 'credited', megapixels: (100 * 512 * 512 * 2) / 1e6 })]);
    });

    it('forfeits a session\'s credit when its node is proven a liar (blocklisted)', async () => {
      const card = { name: 'a', region: 'eu', version: '1', cpu: { model: 'c', cores: 4 }, ramBytes: 1, gl: { renderer: 'r', vendor: 'v', version: '1', maxTextureSize: 1, maxViewport: [1, 1] as [number, number] }, tilesPerSecond: 2, concurrency: 1 };
      await f.jobs.registerNode({ nodeId: 'node_a', tokenHash: 'a'.repeat(64), card, registeredAt: T0, lastSeenAt: T0, load: 0 });
      await f.sessions.createSession(sessionRecord('ses_1'));
      await f.sessions.leaseSession({ nodeId: 'node_a', leaseId: 'l1', now: T0 });
      await f.sessions.reportSessions({ nodeId: 'node_a', reports: [{ sessionId: 'ses_1', state: 'closed', reason: 'done', stats: { frames: 10, dropped: 0, skipped: 0, p50Ms: 10, p95Ms: 15, renderMs: 500 } }], now: T0 + 9000 });
      expect((await f.jobs.listLedger({ nodeId: 'node_a' })).map((e) => e.state)).toEqual(['credited']);
      await f.jobs.blocklistNode('node_a', 'forged probe: test', T0 + 10_000);
      expect((await f.jobs.listLedger({ nodeId: 'node_a' })).map((e) => [e.kind, e.state])).toEqual([['session', 'forfeited']]);
    });

    it('keeps samples (at most N per session), advances them only from the state they were read in', async () => {
      await f.sessions.createSession(sessionRecord('ses_1'));
      const sample = (id: string): SessionSampleRecord => ({
        sampleId: id, sessionId: 'ses_1', nodeId: 'node_a', owner: 'key_a', seq: 3, eyes: [{ view: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, -2, 1], projection: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, -1, 0, 0, -0.1, 0] }],
        width: 512, height: 512, format: 'jpeg', imageKey: `session-samples/ses_1/${id}`, state: 'checking', referenceJobs: ['job_1'], referenceNodes: [], referenceKeys: [], diffs: [], reason: null, createdAt: T0, updatedAt: T0,
      });
      expect(await f.sessions.addSample(sample('smp_1'), 2)).toEqual({ ok: true });
      expect(await f.sessions.addSample(sample('smp_2'), 2)).toEqual({ ok: true });
      expect(await f.sessions.addSample(sample('smp_3'), 2)).toEqual({ ok: false, count: 2 });
      expect((await f.sessions.listUnsettledSamples(10)).map((s) => s.sampleId)).toEqual(['smp_1', 'smp_2']);
      const agreed = { ...sample('smp_1'), state: 'agreed' as const, referenceNodes: ['node_b'], diffs: [0.001], updatedAt: T0 + 5 };
      expect(await f.sessions.updateSample(agreed, T0)).toBe(true);
      // Read in a state that is gone: refused, the stored step stands.
      expect(await f.sessions.updateSample({ ...agreed, state: 'inconclusive', updatedAt: T0 + 6 }, T0)).toBe(false);
      expect(await f.sessions.getSample('smp_1')).toEqual(agreed);
      expect((await f.sessions.listUnsettledSamples(10)).map((s) => s.sampleId)).toEqual(['smp_2']);
      expect(await f.sessions.getSample('smp_x')).toBeNull();
    });

    it('a disproven session closes and earns nothing, whether it was open or had closed and been credited', async () => {
      await f.sessions.createSession(sessionRecord('ses_1'));
      await f.sessions.createSession(sessionRecord('ses_2', { createdAt: T0 + 1 }));
      await f.sessions.leaseSession({ nodeId: 'node_a', leaseId: 'l1', now: T0 });
      await f.sessions.leaseSession({ nodeId: 'node_a', leaseId: 'l2', now: T0 });
      const stats = { frames: 10, dropped: 0, skipped: 0, p50Ms: 10, p95Ms: 15, renderMs: 500 };
      await f.sessions.reportSessions({ nodeId: 'node_a', reports: [{ sessionId: 'ses_1', state: 'open', stats }, { sessionId: 'ses_2', state: 'closed', reason: 'done', stats }], now: T0 + 1000 });
      expect((await f.jobs.listLedger({ nodeId: 'node_a' })).map((e) => [e.taskId, e.state])).toEqual([['ses_2', 'credited']]);
      const open = await f.sessions.disproveSession({ sessionId: 'ses_1', reason: 'frame 3 disproven', now: T0 + 2000 });
      expect(open.changes).toEqual([expect.objectContaining({ id: 'ses_1', from: 'open', to: 'closed', reason: 'frame 3 disproven' })]);
      const closed = await f.sessions.disproveSession({ sessionId: 'ses_2', reason: 'frame 9 disproven', now: T0 + 2000 });
      expect(closed.changes).toEqual([]);
      expect((await f.jobs.listLedger({ nodeId: 'node_a' })).map((e) => [e.taskId, e.state]).sort()).toEqual([['ses_1', 'voided'], ['ses_2', 'voided']]);
      expect(await f.sessions.getSession('ses_1')).toMatchObject({ state: 'closed', disproven: true });
    });

    it('expires sessions on silent nodes and sessions nobody connected to', async () => {
      await f.sessions.createSession(sessionRecord('ses_1'));
      await f.sessions.createSession(sessionRecord('ses_2', { nodeId: 'node_b', connectBy: T0 + 1000 }));
      await f.sessions.createSession(sessionRecord('ses_3', { nodeId: 'node_b', connectBy: T0 + 100_000 }));
      const changes = await f.sessions.expireSessions({ now: T0 + 2000, liveNodes: ['node_b'] });
      expect(changes.map((c) => c.id).sort()).toEqual(['ses_1', 'ses_2']);
      expect((await f.sessions.getSession('ses_1'))!.closeReason).toBe('its node went silent');
      expect((await f.sessions.getSession('ses_3'))!.state).toBe('placed');
      expect(await f.sessions.countNodeSessions()).toEqual({ node_b: 1 });
    });
  });
}
