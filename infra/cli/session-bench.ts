/**
 * The session bench behind `tessera session bench` and `npm run bench:vr`: open session(s) through the API,
 * stream a smooth head motion at 90 Hz for a while, decode every frame (as a headset app must), and measure
 * sustained fps, pose → frame-decoded latency (p50/p95), dropped poses (sent, never answered) and the node.
 */
import sharp from 'sharp';
import { createTesseraClient, decodeDepth, type InteractiveSession, type SessionFrame } from '../../api/client/index.ts';
import { orbitPosition, stereoPose } from '../../api/protocol/session-pose.ts';
import type { SessionFidelity, SessionFormat } from '../../api/protocol/session.ts';

export interface SessionBenchOptions {
  api: string;
  apiKey?: string;
  /** A scene id already uploaded (or upload `sceneBytes`). */
  sceneId: string;
  eye: string;
  seconds: number;
  sessions: number;
  format: SessionFormat;
  quality?: number;
  /** Shadow maps in the sessions (default true, the API's default). */
  shadows?: boolean;
  /** Ask for depth frames, and decode each one as a client would (default false). */
  depth?: boolean;
  /** The sessions' look: `full` (the API's default, the batch render's look) or `fast` (SessionFidelity). */
  fidelity?: SessionFidelity;
  /** Pose rate (Hz). */
  poseHz?: number;
  /** RTTs to pass instead of probing (e.g. none). */
  probe?: boolean;
  /** CPU time (ms) so far of the render node's processes, when the caller can tell (bench:vr: the node it started). */
  serverCpuMs?: () => number;
  /** A WebSocket class (tests: one that trusts a certificate). */
  WebSocket?: never;
}

/**
 * Where a frame's time went, per stage (ms), pose sent → frame decoded: `uplink` (client send → node receive),
 * `queue` (node: waiting for the render process), `ipc` (both hops to the render process and its event loop),
 * `render` (draw + readback), `encode`, `node` (the node's own handling besides those), `downlink` (frame handed to
 * the socket → client receive: ws send, network/proxy, the client's event loop), `decodeWait` (received → decode
 * started), `decode`. uplink/downlink compare the node's and this client's clocks: exact only on one host (the bench).
 */
export const STAGES = ['uplink', 'queue', 'ipc', 'render', 'encode', 'node', 'downlink', 'decodeWait', 'decode'] as const;
export type Stage = (typeof STAGES)[number];
export type StageBreakdown = Record<Stage | 'total', { p50: number | null; mean: number | null }>;

export interface SessionBenchResult {
  fps: number;
  p50Ms: number | null;
  p95Ms: number | null;
  frames: number;
  dropped: number;
  nodeId: string;
  /** Per-stage breakdown over every session's frames. */
  stages: StageBreakdown;
  /** CPU time of this (client) process per decoded frame (ms), over the measuring window (bench:vr: with the API and the delay proxy). */
  clientCpuMsPerFrame: number | null;
  /** CPU time of the render node's processes per decoded frame (ms), when `serverCpuMs` was given. */
  serverCpuMsPerFrame: number | null;
  sessions: { nodeId: string; fps: number; p50Ms: number | null; p95Ms: number | null; frames: number; dropped: number; posesSent: number; serverP50Ms: number | null; stages: StageBreakdown }[];
}

function breakdown(samples: readonly Record<Stage | 'total', number>[]): StageBreakdown {
  const out = {} as StageBreakdown;
  for (const k of [...STAGES, 'total'] as const) {
    const xs = samples.map((x) => x[k]).filter((x) => Number.isFinite(x));
    out[k] = { p50: round(percentile(xs, 0.5), 2), mean: xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 2) : null };
  }
  return out;
}

