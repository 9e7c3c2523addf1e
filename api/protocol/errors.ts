/**
 * The one error table: every failure Tessera reports has a code, an HTTP status and a CLI exit code.
 * Routes and the CLI throw {@link TesseraError}; one handler turns it into `{code, message}`.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, exit: 2, message: 'The request is invalid.' },
  BAD_SPEC: { status: 400, exit: 2, message: 'The render spec is invalid.' },
  SCENE_NOT_FOUND: { status: 404, exit: 2, message: 'The scene file does not exist.' },
  SCENE_MALFORMED: { status: 422, exit: 2, message: 'The scene is not a valid glTF 2.0 file.' },
  SCENE_UNSUPPORTED: { status: 422, exit: 2, message: 'The scene needs a feature this renderer does not support.' },
  SCENE_EXTERNAL_URI: { status: 422, exit: 2, message: 'The scene refers to a resource outside its own files.' },
  SCENE_LIMIT_EXCEEDED: { status: 413, exit: 2, message: 'The scene exceeds a configured limit.' },
  SCENE_TEXTURE_FAILED: { status: 422, exit: 2, message: 'A texture of the scene could not be decoded.' },
  SCENE_INDEX_NOT_FOUND: { status: 422, exit: 2, message: 'The requested glTF scene does not exist.' },
  CAMERA_NOT_FOUND: { status: 422, exit: 2, message: 'The requested camera does not exist in the scene.' },
  CLIP_NOT_FOUND: { status: 422, exit: 2, message: 'The requested animation clip does not exist in the scene.' },
  FRAME_OUT_OF_RANGE: { status: 422, exit: 2, message: 'A requested frame is outside the animation.' },
  UNAUTHORIZED: { status: 401, exit: 2, message: 'Missing or invalid credentials.' },
  FORBIDDEN: { status: 403, exit: 2, message: 'These credentials may not do that.' },
  NODE_OUTDATED: { status: 426, exit: 1, message: 'This render node speaks an older node protocol than this API; upgrade tessera on the node.' },
  NODE_BLOCKLISTED: { status: 403, exit: 1, message: 'This node is blocklisted: its results disagreed with other nodes too often.' },
  NOT_FOUND: { status: 404, exit: 2, message: 'No such resource.' },
  SCENE_UNKNOWN: { status: 404, exit: 2, message: 'No scene with that id has been uploaded.' },
  JOB_NOT_FOUND: { status: 404, exit: 2, message: 'No job with that id.' },
  SESSION_NOT_FOUND: { status: 404, exit: 2, message: 'No session with that id.' },
  SAMPLE_UNSIGNED: { status: 422, exit: 2, message: 'The reported frame does not carry its node\'s signature over these bytes and this pose.' },
  SAMPLE_UNVERIFIABLE: { status: 422, exit: 2, message: 'Frames of this session cannot be checked against a batch render.' },
  NODE_NOT_FOUND: { status: 404, exit: 2, message: 'No node with that id; register again.' },
  TASK_NOT_FOUND: { status: 404, exit: 2, message: 'No task with that id.' },
  LEASE_LOST: { status: 409, exit: 1, message: 'The lease on this task expired or belongs to another node.' },
  JOB_FINISHED: { status: 409, exit: 2, message: 'The job has already finished.' },
  OUTPUT_MISSING: { status: 422, exit: 1, message: 'The task output is not in storage.' },
  OUTPUT_CORRUPT: { status: 422, exit: 1, message: 'The stored task output differs from the size or sha256 the node reported; the attempt failed.' },
  PAYLOAD_TOO_LARGE: { status: 413, exit: 2, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, exit: 2, message: 'The request body has an unsupported content type.' },
  RATE_LIMITED: { status: 429, exit: 1, message: 'Too many requests; retry later.' },
  QUOTA_EXCEEDED: { status: 429, exit: 1, message: 'This API key has reached a quota; retry when some of its jobs have finished.' },
  JOB_FAILED: { status: 500, exit: 1, message: 'The job failed.' },
  STORAGE_FAILED: { status: 502, exit: 1, message: 'The storage service failed.' },
  NO_CAPABLE_NODE: { status: 422, exit: 1, message: 'No registered render node can do this; retrying will not help until the operator starts one that can.' },
  UNAVAILABLE: { status: 503, exit: 1, message: 'The service is busy or starting; retry later.' },
  GL_UNAVAILABLE: { status: 503, exit: 1, message: 'No GL context could be created on this machine.' },
  RENDER_FAILED: { status: 500, exit: 1, message: 'Rendering failed.' },
  INTERNAL: { status: 500, exit: 1, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; exit: 1 | 2; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The generic code for an HTTP status, for answers that carry no `{code, message}` of their own. */
export const CODE_FOR_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  502: 'STORAGE_FAILED',
  503: 'UNAVAILABLE',
  504: 'UNAVAILABLE',
};

/** An error with a code from {@link ERRORS} and a sentence that says what failed and what to do. */
export class TesseraError extends Error {
  readonly code: ErrorCode;
  /** For 429/503 answers: when to try again (the Retry-After header). */
  readonly retryAfterSeconds: number | undefined;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'TesseraError';
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
  get status(): number {
    return ERRORS[this.code].status;
  }
  get exitCode(): 1 | 2 {
    return ERRORS[this.code].exit;
  }
  /** The wire form every API error takes. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Whether `err` is a {@link TesseraError}, optionally with the given code. */
export function isTesseraError(err: unknown, code?: ErrorCode): err is TesseraError {
  return err instanceof TesseraError && (code === undefined || err.code === code);
}
