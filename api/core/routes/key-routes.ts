/**
 * API keys: admins create, list and revoke client keys; any key can ask who it is. A created key is in the
 * answer once and never again (only its sha256 is stored).
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { ApiKeyCreated, ApiKeyList, ApiKeyView, CreateApiKey, KeyIdentity } from '../../protocol/api-keys.ts';
import { TesseraError } from '../../protocol/errors.ts';
import type { ApiContext } from '../api-context.ts';
import type { ApiKeyRecord } from '../job-store.ts';
import { clientSecurity, principalOf, requireAdmin } from './client-auth.ts';
import { errorResponses } from './error-responses.ts';

const KeyParams = z.object({ id: z.string().regex(/^key_[0-9a-f]{24}$/, 'a key id looks like key_ and 24 hex digits') });

const createKey = createRoute({
  method: 'post',
  path: '/v1/keys',
  tags: ['keys'],
  summary: 'Create an API key (admin)',
  security: clientSecurity,
  request: { body: { required: true, content: { 'application/json': { schema: CreateApiKey } } } },
  responses: {
    201: { description: 'Created; `key` is shown only this once.', content: { 'application/json': { schema: ApiKeyCreated } } },
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'RATE_LIMITED'),
  },
});

const listKeys = createRoute({
  method: 'get',
  path: '/v1/keys',
  tags: ['keys'],
  summary: 'List the stored API keys (admin)',
  description: 'Keys configured at start-up (TESSERA_API_KEY, secrets) are not stored and not listed.',
  security: clientSecurity,
  responses: {
    200: { description: 'The keys, never the keys themselves.', content: { 'application/json': { schema: ApiKeyList } } },
    ...errorResponses('UNAUTHORIZED', 'FORBIDDEN', 'RATE_LIMITED'),
  },
});

const revokeKey = createRoute({
  method: 'delete',
  path: '/v1/keys/{id}',
  tags: ['keys'],
  summary: 'Revoke an API key (admin)',
  security: clientSecurity,
  request: { params: KeyParams },
  responses: {
    200: { description: 'Revoked (or already revoked).', content: { 'application/json': { schema: ApiKeyView } } },
    ...errorResponses('BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'RATE_LIMITED'),
  },
});

const whoAmI = createRoute({
  method: 'get',
  path: '/v1/keys/me',
  tags: ['keys'],
  summary: 'The key this request carries: id, name, role, limits',
  security: clientSecurity,
  responses: {
    200: { description: 'The key.', content: { 'application/json': { schema: KeyIdentity } } },
    ...errorResponses('UNAUTHORIZED', 'RATE_LIMITED'),
  },
});

const toView = (r: ApiKeyRecord): ApiKeyView => ({ keyId: r.keyId, name: r.name, role: r.role, limits: r.limits, createdAt: r.createdAt, revokedAt: r.revokedAt });

/** Register the key routes. */
export function registerKeyRoutes(app: OpenAPIHono, ctx: ApiContext): void {
  app.openapi(whoAmI, (c) => {
    const { keyId, name, role, limits } = principalOf(c);
    return c.json({ keyId, name, role, limits }, 200);
  });

  app.openapi(createKey, async (c) => {
    const admin = requireAdmin(c);
    const input = c.req.valid('json');
    const { record, key } = await ctx.keys.create(input);
    ctx.logger.info({ keyId: record.keyId, name: record.name, role: record.role, by: admin.keyId }, 'API key created');
    return c.json({ ...toView(record), key }, 201);
  });

  app.openapi(listKeys, async (c) => {
    requireAdmin(c);
    return c.json({ keys: (await ctx.jobs.listApiKeys()).map(toView) }, 200);
  });

  app.openapi(revokeKey, async (c) => {
    const admin = requireAdmin(c);
    const { id } = c.req.valid('param');
    const record = await ctx.jobs.revokeApiKey(id, ctx.clock.now());
    if (!record) throw new TesseraError('NOT_FOUND', `No stored API key with id ${id} (keys configured at start-up are removed from the configuration).`);
    ctx.logger.info({ keyId: id, by: admin.keyId }, 'API key revoked');
    return c.json(toView(record), 200);
  });
}
