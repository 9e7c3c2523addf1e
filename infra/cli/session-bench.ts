/**
 * The session bench behind `tessera session bench` and `npm run bench:vr`: open session(s) through the API,
 * stream a smooth head motion at 90 Hz for a while, decode every frame (as a headset app must), and measure
 * sustained fps, pose → frame-decoded latency (p50/p95), dropped poses (sent, never answered) and the node.
 */
import sharp from 'sharp';
import { createTesseraClient, decodeDepth, type InteractiveSession, type SessionFrame } from '../../api/client/index.ts';
import { orbitPosition, stereoPose } from '../../api/protocol/session-pose.ts';
import type { SessionFormat } from '../../api/protocol/session.ts';

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
  /** Pose rate (Hz). */
  poseHz?: number;
  /** RTTs to pass instead of probing (e.g. none). */
  probe?: boolean;
  /** A WebSocket class (tests: one that trusts a certificate). */
  WebSocket?: never;
}

export interface SessionBenchResult {
  fps: number;
  p50Ms: number | null;
  p95Ms: number | null;
  frames: number;
  dropped: number;
  nodeId: string;
  sessions: { nodeId: string; fps: number; p50Ms: number | null; p95Ms: number | null; frames: number; dropped: number; posesSent: number; serverP50Ms: number | null }[];
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
      opened.push(await client.openSession({ request: { sceneId: o.sceneId, eye: o.eye, format: o.format, quality: o.quality ?? 80, shadows: o.shadows ?? true, depth: o.depth ?? false, maxFps: 240, ...(o.probe === false ? { client: { rtts: [] } } : {}) }, probe: o.probe, WebSocket: o.WebSocket }));
    }
    const runs = opened.map(async (session) => {
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
      const latencies: number[] = [];
      let frames = 0;
      let measuring = true;
      const sent = new Map<number, number>();
      const decodes: Promise<void>[] = [];
      const off = session.onFrame((f: SessionFrame) => {
        if (!measuring) return;
        const sentAt = sent.get(f.header.seq);
        if (sentAt === undefined) return;
        decodes.push(
          Promise.all([sharp(f.image).raw().toBuffer(), o.depth && f.depth ? decodeDepth(f.depth) : null]).then(() => {
            latencies.push(performance.now() - sentAt);
            frames++;
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
      };
    });
    const per = await Promise.all(runs);
    const all = per.flatMap((p) => p);
    return {
      fps: round(all.reduce((s, p) => s + p.fps, 0) / all.length)!,
      // Sessions that got no frame in the window have no latency; one that got none at all makes the figure null.
      p50Ms: all.some((p) => p.p50Ms === null) ? null : round(percentile(all.map((p) => p.p50Ms!), 0.5)),
      p95Ms: all.some((p) => p.p95Ms === null) ? null : round(Math.max(...all.map((p) => p.p95Ms!))),
      frames: all.reduce((s, p) => s + p.frames, 0),
      dropped: all.reduce((s, p) => s + p.dropped, 0),
      nodeId: [...new Set(all.map((p) => p.nodeId))].join(','),
      sessions: per,
    };
  } finally {
    await Promise.all(opened.map((s) => s.close().catch(() => {})));
  }
}
