/**
 * Interactive sessions (VR): the API places a session on the nearest capable node, the client streams head
 * poses to that node over a WebSocket and gets stereo frames back. This module holds every message of that
 * path: the HTTP session request and answer, the session lease a node gets, the node's session stats in its
 * heartbeat, and the WebSocket messages (pose, ping/pong) with their bounds and close codes. The binary
 * frame message is in `session-frame.ts`, tickets in `session-ticket.ts`.
 *
 * Versioned: `SESSION_PROTOCOL` is sent by the node in its `ready` message and in every frame header; a
 * client seeing a different major version closes.
 */
import { z } from 'zod';
import { JobClient, JobRequirements } from './latency.ts';
import { Background, CameraSpec, ToneMapping } from './render-spec.ts';

/** The session protocol's version (frame header `v`, ready message `protocol`). */
export const SESSION_PROTOCOL = 1;

/** Largest eye edge in pixels. */
export const MAX_EYE_EDGE = 2048;
/** Most text a client may send in one WebSocket message (a pose with two eyes is ~1.5 KB). */
export const MAX_CLIENT_MESSAGE_BYTES = 8 * 1024;
/** Most messages per second a client may send over one session socket (poses and pings together). */
export const MAX_CLIENT_MESSAGES_PER_SECOND = 240;
/**
 * Messages a client may have sent ahead of that rate (a token bucket's depth). A node whose event loop
 * stalled reads what piled up in one go: a 60 Hz client's poses over a 15 s stall must not read as a flood.
 */
export const CLIENT_MESSAGE_BURST = 960;
/** Most frames per second a session may ask for. */
export const MAX_SESSION_FPS = 240;

/**
 * WebSocket close codes a node uses (4000–4999 is the application range). The close reason carries one
 * sentence saying what was wrong.
 */
export const SESSION_CLOSE = {
  /** Normal end (client or node closed, or DELETE /v1/sessions/:id). */
  NORMAL: 1000,
  /** The node is stopping; re-open the session through the API. */
  GOING_AWAY: 1001,
  /** A message larger than MAX_CLIENT_MESSAGE_BYTES (RFC 6455's "message too big"). */
  TOO_BIG: 1009,
  /** A message that is not valid JSON or not a known message (unknown fields included). */
  BAD_MESSAGE: 4000,
  /** A pose with NaN/infinite numbers, or a non-invertible view or projection matrix. */
  BAD_POSE: 4001,
  /** More messages than MAX_CLIENT_MESSAGES_PER_SECOND. */
  RATE_LIMITED: 4002,
  /** Missing or forged ticket (bad signature, malformed). */
  BAD_TICKET: 4010,
  /** A ticket for another node. */
  WRONG_NODE: 4011,
  /** An expired ticket. */
  TICKET_EXPIRED: 4012,
  /** A ticket that was used already. */
  TICKET_REUSED: 4013,
  /** The session was closed by the API (deleted, expired) or is unknown to this node. */
  SESSION_ENDED: 4020,
  /** The scene could not be loaded or rendered; the reason says why. */
  SCENE_FAILED: 4021,
  /** The node has no free session slot. */
  NODE_FULL: 4022,
  /**
   * The session's render process (with the Chromium it drives, on that backend) used more memory than the node's cap:
   * the scene is too heavy for the node's sessions (re-opening elsewhere will not help unless that node's cap is larger).
   */
  OVER_MEMORY_CAP: 4023,
} as const;
export type SessionCloseCode = (typeof SESSION_CLOSE)[keyof typeof SESSION_CLOSE];

/** An eye size: `"512x512"`, each edge 16 to MAX_EYE_EDGE. */
export const EyeSize = z
  .string()
  .max(16)
  .regex(/^\d{1,4}x\d{1,4}$/, 'an eye size is WIDTHxHEIGHT, e.g. 512x512')
  .transform((s, ctx) => {
    const [width, height] = s.split('x').map(Number);
    if (!(width >= 16 && width <= MAX_EYE_EDGE && height >= 16 && height <= MAX_EYE_EDGE)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `each eye edge is 16 to ${MAX_EYE_EDGE} pixels` });
      return z.NEVER;
    }
    return { width, height };
  });

export const SessionFormat = z.enum(['jpeg', 'webp']);
export type SessionFormat = z.infer<typeof SessionFormat>;

/**
 * How a session trades look for speed. `full`: the batch render's look, pixel for pixel. `fast`: the environment
 * background is drawn from a cube of its final colours baked once per session (one cube lookup per sky pixel instead
 * of three's cube-UV filtering and tone mapping), and shadow maps are sized to the eye (512² for 512² eyes) instead
 * of 2048², so their lookups stay in cache; the same lights, shadow filter (PCF soft), materials and tone mapping.
 * The look differs from `full` by a few levels of 8 bits in the sky and slightly softer shadow edges.
 */
