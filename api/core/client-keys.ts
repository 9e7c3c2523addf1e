/**
 * Client API keys: who a bearer key belongs to, its role and limits. Keys come from two places: keys
 * configured when the API starts (`ApiOptions.apiKeys`, e.g. TESSERA_API_KEY or a Workers secret), which
 * live only in memory as hashes, and keys created through `POST /v1/keys`, stored hashed in the job
 * store. Either way only the key's sha256 is ever kept, and a key's id (its owner id on jobs and scenes) is
 * derived from that hash, so a configured key owns the same jobs after every restart.
 */
import { API_KEY_PREFIX, type ApiKeyLimits, type ApiKeyRole } from '../protocol/api-keys.ts';
import { TesseraError } from '../protocol/errors.ts';
import type { Clock } from './clock.ts';
import { randomToken, sha256Hex } from './crypto-utils.ts';
import type { ApiKeyRecord, JobStore } from './job-store.ts';

/** A key given to the API at start-up. */
export interface ConfiguredApiKey {
  key: string;
  name?: string;
  /** Default admin: a configured key is the operator's. */
  role?: ApiKeyRole;
  limits?: ApiKeyLimits;
}

/** The limits every key of a role has unless the key sets its own. */
export type RoleLimits = Record<ApiKeyRole, Required<ApiKeyLimits>>;

export const ROLE_LIMIT_DEFAULTS: RoleLimits = {
  // 20 requests a second sustained (a polling client needs ~1), bursts of 200 (a 100-frame download).
  // Priority above the default (50) is the operator's to give; 100,000 MP a day is ~48,000 1080p frames.
  // 200,000 active tasks: two jobs of the most tasks one job may have (MAX_JOB_TASKS), or 100 jobs of 2,000.
  client: { requestsPerMinute: 1200, burst: 200, maxActiveJobs: 100, maxActiveTasks: 200_000, maxPriority: 50, megapixelsPerDay: 100_000, maxEventStreams: 20, maxOpenSessions: 4 },
  admin: { requestsPerMinute: 60_000, burst: 10_000, maxActiveJobs: 10_000, maxActiveTasks: 1e9, maxPriority: 100, megapixelsPerDay: 1e12, maxEventStreams: 10_000, maxOpenSessions: 1_000 },
  // Join tokens register nodes and nothing else: a registration a second, in bursts of 30 (a farm coming up).
  node: { requestsPerMinute: 60, burst: 30, maxActiveJobs: 0, maxActiveTasks: 0, maxPriority: 0, megapixelsPerDay: 0, maxEventStreams: 0, maxOpenSessions: 0 },
};

/** The authenticated caller of a client route. */
export interface Principal {
  keyId: string;
  name: string;
  role: ApiKeyRole;
  limits: Required<ApiKeyLimits>;
}

/** The id of the key with this hash: stable, and reveals nothing usable. */
export function keyIdOf(keyHash: string): string {
  return `key_${keyHash.slice(0, 24)}`;
}

/** A new random key. */
export function newApiKey(): string {
  return API_KEY_PREFIX + randomToken();
}

export class ClientKeys {
  readonly #jobs: JobStore;
  readonly #clock: Clock;
  readonly #roleLimits: RoleLimits;
  readonly #configured: Promise<Map<string, Principal>>;

  constructor(jobs: JobStore, clock: Clock, configured: readonly ConfiguredApiKey[], roleLimits: RoleLimits) {
    this.#jobs = jobs;
    this.#clock = clock;
    this.#roleLimits = roleLimits;
    this.#configured = Promise.all(
      configured.map(async (k, i) => {
        const hash = await sha256Hex(k.key);
        const role = k.role ?? 'admin';
        return [hash, { keyId: keyIdOf(hash), name: k.name ?? `configured-${i + 1}`, role, limits: this.#limits(role, k.limits) }] as const;
      }),
    ).then((entries) => new Map(entries));
  }

  /** The principal a bearer key belongs to; throws UNAUTHORIZED naming what is wrong. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) {
      throw new TesseraError('UNAUTHORIZED', 'Send an API key as "Authorization: Bearer <key>" (the CLI and SDK read TESSERA_API_KEY).');
    }
    const hash = await sha256Hex(m[1]);
    const configured = (await this.#configured).get(hash);
    if (configured) return configured;
    const stored = await this.#jobs.findApiKeyByHash(hash);
    if (!stored) throw new TesseraError('UNAUTHORIZED', 'The API key is not valid. Node tokens are not API keys; ask the operator for a key.');
    if (stored.revokedAt !== null) throw new TesseraError('UNAUTHORIZED', `The API key "${stored.name}" was revoked; ask the operator for a new one.`);
    return { keyId: stored.keyId, name: stored.name, role: stored.role, limits: this.#limits(stored.role, stored.limits ?? undefined) };
  }

  /** Create and store a key; returns the record and the key, which is never shown again. */
  async create(input: { name: string; role: ApiKeyRole; limits?: ApiKeyLimits }): Promise<{ record: ApiKeyRecord; key: string }> {
    const key = newApiKey();
    const keyHash = await sha256Hex(key);
    const record: ApiKeyRecord = {
      keyId: keyIdOf(keyHash),
      keyHash,
      name: input.name,
      role: input.role,
      limits: input.limits ?? null,
      createdAt: this.#clock.now(),
      revokedAt: null,
    };
    await this.#jobs.putApiKey(record);
    return { record, key };
  }

  #limits(role: ApiKeyRole, own: ApiKeyLimits | undefined): Required<ApiKeyLimits> {
    const defined = Object.fromEntries(Object.entries(own ?? {}).filter(([, v]) => v !== undefined));
    return { ...this.#roleLimits[role], ...defined };
  }
}

/** Whether `principal` may see a record owned by `owner` (admins see everything). */
export function mayAccess(principal: Principal, owner: string | null): boolean {
  return principal.role === 'admin' || owner === principal.keyId;
}
