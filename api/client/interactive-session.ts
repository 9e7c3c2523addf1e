/**
 * `openSession`: an interactive (VR) session from the SDK. It asks the API for a session (with this
 * client's probe results, so the nearest capable node is chosen), opens the WebSocket on that node, sends
 * the ticket, then streams poses and hands each frame to `onFrame`. When the node dies (the socket drops,
 * or closes with a code that says the node failed), it opens a new session through the API, excluding the
 * dead node, and carries on with the same callbacks. Runs in browsers (global WebSocket) and in Node 20
 * (the `ws` package, loaded on demand).
 */
import { decodeFrame, type DecodedFrame } from '../protocol/session-frame.ts';
import { NodeTextMessage, SESSION_CLOSE, type EyePose, type ReadyMessage, type SessionCreated, type SessionRequestInput, type SessionView } from '../protocol/session.ts';
import type { ProbeResult } from './client-probing.ts';
import { bytesToBase64 } from '../protocol/base64-bytes.ts';
import { sampleSettled, type SessionSampleRequest, type SessionSampleView } from '../protocol/session-sample.ts';

/** What openSession needs of the client. */
export interface SessionApi {
  probe(opts?: { count?: number }): Promise<ProbeResult>;
  createSession(request: SessionRequestInput): Promise<SessionCreated>;
  getSession(sessionId: string): Promise<SessionView>;
  deleteSession(sessionId: string): Promise<SessionView>;
  /** Report a received frame for verification (absent: frames are not verified). */
  reportSessionSample?(sessionId: string, sample: SessionSampleRequest): Promise<SessionSampleView>;
  getSessionSample?(sessionId: string, sampleId: string): Promise<SessionSampleView>;
}

/**
 * Which received frames the SDK reports to the API for verification (session-sample.ts): the `first`-th frame of each
 * node's session, then every `every`-th, at most `max` per session. A frame shown to be a lie (`disproven`), or one whose
 * signature does not check out, moves the session to another node.
 */
export interface SessionVerifyOptions {
  first?: number;
  every?: number;
  max?: number;
  /** How often to ask for a reported frame's verdict (ms). */
  pollMs?: number;
}

export const SESSION_VERIFY_DEFAULTS: Required<SessionVerifyOptions> = { first: 600, every: 5400, max: 3, pollMs: 1000 };

/** The subset of the WebSocket API used here (browsers' WebSocket and `ws` both have it). */
interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
type SocketConstructor = new (url: string) => SocketLike;

export interface OpenSessionOptions {
  /** The session request (scene, eye size, format…); `client` defaults to a fresh probe. */
  request: SessionRequestInput;
  /** Probe nodes first when the request has no `client` (default true). */
  probe?: boolean;
  /** Re-open through the API on another node when the node dies (default true), at most this often. */
  maxReopens?: number;
  /** A WebSocket class (default: the global one, else the `ws` package). */
  WebSocket?: SocketConstructor;
  /** Called when a session (the first, or a re-opened one) is ready. */
  onReady?: (ready: ReadyMessage, placed: SessionCreated) => void;
  /** Called when the session ends for good (closed, or could not be re-opened). */
  onClose?: (info: { code: number; reason: string }) => void;
  /** Report sampled frames for verification (default SESSION_VERIFY_DEFAULTS); `false`: never. */
  verify?: SessionVerifyOptions | false;
  /** Called with each reported frame's verdict once final (or its refusal). */
  onVerdict?: (verdict: SessionSampleView | { sessionId: string; nodeId: string; seq: number; state: 'refused'; reason: string }) => void;
}

export interface SessionFrame extends DecodedFrame {
  /** When it arrived (performance.now()). */
  receivedAt: number;
  /** Pose sent → frame received (ms, this client's clock). */
  latencyMs: number;
  nodeId: string;
}

export interface PoseInput {
  eyes: EyePose[];
  near?: number;
  far?: number;
}

