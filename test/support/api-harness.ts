/**
 * A real API for HTTP tests: s3rver and the Node API on loopback ports, each in a fresh temp dir, and
 * small fetch helpers that act as clients and render nodes. Nothing is mocked.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeCardInput } from '../../api/protocol/node-card.ts';
import { LeaseBatch, NodeRegistered } from '../../api/protocol/node-messages.ts';
import { LeasedTask, NODE_PROTOCOL_VERSION, TaskAck, UploadTicket } from '../../api/protocol/task.ts';
import { newProbeNonce, probeProof } from '../../api/protocol/probe-proof.ts';
import type { RttMeasurement } from '../../api/protocol/latency.ts';
import { startLocalS3, type LocalS3 } from '../../api/node/local-s3.ts';
import { startApi, type RunningApi, type StartApiOptions } from '../../api/node/start-api.ts';
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from './fault-proxy.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type HarnessOptions = Omit<StartApiOptions, 'dataDir' | 's3' | 'port' | 'host'> & {
  /** Put a fault-injecting proxy in front of s3rver, for the API and for every presigned URL. */
  s3Faults?: Omit<FaultProxyOptions, 'target'>;
  /**
   * Something to put where nodes reach storage (presigned URLs name its URL instead of s3rver's), e.g. a
   * signature-checking gate; the API's own storage calls still go to s3rver.
   */
  storageFront?: (s3: LocalS3) => Promise<{ url: string; close(): Promise<void> }>;
};

/** The admin API key every test API accepts; `call()` sends it unless told otherwise. */
export const TEST_API_KEY = 'tsk_' + 'e57'.repeat(21) + 'e';

/** Headers that carry the test admin key, for raw fetch calls. */
export const TEST_AUTH = { authorization: `Bearer ${TEST_API_KEY}` } as const;

/** API options with the test admin key added to whatever keys the test configures. */
export function withTestKey(api: StartApiOptions['api'] = {}): NonNullable<StartApiOptions['api']> {
  return { ...api, apiKeys: [{ key: TEST_API_KEY, name: 'test admin', role: 'admin' }, ...(api.apiKeys ?? [])] };
}

