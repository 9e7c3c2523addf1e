/**
 * A leased task's right to upload its output, as a token the lease carries (`output.token`): the task, lease,
 * node, attempt key and byte bound, signed with a key derived from the farm's ticket key. `POST
 * /v1/tasks/:id/upload` checks it without the store (on Workers: no Durable Object request per upload), then
 * presigns a PUT for exactly the bytes reported. It opens what the old presigned PUT opened (one attempt's key
 * until the URLs' lifetime), now only for bytes the node named, within the task's bound; completing still
 * needs the current lease.
 */
import { z } from 'zod';
import { TesseraError } from '../protocol/errors.ts';
import { fromBase64Url, hmacSha256, toBase64Url } from '../protocol/session-ticket.ts';

const PURPOSE = 'upload-capability-v1';
const enc = new TextEncoder();

/** What an upload token grants. */
export const UploadGrant = z.object({
  taskId: z.string(),
  leaseId: z.string(),
  nodeId: z.string(),
  /** The attempt's key (object-keys.ts attemptKey); the object written is claimedAttemptKey of it. */
  key: z.string(),
  /** Attempt number (for claimedAttemptKey). */
  attempt: z.number().int().min(1),
  outputKey: z.string(),
  maxBytes: z.number().int().min(0),
  /** Epoch ms after which the token is refused. */
  expiresAt: z.number(),
});
export type UploadGrant = z.infer<typeof UploadGrant>;

/**
 * Sign `grant` with `key` (SessionTickets.derivedKey of this module's purpose); `hmacSync`: the same HMAC-SHA256
 * computed at once (ApiDeps.hmacSha256Sync), else WebCrypto's.
 */
export async function mintUploadToken(key: Uint8Array, grant: UploadGrant, hmacSync?: (key: Uint8Array, data: Uint8Array) => Uint8Array): Promise<string> {
  const body = toBase64Url(enc.encode(JSON.stringify(grant)));
  const data = enc.encode(body);
  return `${body}.${toBase64Url(hmacSync ? hmacSync(key, data) : await hmacSha256(key, data))}`;
}

/** The grant `token` carries for task `taskId`; UNAUTHORIZED when it is forged, for another task, or expired. */
export async function checkUploadToken(key: Uint8Array, token: string, taskId: string, now: number): Promise<UploadGrant> {
  const [body, mac, extra] = token.split('.');
  const refuse = (why: string) => new TesseraError('UNAUTHORIZED', `The upload token ${why}; use the token of the task's current lease.`);
  if (!body || !mac || extra !== undefined) throw refuse('is malformed');
  let given: Uint8Array;
  try {
    given = fromBase64Url(mac);
  } catch {
    throw refuse('is malformed');
  }
  const expected = await hmacSha256(key, enc.encode(body));
  if (!equalBytes(given, expected)) throw refuse('is not one this farm signed');
  let grant: UploadGrant;
  try {
    grant = UploadGrant.parse(JSON.parse(new TextDecoder().decode(fromBase64Url(body))));
  } catch {
    throw refuse('is malformed');
  }
  if (grant.taskId !== taskId) throw refuse(`is for another task`);
  if (now > grant.expiresAt) throw refuse('has expired');
  return grant;
}

/** The purpose string of the derived key. */
export const UPLOAD_CAPABILITY_PURPOSE = PURPOSE;

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