export const SessionFidelity = z.enum(['full', 'fast']);
export type SessionFidelity = z.infer<typeof SessionFidelity>;

/** What a session renders and how, as the node gets it. */
export const SessionRender = z
  .object({
    eye: z.object({ width: z.number().int().min(16).max(MAX_EYE_EDGE), height: z.number().int().min(16).max(MAX_EYE_EDGE) }),
    format: SessionFormat,
    quality: z.number().int().min(1).max(100),
    /** Also send linear depth in millimetres, packed into the RG channels of a lossless PNG (session-depth.ts). */
    depth: z.boolean(),
    /** Shadow maps as in batch renders (key light and glTF lights; fitted to the scene, drawn once per session). */
    shadows: z.boolean().default(true),
    /** `fast` (SessionFidelity); absent means `full`, so nodes that predate it still accept full sessions. */
    fidelity: z.literal('fast').optional(),
    maxFps: z.number().positive().max(MAX_SESSION_FPS),
    scene: z.union([z.number().int().min(0), z.string().min(1).max(256)]).optional(),
    clip: z.union([z.number().int().min(0), z.string().min(1).max(256)]).optional(),
    toneMapping: ToneMapping,
    exposure: z.number().positive().max(100),
    background: Background,
    environmentIntensity: z.number().min(0).max(100),
    keyLight: z.union([z.boolean(), z.literal('auto')]),
    /** Where the session starts looking before the first pose (the camera of a job; default auto). */
    camera: CameraSpec,
  })
  .strict();
export type SessionRender = z.infer<typeof SessionRender>;

/** `POST /v1/sessions`. */
export const SessionRequest = z
  .object({
    sceneId: z.string().regex(/^[0-9a-f]{64}$/, 'a scene id is 64 lowercase hex digits (sha256)'),
    /** The client's network position (probe results), as for jobs. */
    client: JobClient.optional(),
    eye: EyeSize.default({ width: 512, height: 512 }),
    format: SessionFormat.default('jpeg'),
    quality: z.number().int().min(1).max(100).default(80),
    /** Send a depth image with every frame: linear eye depth in millimetres, RG8 in a PNG (session-depth.ts). */
    depth: z.boolean().default(false),
    /** Shadows as batch renders draw them (default on). */
    shadows: z.boolean().default(true),
    /** `full` (the batch render's look) or `fast` (cheaper background and shadows; SessionFidelity). */
    fidelity: SessionFidelity.default('full'),
    maxFps: z.number().positive().max(MAX_SESSION_FPS).default(90),
    scene: z.union([z.number().int().min(0), z.string().min(1).max(256)]).optional(),
    clip: z.union([z.number().int().min(0), z.string().min(1).max(256)]).optional(),
    camera: z.union([CameraSpec, z.string().min(1).max(256)]).optional(),
    background: Background.default('environment'),
    toneMapping: ToneMapping.default('neutral'),
    exposure: z.number().positive().max(100).default(1),
    environmentIntensity: z.number().min(0).max(100).default(1),
    keyLight: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    requirements: JobRequirements.optional(),
    /** Nodes not to use (the SDK re-opening a session whose node died names it here). */
    excludeNodes: z.array(z.string().min(1).max(128)).max(16).default([]),
  })
  .strict();
export type SessionRequest = z.infer<typeof SessionRequest>;
export type SessionRequestInput = z.input<typeof SessionRequest>;

/** Why the session went where it went (like a task's route). */
export const SessionRoute = z.object({
  nodeId: z.string(),
  fallbackId: z.string().nullable(),
  predictedRttMs: z.number(),
  rttSource: z.enum(['measured', 'estimated', 'unknown']),
  /** Expected scene load on that node (0 when it has the scene cached). */
  sceneLoadMs: z.number(),
  sceneCached: z.boolean(),
  /** Expected render time of one stereo frame. */
  renderMs: z.number(),
  /** Expected wait for the node's other work (0 with a free slot). */
  queueMs: z.number(),
  /** predictedRttMs + sceneLoadMs + queueMs + renderMs: the expected first frame (ms from now). */
  firstFrameMs: z.number(),
  reason: z.string(),
});
export type SessionRoute = z.infer<typeof SessionRoute>;