export interface SessionStatsView {
  sessionId: string;
  nodeId: string;
  frames: number;
  posesSent: number;
  /** Poses the node dropped because newer ones came (from the frame headers). */
  dropped: number;
  /** Frames per second over the last second. */
  fps: number;
  /** Pose sent → frame received over the recent frames (ms). */
  p50Ms: number | null;
  p95Ms: number | null;
  /** Last ping round trip to the node (ms). */
  rttMs: number | null;
  reopens: number;
  /** Frames reported for verification, and their verdicts so far. */
  verification: { reported: number; agreed: number; disproven: number; inconclusive: number; refused: number; unsigned: number };
}

export interface InteractiveSession {
  readonly sessionId: string;
  readonly nodeId: string;
  readonly ready: ReadyMessage;
  /** Send a head pose; returns its sequence number. Only the newest unsent pose is kept before ready. */
  sendPose(pose: PoseInput): number;
  /** Subscribe to frames; returns the unsubscribe function. */
  onFrame(cb: (frame: SessionFrame) => void): () => void;
  /** Time a round trip to the node. */
  ping(): Promise<number>;
  stats(): SessionStatsView;
  /** Report `frame` for verification now and wait for its verdict (a disproven frame moves the session). */
  verifyFrame(frame: SessionFrame): Promise<SessionSampleView>;
  /** Close the session (socket and API record). */
  close(): Promise<void>;
  /** Settles when the session has ended for good. */
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** Close codes after which a new node is worth trying. */
const REOPEN_CODES = new Set<number>([1001, 1006, 1011, SESSION_CLOSE.SCENE_FAILED, SESSION_CLOSE.NODE_FULL, SESSION_CLOSE.SESSION_ENDED]);
const LATENCY_WINDOW = 256;

async function defaultSocket(): Promise<SocketConstructor> {
  const g = (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
  if (g) return g;
  // Node 20 has no global WebSocket: the ws package (hidden from browser bundlers by the variable).
  const name = 'ws';
  const mod = (await import(name)) as { WebSocket: SocketConstructor; default: SocketConstructor };
  return mod.WebSocket ?? mod.default;
}

function percentile(values: readonly number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Open an interactive session (see the module comment). */
export async function openSession(api: SessionApi, options: OpenSessionOptions): Promise<InteractiveSession> {
  const Socket = options.WebSocket ?? (await defaultSocket());
  const maxReopens = options.maxReopens ?? 3;
  let request: SessionRequestInput = options.request;
  if (!request.client && options.probe !== false) request = { ...request, client: await api.probe() };
  const listeners = new Set<(f: SessionFrame) => void>();
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const arrivals: number[] = [];
  const pings = new Map<number, (ms: number) => void>();
  let seq = 0;
  let pingId = 0;
  let frames = 0;
  let posesSent = 0;
  let dropped = 0;
  let reopens = 0;
  let rttMs: number | null = null;
  let closedByUser = false;
  const verify = options.verify === false || !api.reportSessionSample || !api.getSessionSample ? null : { ...SESSION_VERIFY_DEFAULTS, ...options.verify };
  const verification = { reported: 0, agreed: 0, disproven: 0, inconclusive: 0, refused: 0, unsigned: 0 };
  const excluded: string[] = [];
  let waitingPose: string | null = null;
  type Entry = { placed: SessionCreated; socket: SocketLike; ready: ReadyMessage | null; frames: number; samples: number };
  let current!: Entry;

  /** Leave `entry`'s node for another (its frame was disproven, or its signature did not check out). */
  const moveOff = (entry: Entry, why: string) => {
    if (current !== entry || closedByUser) return;
    entry.socket.onclose = null;
    try {
      entry.socket.close(1000, why.slice(0, 120));
    } catch {
      // already closing
    }
    void onLost(SESSION_CLOSE.SESSION_ENDED, why);
  };

  /** Report `frame` (received on `entry`) and poll for its verdict. */
  const report = async (entry: Entry, frame: SessionFrame): Promise<SessionSampleView> => {
    const { header } = frame;
    const sessionId = entry.placed.sessionId;
    if (!header.mac) throw new Error(`frame ${header.seq} carries no signature (its node predates frame verification)`);
    verification.reported++;
    let view: SessionSampleView;
    try {
      view = await api.reportSessionSample!(sessionId, { seq: header.seq, eyes: header.eyes, width: header.width, height: header.height, format: header.format, image: bytesToBase64(frame.image), mac: header.mac });
    } catch (err) {
      verification.refused++;
      const code = (err as { code?: string }).code;
      options.onVerdict?.({ sessionId, nodeId: entry.placed.nodeId, seq: header.seq, state: 'refused', reason: String((err as Error).message) });
      // A signature that does not check out: this client cannot trust the node's frames (nobody is blamed).
      if (code === 'SAMPLE_UNSIGNED') moveOff(entry, 'its frame signature did not check out');
      throw err;
    }
    const pollMs = verify?.pollMs ?? SESSION_VERIFY_DEFAULTS.pollMs;
    while (!sampleSettled(view.state)) {
      await new Promise((r) => setTimeout(r, pollMs));
      view = await api.getSessionSample!(sessionId, view.sampleId);
    }
    if (view.state === 'agreed') verification.agreed++;
    else if (view.state === 'disproven') verification.disproven++;
    else verification.inconclusive++;
    options.onVerdict?.(view);
    if (view.state === 'disproven') moveOff(entry, `its frame ${header.seq} was disproven`);
    return view;
  };
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));

  /** Place a session and connect; resolves when the node says ready. */
  const connect = async (): Promise<void> => {
    const placed = await api.createSession({ ...request, excludeNodes: [...new Set([...(request.excludeNodes ?? []), ...excluded])].slice(-16) });
    await new Promise<void>((resolve, reject) => {
      const socket = new Socket(placed.url);
      socket.binaryType = 'arraybuffer';
      const entry: Entry = { placed, socket, ready: null, frames: 0, samples: 0 };
      let opened = false;
      let failure = '';
      socket.onopen = () => {
        opened = true;
        socket.send(JSON.stringify({ type: 'hello', ticket: placed.ticket }));
      };
      socket.onerror = (ev) => {
        failure = String((ev as { message?: string; error?: Error })?.message ?? (ev as { error?: Error })?.error?.message ?? '');
      };
      socket.onmessage = (ev) => {
        if (typeof ev.data === 'string') {
          const parsed = NodeTextMessage.safeParse(JSON.parse(ev.data));
          if (!parsed.success) return;
          const m = parsed.data;
          if (m.type === 'ready') {
            entry.ready = m;
            current = entry;
            options.onReady?.(m, placed);
            if (waitingPose) {
              socket.send(waitingPose);
              waitingPose = null;
            }
            resolve();
          } else if (m.type === 'pong') {
            const ms = performance.now() - m.sentAt;
            rttMs = ms;
            pings.get(m.id)?.(ms);
            pings.delete(m.id);
          }
          return;
        }
        const now = performance.now();
        const bytes = ev.data instanceof ArrayBuffer ? new Uint8Array(ev.data) : new Uint8Array(ev.data as ArrayBufferLike);
        let decoded: DecodedFrame;
        try {
          decoded = decodeFrame(bytes);
        } catch {
          return; // a malformed frame is skipped, not fatal
        }
        frames++;
        dropped += decoded.header.dropped;
        const sent = sentAt.get(decoded.header.seq) ?? decoded.header.sentAt;
        for (const s of sentAt.keys()) if (s <= decoded.header.seq) sentAt.delete(s);
        const latencyMs = now - sent;
        latencies.push(latencyMs);
        if (latencies.length > LATENCY_WINDOW) latencies.shift();
        arrivals.push(now);
        while (arrivals.length && arrivals[0] < now - 1000) arrivals.shift();
        const frame: SessionFrame = { ...decoded, receivedAt: now, latencyMs, nodeId: placed.nodeId };
        for (const cb of listeners) cb(frame);
        entry.frames++;
        if (!decoded.header.mac) verification.unsigned++;
        else if (verify && entry.samples < verify.max && entry.frames >= verify.first && (entry.frames - verify.first) % verify.every === 0) {
          entry.samples++;
          // The bytes are the socket's own buffer: report a copy.
          void report(entry, { ...frame, image: frame.image.slice() }).catch(() => {});
        }
      };
      socket.onclose = (ev) => {
        if (!entry.ready) {
          // Unreachable or refusing: the next placement avoids it.
          excluded.push(placed.nodeId);
          void api.deleteSession(placed.sessionId).catch(() => {});
          reject(Object.assign(new Error(`the node refused the session at ${placed.url} (${ev.code}${ev.reason ? `: ${ev.reason}` : ''}${failure ? `; ${failure}` : ''})`), { code: ev.code, opened }));
          return;
        }
        if (current !== entry) return;
        void onLost(ev.code, ev.reason);
      };
    });
  };

  /** The session's socket closed: re-open elsewhere when the node failed, else end. */
  const onLost = async (code: number, reason: string) => {
    const dead = current.placed.nodeId;
    if (!closedByUser && REOPEN_CODES.has(code) && reopens < maxReopens) {
      reopens++;
      excluded.push(dead);
      void api.deleteSession(current.placed.sessionId).catch(() => {});
      for (let attempt = 0; attempt < 3 && !closedByUser; attempt++) {
        try {
          await connect();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
        }
      }
    }
    resolveClosed({ code, reason });
    options.onClose?.({ code, reason });
  };

  // A first connection can fail like any other (the node died just now): try a few placements.
  for (let attempt = 1; ; attempt++) {
    try {
      await connect();
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }

  return {
    get sessionId() {
      return current.placed.sessionId;
    },
    get nodeId() {
      return current.placed.nodeId;
    },
    get ready() {
      return current.ready!;
    },
    sendPose(pose) {
      const s = ++seq;
      const t = performance.now();
      const text = JSON.stringify({ type: 'pose', seq: s, sentAt: t, eyes: pose.eyes, ...(pose.near !== undefined ? { near: pose.near } : {}), ...(pose.far !== undefined ? { far: pose.far } : {}) });
      sentAt.set(s, t);
      if (sentAt.size > 1024) sentAt.delete(sentAt.keys().next().value!);
      posesSent++;
      if (current.ready && current.socket.readyState === 1) current.socket.send(text);
      else waitingPose = text;
      return s;
    },
    onFrame(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    ping() {
      const id = ++pingId;
      return new Promise<number>((resolve) => {
        pings.set(id, resolve);
        current.socket.send(JSON.stringify({ type: 'ping', id, sentAt: performance.now() }));
      });
    },
    stats() {
      return {
        sessionId: current.placed.sessionId,
        nodeId: current.placed.nodeId,
        frames,
        posesSent,
        dropped,
        fps: arrivals.length,
        p50Ms: percentile(latencies, 0.5),
        p95Ms: percentile(latencies, 0.95),
        rttMs,
        reopens,
        verification: { ...verification },
      };
    },
    verifyFrame(frame) {
      if (!api.reportSessionSample || !api.getSessionSample) return Promise.reject(new Error('this client cannot report frames'));
      if (frame.nodeId !== current.placed.nodeId) return Promise.reject(new Error(`the frame came from node ${frame.nodeId}; the session is on ${current.placed.nodeId} now`));
      return report(current, frame);
    },
    async close() {
      closedByUser = true;
      // Let the node see the close before the API frees the slot (up to a second).
      const socket = current.socket;
      const gone = new Promise<void>((resolve) => {
        const previous = socket.onclose;
        socket.onclose = (ev) => {
          previous?.(ev);
          resolve();
        };
        setTimeout(resolve, 1000);
      });
      socket.close(1000, 'closed by the client');
      await gone;
      await api.deleteSession(current.placed.sessionId).catch(() => {});
      resolveClosed({ code: 1000, reason: 'closed by the client' });
    },
    closed,
  };
}
