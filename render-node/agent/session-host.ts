/**
 * The node's side of interactive sessions. Sessions arrive as leases (the long-poll with kinds
 * ['session']); each gets its own render process, which starts loading the scene at once. The client then
 * opens a WebSocket on the node's public server (`/v1/sessions/<id>`, where GET /ping is served) and proves
 * it may with the API's ticket, checked here offline (signature under this node's secret, node id, expiry,
 * single use). Poses stream in; frames stream out:
 *
 * - newest pose wins: at most one frame renders and one pose waits; a newer pose replaces the waiting one
 *   (counted as dropped);
 * - a frame is skipped (counted) when the socket still holds more than `maxBufferedBytes` unsent;
 * - bad input (non-JSON, unknown fields, NaN or non-invertible matrices, messages over the size limit,
 *   more than the message rate) closes the socket with a close code and reason; the node carries on.
 *
 * Stats (frames, dropped, skipped, pose → frame-sent p50/p95, render time) go to the API in heartbeats.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  MAX_CLIENT_MESSAGE_BYTES,
  CLIENT_MESSAGE_BURST,
  MAX_CLIENT_MESSAGES_PER_SECOND,
  parseClientMessage,
  SESSION_CLOSE,
  SESSION_PROTOCOL,
  type LeasedSession,
  type PoseMessage,
  type ReadyMessage,
  type SessionCloseCode,
  type SessionReport,
  type SessionStats,
} from '../../api/protocol/session.ts';
import { DEPTH_ENCODING } from '../../api/protocol/session-depth.ts';
import { encodeFrame } from '../../api/protocol/session-frame.ts';
import { FRAME_MAC_PURPOSE, frameMacMessage } from '../../api/protocol/session-sample.ts';
import { checkTicket, TicketLedger, type TicketProblem } from '../../api/protocol/session-ticket.ts';
import type { Logger } from '../logger.ts';
import type { StartView } from '../render/stereo-renderer.ts';
import { SessionProcess, type RenderedFrame, type SessionProcessOptions } from './session-process.ts';
import { sessionImageToSend } from './test-fault.ts';

export interface SessionHostOptions extends Omit<SessionProcessOptions, 'loadTimeoutMs' | 'frameTimeoutMs'> {
  /** Sessions at once. */
  slots: number;
  /** This node's id and ticket secret (they change when it registers again). */
  identity: () => { nodeId: string; secret: Uint8Array | null };
  log: Logger;
  loadTimeoutMs?: number;
  frameTimeoutMs?: number;
  /** Skip a frame while the socket holds more than this many unsent bytes. */
  maxBufferedBytes?: number;
  /** How long a connected client may take to send its ticket (hello), and a connection waits for its lease. */
  helloTimeoutMs?: number;
  /**
   * `overlap` (default): a frame is encoded (the render process's encoder thread) while the next pose renders, at most
   * one frame waiting for its encode; `serial`: the next pose renders once the last frame is encoded, so the encode
   * does not share the cores with the next render (a lower pose→frame latency per frame where the rasterizer threads
   * fill the cores, fewer frames per second). `tessera node start --session-encode`.
   */
  encode?: SessionEncodePipeline;
}

export type SessionEncodePipeline = 'overlap' | 'serial';

export const SESSION_HOST_DEFAULTS = {
  loadTimeoutMs: 120_000,
  frameTimeoutMs: 10_000,
  maxBufferedBytes: 1024 * 1024,
  helloTimeoutMs: 10_000,
  encode: 'overlap' as SessionEncodePipeline,
};

/** Latencies kept for p50/p95. */
const LATENCY_WINDOW = 256;

interface HostedSession {
  lease: LeasedSession;
  process: SessionProcess;
  loaded: Promise<StartView>;
  socket: WebSocket | null;
  stats: SessionStats;
  latencies: number[];
  pending: { pose: PoseMessage; receivedAt: number } | null;
  droppedSinceFrame: number;
  rendering: boolean;
  /** Frames rendered and still encoding (or being sent), oldest first. */
  encoding: Promise<void>[];
  /** When the last frame's render started: maxFps spaces render starts, not the gaps between frames. */
  lastRenderAt: number;
  ended: { reason: string; reported: number } | null;
  connectTimer: NodeJS.Timeout;
}