/** `201` answer to `POST /v1/sessions`. */
export const SessionCreated = z.object({
  sessionId: z.string(),
  nodeId: z.string(),
  /** The WebSocket URL on the chosen node itself (`ws://` or `wss://`, as the node advertises). */
  url: z.string().url(),
  /** Send it as the first message, or as `?ticket=` on the URL; single use. */
  ticket: z.string(),
  /** The ticket's expiry (epoch ms): connect before it. */
  expiresAt: z.number(),
  route: SessionRoute,
});
export type SessionCreated = z.infer<typeof SessionCreated>;

export const SessionState = z.enum(['placed', 'starting', 'open', 'closed']);
export type SessionState = z.infer<typeof SessionState>;

/** Live stats a node reports for one session (heartbeat) and the API shows (`GET /v1/sessions/:id`). */
export const SessionStats = z
  .object({
    frames: z.number().int().min(0).max(1e12),
    /** Poses dropped because a newer one arrived (newest pose wins). */
    dropped: z.number().int().min(0).max(1e12),
    /** Frames skipped because the socket was backed up. */
    skipped: z.number().int().min(0).max(1e12),
    /** Pose received → frame sent on the node (ms), over the recent frames. */
    p50Ms: z.number().min(0).max(600_000).nullable(),
    p95Ms: z.number().min(0).max(600_000).nullable(),
    /** Total render + encode time so far (ms), for the ledger. */
    renderMs: z.number().min(0).max(1e12),
  })
  .strict();
export type SessionStats = z.infer<typeof SessionStats>;
export const EMPTY_SESSION_STATS: SessionStats = { frames: 0, dropped: 0, skipped: 0, p50Ms: null, p95Ms: null, renderMs: 0 };

/** `GET /v1/sessions/:id`. */
export const SessionView = z.object({
  sessionId: z.string(),
  sceneId: z.string(),
  state: SessionState,
  nodeId: z.string(),
  url: z.string(),
  eye: z.object({ width: z.number(), height: z.number() }),
  format: SessionFormat,
  fidelity: SessionFidelity.default('full'),
  createdAt: z.number(),
  updatedAt: z.number(),
  closedAt: z.number().nullable(),
  closeReason: z.string().nullable(),
  stats: SessionStats,
  route: SessionRoute,
});
export type SessionView = z.infer<typeof SessionView>;

/**
 * What a node gets from its lease long-poll (`kinds: ['session']`) for a session placed on it: which scene
 * (a presigned URL), how to render, and until when a client may connect.
 */
export const LeasedSession = z.object({
  kind: z.literal('session'),
  sessionId: z.string(),
  leaseId: z.string(),
  scene: z.object({ id: z.string(), url: z.string().url() }),
  render: SessionRender,
  /** Epoch ms; a client that has not connected by then will not (its ticket expired). */
  connectBy: z.number(),
});
export type LeasedSession = z.infer<typeof LeasedSession>;

/** One session's entry in a node heartbeat. */
export const SessionReport = z
  .object({
    sessionId: z.string().min(1).max(128),
    /** `open`: a client is connected or may still connect; `closed`: it ended on the node (final stats). */
    state: z.enum(['open', 'closed']),
    reason: z.string().max(500).optional(),
    stats: SessionStats,
  })
  .strict();
export type SessionReport = z.infer<typeof SessionReport>;

// ---- WebSocket messages ----

const finite = z.number().finite();
/** A 4×4 matrix, column-major (WebGL, three.js, WebXR's Float32Array order). */
export const Matrix4 = z.array(finite).length(16);

/** One eye: `view` maps world → eye (WebXR `view.transform.inverse.matrix`), `projection` eye → clip. */
export const EyePose = z.object({ view: Matrix4, projection: Matrix4 }).strict();
export type EyePose = z.infer<typeof EyePose>;

/** Client → node: the head pose to render next (both eyes). */
export const PoseMessage = z
  .object({
    type: z.literal('pose'),
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** The client's clock when it sent the pose (ms); echoed in the frame header. */
    sentAt: finite,
    eyes: z.array(EyePose).min(1).max(2),
    near: z.number().positive().max(1e6).optional(),
    far: z.number().positive().max(1e9).optional(),
  })
  .strict();
export type PoseMessage = z.infer<typeof PoseMessage>;

/** Client → node: time a round trip; answered with a pong at once. */
export const PingMessage = z.object({ type: z.literal('ping'), id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), sentAt: finite }).strict();
export type PingMessage = z.infer<typeof PingMessage>;

/** Client → node: the ticket, when not given on the URL (browsers cannot set WebSocket headers). */
export const HelloMessage = z.object({ type: z.literal('hello'), ticket: z.string().min(1).max(2048) }).strict();
export type HelloMessage = z.infer<typeof HelloMessage>;

