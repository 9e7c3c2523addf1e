// The Tessera client SDK: fetch only, so it runs in Node, browsers, workers and VR web apps.
export { createTesseraClient, CLIENT_DEFAULTS, isFinished, progressOf } from './tessera-client.ts';
export type { KeyIdentity } from '../protocol/api-keys.ts';
export type { JobProgress, JobSubmitted, ProbeOptions, ProbeResult, TesseraClient, TesseraClientOptions, WaitOptions } from './tessera-client.ts';
export { pingUrl, pingProven, type PingOptions, type ProvenRtt } from '../protocol/ping-url.ts';
export { timeEdgePing } from '../protocol/time-edge-ping.ts';
export { localStorageProbeHistory, memoryProbeHistory, type ProbeHistoryStore, type ProbeMemory } from './probe-history.ts';
export { readServerSentEvents, type ServerSentEvent } from './read-server-sent-events.ts';
export { TesseraError, isTesseraError, type ErrorCode } from '../protocol/errors.ts';
export type { JobRequestInput } from '../protocol/job-spec.ts';
export type { ApiKeyCreated, ApiKeyView, CreateApiKey } from '../protocol/api-keys.ts';
export type { JobEvent, JobFrames, JobStatus, JobSummary, SceneUploaded } from '../protocol/job-status.ts';
export type { JobClientInput, JobRequirements, NearbyNodes, NodeList, NodeReputation, NodeView, RttMeasurement, TaskRouteView } from '../protocol/latency.ts';
export type { JobLedger, LedgerEntry, NodeLedger, Quote, Usage } from '../protocol/metering.ts';
export { openSession, type InteractiveSession, type OpenSessionOptions, type PoseInput, type SessionFrame, type SessionStatsView } from './interactive-session.ts';
export type { EyePose, ReadyMessage, SessionCreated, SessionRequestInput, SessionView } from '../protocol/session.ts';
export { decodeFrame, type FrameHeader } from '../protocol/session-frame.ts';
export { SESSION_CLOSE } from '../protocol/session.ts';