const TICKET_CLOSE: Record<TicketProblem, SessionCloseCode> = {
  malformed: SESSION_CLOSE.BAD_TICKET,
  'bad-signature': SESSION_CLOSE.BAD_TICKET,
  'wrong-node': SESSION_CLOSE.WRONG_NODE,
  expired: SESSION_CLOSE.TICKET_EXPIRED,
  reused: SESSION_CLOSE.TICKET_REUSED,
};

/** p-th percentile (0–1) of a list, null when empty. */
function percentile(values: readonly number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** A close reason must fit a control frame (123 bytes). */
const reasonText = (reason: string) => Buffer.from(reason).subarray(0, 120).toString().replace(/\uFFFD+$/, '');

export class SessionHost {
  readonly #o: SessionHostOptions & typeof SESSION_HOST_DEFAULTS;
  readonly #sessions = new Map<string, HostedSession>();
  /** Connections waiting for their session's lease. */
  readonly #waiting = new Map<string, Set<() => void>>();
  readonly #tickets = new TicketLedger();
  #macKey: { secret: Uint8Array; key: Buffer } | null = null;
  readonly #wss: WebSocketServer;
  #closing = false;

  constructor(options: SessionHostOptions) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SessionHostOptions;
    this.#o = { ...SESSION_HOST_DEFAULTS, ...given };
    // maxPayload: ws closes an oversized message's connection with 1009 before buffering it.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false });
  }

  /** Sessions not ended. */
  get active(): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (!s.ended) n++;
    return n;
  }

  /** Sessions open, or ended and still to report in heartbeats. */
  get reporting(): number {
    return this.#sessions.size;
  }

  /** Serve session WebSockets on `server` (the node's public server). */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://node');
      const m = /^\/v1\/sessions\/([A-Za-z0-9_-]{1,128})$/.exec(url.pathname);
      if (!m || this.#closing) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      socket.on('error', () => {});
      this.#wss.handleUpgrade(req, socket, head, (ws) => void this.#onConnection(ws, m[1], url.searchParams.get('ticket')));
    });
  }

  /** A session lease from the API: start its render process and load its scene now. */
  accept(lease: LeasedSession): void {
    if (this.#sessions.has(lease.sessionId)) return;
    const log = this.#o.log;
    const process = new SessionProcess({
      cacheDir: this.#o.cacheDir,
      maxTexturePixels: this.#o.maxTexturePixels,
      memoryCapBytes: this.#o.memoryCapBytes,
      backend: this.#o.backend,
      chromiumCallTimeoutMs: this.#o.chromiumCallTimeoutMs,
      encodeIn: this.#o.encodeIn,
      loadTimeoutMs: this.#o.loadTimeoutMs,
      frameTimeoutMs: this.#o.frameTimeoutMs,
    });
    const loaded = process.load(lease.scene, lease.render).then(({ start, backend }) => {
      this.#o.log.info({ sessionId: lease.sessionId, backend }, 'session backend');
      return start;
    });
    loaded.catch(() => {});
    const s: HostedSession = {
      lease,
      process,
      loaded,
      socket: null,
      stats: { frames: 0, dropped: 0, skipped: 0, p50Ms: null, p95Ms: null, renderMs: 0 },
      latencies: [],
      pending: null,
      droppedSinceFrame: 0,
      rendering: false,
      encoding: [],
      lastRenderAt: 0,
      ended: null,
      connectTimer: setTimeout(() => {
        if (!s.socket) this.#end(s, SESSION_CLOSE.SESSION_ENDED, 'no client connected in time');
      }, Math.max(1000, lease.connectBy - Date.now() + 2000)),
    };
    s.connectTimer.unref();
    this.#sessions.set(lease.sessionId, s);
    log.info({ sessionId: lease.sessionId, scene: lease.scene.id.slice(0, 12), eye: lease.render.eye, format: lease.render.format }, 'session leased');
    // The API counts a session closed when its client says so, a moment before the client's socket close
    // reaches this node: give an ending session a few seconds to go before refusing the new one.
    if (this.active > this.#o.slots) {
      void (async () => {
        const until = Date.now() + 3000;
        while (this.active > this.#o.slots && Date.now() < until && !s.ended) await new Promise((r) => setTimeout(r, 50));
        if (this.active > this.#o.slots) this.#end(s, SESSION_CLOSE.NODE_FULL, 'the node has no free session slot');
      })();
    }
    // A process stopped over the memory cap ends the session with its own close code; any other failure is the scene's.
    void process.exited.then((why) => this.#end(s, process.closeCode ?? SESSION_CLOSE.SCENE_FAILED, why));
    loaded.then(
      (start) => {
        log.info({ sessionId: lease.sessionId, start }, 'session scene loaded');
        if (s.socket) this.#sendReady(s, start);
      },
      (err: Error) => this.#end(s, process.closeCode ?? SESSION_CLOSE.SCENE_FAILED, err.message),
    );
    for (const wake of this.#waiting.get(lease.sessionId) ?? []) wake();
  }

  /** The API ended these sessions (deleted, expired, not this node's). */
  revoke(sessionIds: readonly string[]): void {
    for (const id of sessionIds) {
      const s = this.#sessions.get(id);
      if (s && !s.ended) this.#end(s, SESSION_CLOSE.SESSION_ENDED, 'the session was closed by the API');
      else if (s?.ended) s.ended.reported = Infinity;
    }
    this.#forgetReported();
  }

  /** Reports for the next heartbeat: every live session, and each ended one for a few heartbeats. */
  reports(): SessionReport[] {
    const out: SessionReport[] = [];
    for (const s of this.#sessions.values()) {
      this.#refreshPercentiles(s);
      if (s.ended) {
        s.ended.reported++;
        out.push({ sessionId: s.lease.sessionId, state: 'closed', reason: s.ended.reason.slice(0, 500), stats: { ...s.stats } });
      } else out.push({ sessionId: s.lease.sessionId, state: 'open', stats: { ...s.stats } });
    }
    this.#forgetReported();
    return out;
  }

  /** End every session (the node is stopping). */
  async close(): Promise<void> {
    this.#closing = true;
    for (const s of this.#sessions.values()) this.#end(s, SESSION_CLOSE.GOING_AWAY, 'the node is stopping; open the session again');
    await Promise.all([...this.#sessions.values()].map((s) => s.process.exited));
    this.#wss.close();
  }

  #forgetReported(): void {
    for (const [id, s] of this.#sessions) if (s.ended && s.ended.reported >= 3) this.#sessions.delete(id);
  }

  async #onConnection(ws: WebSocket, sessionId: string, ticketParam: string | null): Promise<void> {
    const log = this.#o.log;
    const close = (code: SessionCloseCode, reason: string) => {
      log.info({ sessionId, code, reason }, 'session connection refused');
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reasonText(reason));
    };
    ws.on('error', () => {});
    // The rate limit and message checks apply from the first message on, the hello included.
    const limiter = { tokens: CLIENT_MESSAGE_BURST, at: performance.now() };
    const allow = (): boolean => {
      const now = performance.now();
      limiter.tokens = Math.min(CLIENT_MESSAGE_BURST, limiter.tokens + ((now - limiter.at) * MAX_CLIENT_MESSAGES_PER_SECOND) / 1000);
      limiter.at = now;
      if (limiter.tokens < 1) return false;
      limiter.tokens--;
      return true;
    };
    let ticket = ticketParam;
    if (!ticket) {
      ticket = await new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), this.#o.helloTimeoutMs);
        ws.once('message', (data: RawData, isBinary: boolean) => {
          clearTimeout(timer);
          if (isBinary) return resolve(null);
          const text = data.toString();
          const parsed = parseClientMessage(text, Buffer.byteLength(text));
          resolve(parsed.ok && parsed.message.type === 'hello' ? parsed.message.ticket : null);
        });
        ws.once('close', () => resolve(null));
      });
      if (!ticket) return close(SESSION_CLOSE.BAD_TICKET, 'the first message must be {"type":"hello","ticket":…}');
    }
    const { nodeId, secret } = this.#o.identity();
    if (!secret) return close(SESSION_CLOSE.BAD_TICKET, 'this node has no ticket secret yet');
    const checked = await checkTicket(ticket, secret, nodeId, Date.now());
    if (!checked.ok) return close(TICKET_CLOSE[checked.problem], `ticket refused: ${checked.problem}`);
    if (checked.payload.sid !== sessionId) return close(SESSION_CLOSE.BAD_TICKET, 'ticket refused: it is for another session');
    if (!this.#tickets.use(checked.payload, Date.now())) return close(SESSION_CLOSE.TICKET_REUSED, 'ticket refused: reused');
    // The lease may still be on its way (the client can be quicker than the node's long-poll).
    let s = this.#sessions.get(sessionId);
    if (!s) {
      await new Promise<void>((resolve) => {
        const set = this.#waiting.get(sessionId) ?? new Set();
        this.#waiting.set(sessionId, set);
        const wake = () => {
          clearTimeout(timer);
          set.delete(wake);
          if (!set.size) this.#waiting.delete(sessionId);
          resolve();
        };
        const timer = setTimeout(wake, this.#o.helloTimeoutMs);
        set.add(wake);
      });
      s = this.#sessions.get(sessionId);
    }
    if (!s || s.ended) return close(SESSION_CLOSE.SESSION_ENDED, s?.ended ? `the session ended: ${s.ended.reason}` : 'this node holds no such session');
    if (s.socket) return close(SESSION_CLOSE.SESSION_ENDED, 'the session already has a client');
    if (ws.readyState !== ws.OPEN) return;
    s.socket = ws;
    clearTimeout(s.connectTimer);
    log.info({ sessionId }, 'session client connected');
    const session = s;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (session.ended) return;
      if (!allow()) return this.#end(session, SESSION_CLOSE.RATE_LIMITED, `more than ${MAX_CLIENT_MESSAGES_PER_SECOND} messages per second`);
      if (isBinary) return this.#end(session, SESSION_CLOSE.BAD_MESSAGE, 'clients send text messages only');
      const text = data.toString();
      const parsed = parseClientMessage(text, Buffer.byteLength(text));
      if (!parsed.ok) return this.#end(session, parsed.code, parsed.reason);
      const m = parsed.message;
      if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong', id: m.id, sentAt: m.sentAt, nodeTime: Date.now() }));
      else if (m.type === 'pose') this.#onPose(session, m);
      else this.#end(session, SESSION_CLOSE.BAD_MESSAGE, 'hello was already received');
    });
    ws.on('close', (code: number) => this.#end(session, SESSION_CLOSE.NORMAL, code === 1009 ? 'the client sent a message over the size limit' : 'the client closed the session'));
    s.loaded.then((start) => this.#sendReady(session, start), () => {});
  }

  #sendReady(s: HostedSession, start: StartView): void {
    if (!s.socket || s.ended || s.socket.readyState !== s.socket.OPEN) return;
    const ready: ReadyMessage & { start: StartView } = {
      type: 'ready',
      protocol: SESSION_PROTOCOL,
      sessionId: s.lease.sessionId,
      nodeId: this.#o.identity().nodeId,
      eye: s.lease.render.eye,
      format: s.lease.render.format,
      start,
    };
    s.socket.send(JSON.stringify(ready));
    (s as HostedSession & { ready?: boolean }).ready = true;
    void this.#pump(s);
  }

  #onPose(s: HostedSession, pose: PoseMessage): void {
    if (s.pending) {
      s.stats.dropped++;
      s.droppedSinceFrame++;
    }
    s.pending = { pose, receivedAt: performance.now() };
    void this.#pump(s);
  }

  /**
   * Render waiting poses one at a time, newest first, paced by maxFps: a render starts no sooner than 1000/maxFps ms
   * after the previous one started (pacing from the previous frame's end instead added that much idle time to every
   * frame: +11 ms at the default 90, whatever the render took). A frame is encoded (in the render process's encoder
   * thread) while the next one renders; at most one frame waits for its encode while another renders, and frames
   * leave in pose order.
   */
  async #pump(s: HostedSession): Promise<void> {
    if (s.rendering || s.ended || !(s as HostedSession & { ready?: boolean }).ready) return;
    s.rendering = true;
    try {
      while (s.pending && !s.ended) {
        const wait = s.lastRenderAt + 1000 / s.lease.render.maxFps - performance.now();
        if (wait > 1) {
          await new Promise((r) => setTimeout(r, wait));
          continue; // a newer pose may have replaced the waiting one meanwhile
        }
        // One frame encoding while the next renders, not more: wait for the older of two (serial: for the last one).
        if (s.encoding.length > (this.#o.encode === 'serial' ? 0 : 1)) {
          await s.encoding[0];
          continue;
        }
        const { pose, receivedAt } = s.pending;
        s.pending = null;
        const ws = s.socket!;
        if (ws.bufferedAmount > this.#o.maxBufferedBytes) {
          // The network is behind: skip this frame rather than queue it.
          s.stats.skipped++;
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        const started = performance.now();
        s.lastRenderAt = started;
        const job = s.process.frame(pose.eyes);
        const failed = (err: Error) => this.#end(s, s.process.closeCode ?? SESSION_CLOSE.SCENE_FAILED, err?.message ?? String(err));
        const sent: Promise<void> = job.done
          .then((frame) => this.#sendFrame(s, pose, receivedAt, started, frame))
          .catch(failed)
          .finally(() => s.encoding.splice(s.encoding.indexOf(sent) >>> 0, 1));
        s.encoding.push(sent);
        await job.rendered;
      }
    } catch (err) {
      // A process stopped for a reason with its own close code (memory) ends the session with that code, whichever of
      // the frame's two promises reports the stop first.
      this.#end(s, s.process.closeCode ?? SESSION_CLOSE.SCENE_FAILED, (err as Error)?.message ?? String(err));
    } finally {
      s.rendering = false;
    }
  }

  /** Send an encoded frame answering `pose` (in pose order: the render process encodes in order). */
  #sendFrame(s: HostedSession, pose: PoseMessage, receivedAt: number, started: number, frame: RenderedFrame): void {
    const ws = s.socket;
    if (s.ended || !ws || ws.readyState !== ws.OPEN) return;
    const image = sessionImageToSend(s.lease.sessionId, frame.image);
    const message = encodeFrame(
      {
        seq: pose.seq,
        sentAt: pose.sentAt,
        eyes: pose.eyes,
        timings: {
          queueMs: started - receivedAt,
          renderMs: frame.renderMs,
          encodeMs: frame.encodeMs,
          ipcMs: frame.ipcMs,
          nodeInAt: performance.timeOrigin + receivedAt,
          nodeOutAt: performance.timeOrigin + performance.now(),
        },
        layout: 'side-by-side',
        width: frame.width,
        height: frame.height,
        format: s.lease.render.format,
        dropped: s.droppedSinceFrame,
        ...this.#frameMac(s, pose, frame, image),
        ...(frame.depth ? { depthEncoding: DEPTH_ENCODING } : {}),
      },
      image,
      frame.depth ?? undefined,
    );
    ws.send(message);
    s.droppedSinceFrame = 0;
    s.stats.frames++;
    s.stats.renderMs += frame.renderMs + frame.encodeMs;
    s.latencies.push(performance.now() - receivedAt);
    if (s.latencies.length > LATENCY_WINDOW) s.latencies.shift();
  }

  /**
   * This node's signature over a frame (session-sample.ts): a client reports sampled frames with it and the API
   * checks it, so nobody but this node can be held to a frame, and this node cannot disown one it sent.
   */
  #frameMac(s: HostedSession, pose: PoseMessage, frame: RenderedFrame, image: Uint8Array): { mac?: string } {
    const { secret } = this.#o.identity();
    if (!secret) return {};
    if (this.#macKey?.secret !== secret) this.#macKey = { secret, key: createHmac('sha256', secret).update(FRAME_MAC_PURPOSE).digest() };
    const imageSha256 = createHash('sha256').update(image).digest('hex');
    const message = frameMacMessage({ sessionId: s.lease.sessionId, seq: pose.seq, eyes: pose.eyes, width: frame.width, height: frame.height, format: s.lease.render.format, imageSha256 });
    return { mac: createHmac('sha256', this.#macKey.key).update(message).digest('base64url') };
  }

  #refreshPercentiles(s: HostedSession): void {
    s.stats.p50Ms = percentile(s.latencies, 0.5);
    s.stats.p95Ms = percentile(s.latencies, 0.95);
  }

  #end(s: HostedSession, code: SessionCloseCode, reason: string): void {
    if (s.ended) return;
    s.ended = { reason, reported: 0 };
    s.pending = null;
    clearTimeout(s.connectTimer);
    this.#refreshPercentiles(s);
    if (s.socket && (s.socket.readyState === s.socket.OPEN || s.socket.readyState === s.socket.CONNECTING)) s.socket.close(code, reasonText(reason));
    s.process.kill(reason);
    this.#o.log.info({ sessionId: s.lease.sessionId, code, reason, frames: s.stats.frames, dropped: s.stats.dropped, skipped: s.stats.skipped, p50Ms: s.stats.p50Ms, p95Ms: s.stats.p95Ms }, 'session ended');
  }
}