export interface Harness {
  dir: string;
  /** s3rver itself (its endpoint bypasses the fault proxy: tests read the truth there). */
  s3: LocalS3;
  /** The proxy between everyone else and s3rver, when `s3Faults` was given. */
  faults?: FaultProxy;
  api: RunningApi;
  readonly url: string;
  /** Close the API and start a new one on the same data dir, storage and port (after `downMs`). */
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Start s3rver and the API in a temp dir. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-api-test-'));
  const { s3Faults, storageFront, ...apiOptions } = options;
  const s3 = await startLocalS3({ dir: path.join(dir, 's3') });
  const faults = s3Faults ? await startFaultProxy({ ...s3Faults, target: s3.endpoint }) : undefined;
  // Through the proxy, the API's own calls and the URLs it presigns for nodes and clients both meet the faults.
  const storage = faults ? { ...s3, endpoint: faults.url } : s3;
  const front = await storageFront?.(s3);
  const s3Config = front ? { ...storage, publicEndpoint: front.url } : storage;
  // Verification re-issues a random sample of tiles; tests that assert exact lease sequences need none, and
  // those about verification (or the farm as shipped) set the rate.
  const apiConfig = withTestKey({ ...options.api, verification: { sampleRate: 0, ...options.api?.verification } });
  const start = (port: number) => startApi({ ...apiOptions, api: apiConfig, dataDir: path.join(dir, 'api'), s3: s3Config, port });
  let api = await start(0);
  return {
    dir,
    s3,
    faults,
    get api() {
      return api;
    },
    get url() {
      return api.url;
    },
    async restart(downMs = 0) {
      await api.close();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      // Same port: render nodes and clients keep their URL across the restart.
      api = await start(api.port);
    },
    async close() {
      await api.close();
      await front?.close();
      await faults?.close();
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP call; JSON bodies are sent and parsed as JSON. Sends TEST_API_KEY unless `token` says otherwise (null: none). */
export async function call<T = any>(
  base: string,
  method: string,
  route: string,
  options: { json?: unknown; body?: BodyInit; type?: string; token?: string | null } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  if (options.type) headers['content-type'] = options.type;
  const token = options.token === undefined ? TEST_API_KEY : options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + route, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, headers: res.headers };
}


export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A node card as a render node would send it. */
export function nodeCard(name: string): NodeCardInput {
  return {
    name,
    region: 'test',
    version: 'test',
    cpu: { model: 'test cpu', cores: 2 },
    ramBytes: 1 << 30,
    gl: { renderer: 'test', vendor: 'test', version: '1', maxTextureSize: 16384, maxViewport: [16384, 16384] },
    tilesPerSecond: 10,
  };
}

/** A render node driven by plain HTTP calls. */
export class TestNode {
  constructor(
    readonly harness: Harness,
    readonly reg: NodeRegistered,
  ) {}

  static async register(harness: Harness, name: string, card: Partial<NodeCardInput> = {}): Promise<TestNode> {
    const res = await call<NodeRegistered>(harness.url, 'POST', '/v1/nodes', { json: { ...nodeCard(name), ...card } });
    if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
    return new TestNode(harness, NodeRegistered.parse(res.body));
  }

  get id(): string {
    return this.reg.nodeId;
  }

  /** Long-poll for a task; null on 204. */
  async lease(waitSeconds = 0): Promise<LeasedTask | null> {
    const res = await call<LeasedTask>(this.harness.url, 'POST', `/v1/nodes/${this.id}/lease`, { json: { waitSeconds, protocol: NODE_PROTOCOL_VERSION }, token: this.reg.nodeToken });
    if (res.status === 204) return null;
    if (res.status !== 200) throw new Error(`lease: ${res.status} ${JSON.stringify(res.body)}`);
    // What a real node does with the answer: it must satisfy the protocol schema.
    return LeasedTask.parse(res.body);
  }

  /** Lease up to `max` tasks (plus `ahead` lease-ahead) in one call; [] on 204. */
  async leaseBatch(max: number, opts: { ahead?: number; waitSeconds?: number } = {}): Promise<LeasedTask[]> {
    const res = await call<LeaseBatch>(this.harness.url, 'POST', `/v1/nodes/${this.id}/lease`, { json: { waitSeconds: opts.waitSeconds ?? 0, max, ahead: opts.ahead ?? 0, protocol: NODE_PROTOCOL_VERSION }, token: this.reg.nodeToken });
    if (res.status === 204) return [];
    if (res.status !== 200) throw new Error(`lease: ${res.status} ${JSON.stringify(res.body)}`);
    return LeaseBatch.parse(res.body).tasks;
  }

  /** Report `bytes` (their size and sha256, or `claim`) for an upload ticket: the raw answer. */
  reportUpload(task: LeasedTask, bytes: Uint8Array, claim: { bytes?: number; checksum?: string } = {}): Promise<Answer> {
    return call(this.harness.url, 'POST', `/v1/tasks/${task.taskId}/upload`, {
      json: { token: task.output.token, bytes: claim.bytes ?? bytes.length, checksum: claim.checksum ?? sha256(bytes) },
      token: null,
    });
  }

  /** The upload ticket for `bytes` (throws unless the API gives one). */
  async uploadTicket(task: LeasedTask, bytes: Uint8Array): Promise<UploadTicket> {
    const res = await this.reportUpload(task, bytes);
    if (res.status !== 200) throw new Error(`upload ticket: ${res.status} ${JSON.stringify(res.body)}`);
    return UploadTicket.parse(res.body);
  }

  /** Report `bytes`, PUT them through the ticket's URL with its headers (as a node does); the PUT's answer. */
  async upload(task: LeasedTask, bytes: Uint8Array<ArrayBuffer>): Promise<Response> {
    const ticket = await this.uploadTicket(task, bytes);
    return fetch(ticket.url, { method: 'PUT', body: bytes, headers: ticket.headers });
  }

  /** Report, PUT `bytes` through the upload ticket, report it done and lease up to `max` next tasks in the same call. */
  async finishAndLease(task: LeasedTask, bytes: Uint8Array<ArrayBuffer>, next: { max: number; ahead?: number }): Promise<Answer<TaskAck>> {
    const put = await this.upload(task, bytes);
    if (put.status !== 200) throw new Error(`PUT ${task.output.key}: ${put.status} ${await put.text()}`);
    const res = await call<TaskAck>(this.harness.url, 'POST', `/v1/tasks/${task.taskId}/complete`, {
      json: { leaseId: task.leaseId, checksum: sha256(bytes), bytes: bytes.length, timings: { render: 1 }, next },
      token: this.reg.nodeToken,
    });
    return res.status === 200 ? { ...res, body: TaskAck.parse(res.body) } : res;
  }

  heartbeat(leaseIds: string[]): Promise<Answer<{ serverTime: number; revoked: string[] }>> {
    return call(this.harness.url, 'POST', `/v1/nodes/${this.id}/heartbeat`, { json: { leaseIds, load: 0.5 }, token: this.reg.nodeToken });
  }

  /** Report and PUT `bytes` through the task's upload ticket, and report it done. */
  async finish(task: LeasedTask, bytes: Uint8Array<ArrayBuffer>): Promise<Answer> {
    const put = await this.upload(task, bytes);
    if (put.status !== 200) throw new Error(`PUT ${task.output.key}: ${put.status} ${await put.text()}`);
    return this.complete(task, bytes);
  }

  complete(task: LeasedTask, bytes: Uint8Array): Promise<Answer> {
    return call(this.harness.url, 'POST', `/v1/tasks/${task.taskId}/complete`, {
      json: { leaseId: task.leaseId, checksum: sha256(bytes), bytes: bytes.length, timings: { render: 1 } },
      token: this.reg.nodeToken,
    });
  }

  fail(task: LeasedTask, reason: string, sceneFault = false): Promise<Answer> {
    return call(this.harness.url, 'POST', `/v1/tasks/${task.taskId}/fail`, {
      json: { leaseId: task.leaseId, reason, sceneFault },
      token: this.reg.nodeToken,
    });
  }
}

/**
 * An RTT to `node` as a client or peer that pinged it reports it: with a fresh nonce and the node's answer
 * (HMAC with the probe key it got at registration), which the API checks before it trusts the RTT.
 */
export async function provenRtt(node: TestNode, rttMs: number): Promise<RttMeasurement> {
  const nonce = newProbeNonce();
  return { nodeId: node.id, rttMs, nonce, proof: await probeProof(node.reg.probeKey!, nonce) };
}

/** Bytes that stand in for a PNG (the API never decodes outputs). */
export function fakePng(label: string): Uint8Array<ArrayBuffer> {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  return new Uint8Array([...sig, ...new TextEncoder().encode(label)]);
}

/** Upload a GLB file from the repository; returns its scene id. */
export async function uploadSceneFile(harness: Harness, file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(path.join(ROOT, file));
  const res = await call(harness.url, 'POST', '/v1/scenes', { body: bytes, type: 'model/gltf-binary' });
  if (res.status !== 201) throw new Error(`upload ${file}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.sceneId;
}