function percentile(values: readonly number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Longest the bench waits for a session's first frame. */
const WARM_UP_TIMEOUT_MS = 120_000;

const round = (x: number | null, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

/** Run the bench; sessions run at once. */
export async function runSessionBench(o: SessionBenchOptions): Promise<SessionBenchResult> {
  const client = createTesseraClient({ baseUrl: o.api, apiKey: o.apiKey });
  const hz = o.poseHz ?? 90;
  const opened: InteractiveSession[] = [];
  try {
    for (let i = 0; i < o.sessions; i++) {
      opened.push(await client.openSession({ request: { sceneId: o.sceneId, eye: o.eye, format: o.format, quality: o.quality ?? 80, shadows: o.shadows ?? true, depth: o.depth ?? false, fidelity: o.fidelity ?? 'full', maxFps: 240, ...(o.probe === false ? { client: { rtts: [] } } : {}) }, probe: o.probe, WebSocket: o.WebSocket }));
    }
    // Every session warms up first, then all measure together (CPU time is taken over the measuring window).
    let startMeasuring!: () => void;
    const measureGate = new Promise<void>((r) => (startMeasuring = r));
    const warmedUp: Promise<void>[] = [];
    const runs = opened.map(async (session, i) => {
      let warmed!: () => void;
      warmedUp[i] = new Promise<void>((r) => (warmed = r));
      const { position, target, fov } = session.ready.start;
      const [ew, eh] = o.eye.split('x').map(Number);
      const pose = (t: number) => ({ eyes: stereoPose(orbitPosition(position, target, t, 25, 0.2), target, { fov, aspect: ew / eh }) });
      // Warm-up: the first frame (scene upload to the GPU, shader compiles) is not what a headset sees later.
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          off();
          clearInterval(warm);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
        const off = session.onFrame(() => done());
        const warm = setInterval(() => session.sendPose(pose(0)), 100);
        const timer = setTimeout(() => done(new Error(`no first frame within ${WARM_UP_TIMEOUT_MS / 1000} s`)), WARM_UP_TIMEOUT_MS);
        void session.closed.then((c) => done(new Error(`the session closed before its first frame (${c.code} ${c.reason})`)));
        session.sendPose(pose(0));
      });
      warmed();
      await measureGate;
      const latencies: number[] = [];
      const samples: Record<Stage | 'total', number>[] = [];
      let frames = 0;
      let measuring = true;
      const sent = new Map<number, number>();
      const decodes: Promise<void>[] = [];
      const off = session.onFrame((f: SessionFrame) => {
        if (!measuring) return;
        const sentAt = sent.get(f.header.seq);
        if (sentAt === undefined) return;
        const decodeStart = performance.now();
        decodes.push(
          Promise.all([sharp(f.image).raw().toBuffer(), o.depth && f.depth ? decodeDepth(f.depth) : null]).then(() => {
            const now = performance.now();
            latencies.push(now - sentAt);
            frames++;
            const t = f.header.timings;
            const held = t.nodeOutAt !== undefined && t.nodeInAt !== undefined ? t.nodeOutAt - t.nodeInAt : NaN;
            samples.push({
              uplink: t.nodeInAt !== undefined ? t.nodeInAt - (performance.timeOrigin + sentAt) : NaN,
              queue: t.queueMs,
              ipc: t.ipcMs ?? NaN,
              render: t.renderMs,
              encode: t.encodeMs,
              node: held - t.queueMs - (t.ipcMs ?? 0) - t.renderMs - t.encodeMs,
              downlink: t.nodeOutAt !== undefined ? performance.timeOrigin + f.receivedAt - t.nodeOutAt : NaN,
              decodeWait: decodeStart - f.receivedAt,
              decode: now - decodeStart,
              total: now - sentAt,
            });
          }),
        );
      });
      const t0 = performance.now();
      let posesSent = 0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const t = (performance.now() - t0) / 1000;
          if (t >= o.seconds) {
            clearInterval(timer);
            return resolve();
          }
          const seq = session.sendPose(pose(t));
          sent.set(seq, performance.now());
          posesSent++;
        }, 1000 / hz);
      });
      // Frames for the last poses may still be on their way.
      await new Promise((r) => setTimeout(r, 300));
      measuring = false;
      off();
      await Promise.all(decodes);
      const elapsed = (performance.now() - t0 - 300) / 1000;
      const server = await client.getSession(session.sessionId).catch(() => null);
      return {
        nodeId: session.nodeId,
        fps: round(frames / elapsed)!,
        p50Ms: round(percentile(latencies, 0.5)),
        p95Ms: round(percentile(latencies, 0.95)),
        frames,
        dropped: posesSent - frames,
        posesSent,
        serverP50Ms: round(server?.stats.p50Ms ?? null),
        stages: breakdown(samples),
        samples,
      };
    });
    // Failing runs reject before the gate; a run that fails makes Promise.all reject below.
    const allRuns = Promise.all(runs);
    allRuns.catch(() => {});
    await Promise.race([Promise.all(warmedUp), allRuns]);
    const cpu0 = process.cpuUsage();
    const server0 = o.serverCpuMs?.() ?? null;
    startMeasuring();
    const perWithSamples = await allRuns;
    const cpu = process.cpuUsage(cpu0);
    const serverCpu = server0 !== null ? o.serverCpuMs!() - server0 : null;
    const per = perWithSamples.map(({ samples: _, ...p }) => p);
    const all = per;
    const totalFrames = all.reduce((s, p) => s + p.frames, 0);
    return {
      fps: round(all.reduce((s, p) => s + p.fps, 0) / all.length)!,
      // Sessions that got no frame in the window have no latency; one that got none at all makes the figure null.
      p50Ms: all.some((p) => p.p50Ms === null) ? null : round(percentile(all.map((p) => p.p50Ms!), 0.5)),
      p95Ms: all.some((p) => p.p95Ms === null) ? null : round(Math.max(...all.map((p) => p.p95Ms!))),
      frames: all.reduce((s, p) => s + p.frames, 0),
      dropped: all.reduce((s, p) => s + p.dropped, 0),
      nodeId: [...new Set(all.map((p) => p.nodeId))].join(','),
      stages: breakdown(perWithSamples.flatMap((p) => p.samples)),
      clientCpuMsPerFrame: totalFrames ? round((cpu.user + cpu.system) / 1000 / totalFrames, 2) : null,
      serverCpuMsPerFrame: totalFrames && serverCpu !== null ? round(serverCpu / totalFrames, 2) : null,
      sessions: per,
    };
  } finally {
    await Promise.all(opened.map((s) => s.close().catch(() => {})));
  }
}
