import { errorFromResponse } from '../../api/protocol/error-from-response.ts';
import { isTesseraError, TesseraError } from '../../api/protocol/errors.ts';
import { RetriesExhaustedError, withRetries } from '../../api/protocol/with-retries.ts';
import { NodeRegistered, HeartbeatAck, LeaseBatch, type Heartbeat } from '../../api/protocol/node-messages.ts';
import type { NodeCard } from '../../api/protocol/node-card.ts';
import { NodeReachability } from '../../api/protocol/node-reachability.ts';
import { LeasedTask, NODE_PROTOCOL_VERSION, TaskAck, UploadTicket, type TaskComplete, type TaskFail, type UploadRequest } from '../../api/protocol/task.ts';
import { LeasedSession } from '../../api/protocol/session.ts';
import { NodeLedger } from '../../api/protocol/metering.ts';

/** Tries of one completion in all (the first included), and the backoff between them. */
const COMPLETE_RETRIES = { attempts: 3, baseDelayMs: 250, maxDelayMs: 2000 };

/** The node side of the node ↔ API protocol: plain fetch calls, every failure a TesseraError. */
export class NodeApi {
  private token = '';
  nodeId = '';

  /** `joinToken`: the operator's join token, sent with registration (APIs that require one refuse nodes without). */
  constructor(
    readonly baseUrl: string,
    private readonly joinToken?: string,
  ) {}

  async register(card: NodeCard): Promise<NodeRegistered> {
    const res = NodeRegistered.parse(await this.call('POST', '/v1/nodes', card, { auth: this.joinToken ? this.joinToken : false }));
    this.nodeId = res.nodeId;
    this.token = res.nodeToken;
    return res;
  }

  async heartbeat(body: Heartbeat): Promise<HeartbeatAck> {
    return HeartbeatAck.parse(await this.call('POST', `/v1/nodes/${this.nodeId}/heartbeat`, body));
  }

  /** Long-poll for a task; `null` when none arrived in `waitSeconds`. */
  async lease(waitSeconds: number, signal?: AbortSignal): Promise<LeasedTask | null> {
    const body = await this.call('POST', `/v1/nodes/${this.nodeId}/lease`, { waitSeconds, protocol: NODE_PROTOCOL_VERSION }, { signal, timeoutMs: (waitSeconds + 15) * 1000 });
    return body === null ? null : LeasedTask.parse(body);
  }

  /** Long-poll for up to `max` tasks (the API stops at the free slots) plus `ahead` lease-ahead; [] when none came. */
  async leaseBatch(waitSeconds: number, max: number, ahead: number, signal?: AbortSignal): Promise<LeasedTask[]> {
    const body = await this.call('POST', `/v1/nodes/${this.nodeId}/lease`, { waitSeconds, max, ahead, protocol: NODE_PROTOCOL_VERSION }, { signal, timeoutMs: (waitSeconds + 15) * 1000 });
    return body === null ? [] : LeaseBatch.parse(body).tasks;
  }

  /** Long-poll for a session placed on this node; `null` when none arrived in `waitSeconds`. */
  async leaseSession(waitSeconds: number, signal?: AbortSignal): Promise<LeasedSession | null> {
    const body = await this.call('POST', `/v1/nodes/${this.nodeId}/lease`, { waitSeconds, kinds: ['session'], protocol: NODE_PROTOCOL_VERSION }, { signal, timeoutMs: (waitSeconds + 15) * 1000 });
    return body === null ? null : LeasedSession.parse(body);
  }

  /** Report an output's size and sha256 before uploading it: the answer is a PUT signed for exactly those bytes. */
  async uploadTicket(taskId: string, body: UploadRequest, signal?: AbortSignal): Promise<UploadTicket> {
    return UploadTicket.parse(await this.call('POST', `/v1/tasks/${taskId}/upload`, body, { signal }));
  }

  /**
   * Report a task done; with `next`, the answer carries the tasks leased in the same call. Tried again when the API
   * could not be reached or its storage failed for a moment: a completion is safe to repeat (the API answers one
   * it already recorded the same way and writes and credits nothing again), and one that carries its output
   * inline would otherwise lose the output with it.
   */
  async complete(taskId: string, body: TaskComplete): Promise<TaskAck> {
    try {
      return await withRetries(`POST /v1/tasks/${taskId}/complete`, async () => TaskAck.parse(await this.call('POST', `/v1/tasks/${taskId}/complete`, body)), {
        ...COMPLETE_RETRIES,
        retryable: (err) => isTesseraError(err, 'UNAVAILABLE') || isTesseraError(err, 'STORAGE_FAILED'),
      });
    } catch (err) {
      // The last failure as it was (callers look at its code).
      throw err instanceof RetriesExhaustedError ? err.cause : err;
    }
  }

  async fail(taskId: string, body: TaskFail): Promise<void> {
    await this.call('POST', `/v1/tasks/${taskId}/fail`, body);
  }

  /** This node's credited work (what it earned so far). */
  async ledger(): Promise<NodeLedger> {
    return NodeLedger.parse(await this.call('GET', `/v1/nodes/${this.nodeId}/ledger`, undefined));
  }

  /**
   * Hand a task back while the page (or process) goes away: a keepalive request the browser still sends
   * after the tab closed (no answer is awaited).
   */
  failOnUnload(taskId: string, body: TaskFail): void {
    void fetch(new URL(`/v1/tasks/${taskId}/fail`, this.baseUrl), {
      method: 'POST',
      keepalive: true,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify(body),
    }).catch(() => {});
  }

  /** Ask the API to fetch this node's advertised probe URL (it must be registered). */
  async reachability(): Promise<NodeReachability> {
    return NodeReachability.parse(await this.call('POST', `/v1/nodes/${this.nodeId}/reachability`, {}, { timeoutMs: 30_000 }));
  }

  /** `auth`: false sends no Authorization, a string sends that bearer, else the node token. */
  private async call(method: string, path: string, body: unknown, opts: { auth?: boolean | string; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<unknown> {
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 30_000)];
    if (opts.signal) signals.push(opts.signal);
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(opts.auth === false ? {} : { authorization: `Bearer ${typeof opts.auth === 'string' ? opts.auth : this.token}` }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any(signals),
      });
    } catch (cause) {
      if (opts.signal?.aborted) throw cause;
      throw new TesseraError('UNAVAILABLE', `cannot reach the API at ${this.baseUrl} (${method} ${path}): ${(cause as Error).message}`, { cause });
    }
    if (res.status === 204) return null;
    if (!res.ok) throw await errorFromResponse(res, `${method} ${path}`);
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }
}