export const ClientMessage = z.discriminatedUnion('type', [PoseMessage, PingMessage, HelloMessage]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** Node → client (text): the session is set up (scene loaded); frames follow poses. */
export const ReadyMessage = z.object({
  type: z.literal('ready'),
  /** Where the session's camera starts (the request's camera): build first poses from it. */
  start: z.object({ position: z.tuple([z.number(), z.number(), z.number()]), target: z.tuple([z.number(), z.number(), z.number()]), fov: z.number() }),
  protocol: z.number().int(),
  sessionId: z.string(),
  nodeId: z.string(),
  eye: z.object({ width: z.number(), height: z.number() }),
  format: SessionFormat,
});
export type ReadyMessage = z.infer<typeof ReadyMessage>;

export const PongMessage = z.object({ type: z.literal('pong'), id: z.number(), sentAt: z.number(), nodeTime: z.number() });
export type PongMessage = z.infer<typeof PongMessage>;

export const NodeTextMessage = z.discriminatedUnion('type', [ReadyMessage, PongMessage]);
export type NodeTextMessage = z.infer<typeof NodeTextMessage>;

/** Determinant of a column-major 4×4 matrix. */
export function determinant4(m: readonly number[]): number {
  const [a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33] = m;
  const b00 = a00 * a11 - a01 * a10, b01 = a00 * a12 - a02 * a10, b02 = a00 * a13 - a03 * a10;
  const b03 = a01 * a12 - a02 * a11, b04 = a01 * a13 - a03 * a11, b05 = a02 * a13 - a03 * a12;
  const b06 = a20 * a31 - a21 * a30, b07 = a20 * a32 - a22 * a30, b08 = a20 * a33 - a23 * a30;
  const b09 = a21 * a32 - a22 * a31, b10 = a21 * a33 - a23 * a31, b11 = a22 * a33 - a23 * a32;
  return b00 * b11 - b01 * b10 + b02 * b09 + b03 * b08 - b04 * b07 + b05 * b06;
}

/** Largest absolute entry a pose matrix may hold (world units; keeps products finite in float32). */
export const MAX_MATRIX_ENTRY = 1e7;

/**
 * Why a pose cannot be rendered (null when it can): non-finite or huge numbers, a non-invertible view or
 * projection (|det| relative to the entries' scale below 1e-12), near ≥ far.
 */
export function poseProblem(pose: PoseMessage): string | null {
  for (const [i, eye] of pose.eyes.entries()) {
    for (const [name, m] of [['view', eye.view], ['projection', eye.projection]] as const) {
      let scale = 0;
      for (const v of m) {
        if (!Number.isFinite(v)) return `eye ${i} ${name} matrix has a non-finite entry`;
        scale = Math.max(scale, Math.abs(v));
      }
      if (scale > MAX_MATRIX_ENTRY) return `eye ${i} ${name} matrix has an entry beyond ±${MAX_MATRIX_ENTRY}`;
      const det = determinant4(m);
      if (!Number.isFinite(det) || scale === 0 || Math.abs(det) / scale ** 4 < 1e-12) return `eye ${i} ${name} matrix is not invertible`;
    }
  }
  if (pose.near !== undefined && pose.far !== undefined && !(pose.near < pose.far)) return 'near must be less than far';
  return null;
}

/**
 * Parse one text message from a client: the message, or why it is refused with which close code. Never
 * throws. `bytes` is the message's size on the wire.
 */
export function parseClientMessage(text: string, bytes: number): { ok: true; message: ClientMessage } | { ok: false; code: SessionCloseCode; reason: string } {
  if (bytes > MAX_CLIENT_MESSAGE_BYTES) return { ok: false, code: SESSION_CLOSE.TOO_BIG, reason: `message of ${bytes} bytes; at most ${MAX_CLIENT_MESSAGE_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, code: SESSION_CLOSE.BAD_MESSAGE, reason: 'not JSON' };
  }
  const parsed = ClientMessage.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // A number that is not finite is a bad pose (NaN arrives as null in JSON; Infinity cannot be sent as JSON at all).
    const where = issue.path.join('.');
    const code = (json as { type?: unknown })?.type === 'pose' && /^eyes\.\d+\.(view|projection)\.\d+$/.test(where) ? SESSION_CLOSE.BAD_POSE : SESSION_CLOSE.BAD_MESSAGE;
    return { ok: false, code, reason: `${where || 'message'}: ${issue.message}`.slice(0, 120) };
  }
  const message = parsed.data;
  if (message.type === 'pose') {
    const problem = poseProblem(message);
    if (problem) return { ok: false, code: SESSION_CLOSE.BAD_POSE, reason: problem.slice(0, 120) };
  }
  return { ok: true, message };
}
