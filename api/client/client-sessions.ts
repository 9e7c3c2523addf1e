import { SessionCreated, SessionView, type SessionRequestInput } from '../protocol/session.ts';
import { SessionSampleView, type SessionSampleRequest } from '../protocol/session-sample.ts';
import { openSession, type InteractiveSession, type OpenSessionOptions, type SessionApi } from './interactive-session.ts';
import type { ClientTransport } from './client-transport.ts';

// The SDK's interactive-session calls: place, read and close a session through the API, and `openSession`
// (interactive-session.ts), which streams it from its node.

/** The session calls of {@link TesseraClient}. */
export interface ClientSessions {
  /** `POST /v1/sessions`: place an interactive session; use {@link TesseraClient.openSession} to stream it. */
  createSession(request: SessionRequestInput, opts?: { signal?: AbortSignal }): Promise<SessionCreated>;
  /** `GET /v1/sessions/:id`. */
  getSession(sessionId: string, opts?: { signal?: AbortSignal }): Promise<SessionView>;
  /** `DELETE /v1/sessions/:id`. */
  deleteSession(sessionId: string, opts?: { signal?: AbortSignal }): Promise<SessionView>;
  /** `POST /v1/sessions/:id/samples`: report a received frame for verification (session-sample.ts). */
  reportSessionSample(sessionId: string, sample: SessionSampleRequest, opts?: { signal?: AbortSignal }): Promise<SessionSampleView>;
  /** `GET /v1/sessions/:id/samples/:sampleId`: a reported frame's verdict so far. */
  getSessionSample(sessionId: string, sampleId: string, opts?: { signal?: AbortSignal }): Promise<SessionSampleView>;
  /**
   * Open an interactive (VR) session: probe, place it on the nearest capable node, connect to that node's
   * WebSocket and stream poses → frames; re-opens on another node when its node dies.
   */
  openSession(options: OpenSessionOptions): Promise<InteractiveSession>;
}

/** `client` is the composed client (openSession probes through it); it is read when a session opens. */
export function createClientSessions({ json }: ClientTransport, client: () => SessionApi): ClientSessions {
  return {
    createSession: (request, { signal } = {}) =>
      json(SessionCreated, 'POST', '/v1/sessions', { body: JSON.stringify(request), contentType: 'application/json', signal }),
    getSession: (sessionId, { signal } = {}) => json(SessionView, 'GET', `/v1/sessions/${encodeURIComponent(sessionId)}`, { idempotent: true, signal }),
    deleteSession: (sessionId, { signal } = {}) => json(SessionView, 'DELETE', `/v1/sessions/${encodeURIComponent(sessionId)}`, { idempotent: true, signal }),
    reportSessionSample: (sessionId, sample, { signal } = {}) =>
      json(SessionSampleView, 'POST', `/v1/sessions/${encodeURIComponent(sessionId)}/samples`, { body: JSON.stringify(sample), contentType: 'application/json', signal }),
    getSessionSample: (sessionId, sampleId, { signal } = {}) =>
      json(SessionSampleView, 'GET', `/v1/sessions/${encodeURIComponent(sessionId)}/samples/${encodeURIComponent(sampleId)}`, { idempotent: true, signal }),
    openSession: (options) => openSession(client(), options),
  };
}
