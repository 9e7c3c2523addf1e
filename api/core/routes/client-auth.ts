/**
 * Client authentication: routes clients use (scenes, jobs, keys, node search) need an API key as
 * `Authorization: Bearer <key>`; each key's requests are rate limited (429 + Retry-After). Node routes use
 * node tokens instead (node-auth.ts); health and the OpenAPI document are public, and so is node
 * registration, so that anyone can offer a render node (unless the operator requires join tokens: node-admission.ts).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { TesseraError } from '../../protocol/errors.ts';
import type { ApiContext } from '../api-context.ts';
import type { Principal } from '../client-keys.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** The API key behind a client route's request. */
    principal: Principal;
  }
}

/** The security scheme name used in the OpenAPI document. */
export const CLIENT_AUTH = 'apiKey';
/** `security` for a client route's OpenAPI definition. */
export const clientSecurity = [{ [CLIENT_AUTH]: [] }];

/** Path prefixes of client routes. */
const CLIENT_PREFIXES = ['/v1/scenes', '/v1/jobs', '/v1/keys', '/v1/quote', '/v1/ledger', '/v1/sessions'];
/** Node routes clients read (search, which nodes to ping, a PoP's RTTs to nodes); the rest of /v1/nodes is for nodes. */
const CLIENT_NODE_PATHS = new Set(['/v1/nodes', '/v1/nodes/nearby', '/v1/edge/rtts']);

/**
 * Whether a request goes to a client route. Decided by path and never by "is it a GET": Hono answers HEAD
 * with the GET handler, so only registration (POST /v1/nodes) is let through on the client node paths.
 */
export function needsApiKey(method: string, path: string): boolean {
  if (CLIENT_NODE_PATHS.has(path)) return !(method === 'POST' && path === '/v1/nodes');
  return CLIENT_PREFIXES.some((p) => path === p || path.startsWith(p + '/'));
}

/** Authenticate and rate-limit client routes before their bodies are read. */
export function clientAuth(ctx: ApiContext): MiddlewareHandler {
  return async function authenticateClient(c, next) {
    if (c.req.method === 'OPTIONS' || !needsApiKey(c.req.method, c.req.path)) return next();
    const principal = await ctx.keys.authenticate(c.req.header('authorization'));
    // A join token registers nodes and does nothing else.
    if (principal.role === 'node') throw new TesseraError('FORBIDDEN', `API key "${principal.name}" is a node join token; it can only register render nodes (POST /v1/nodes).`);
    const decision = ctx.limiter.take(principal.keyId, principal.limits, ctx.clock.now());
    if (!decision.ok) {
      const seconds = Math.ceil(decision.retryAfterMs / 1000);
      throw new TesseraError(
        'RATE_LIMITED',
        `API key "${principal.name}" may make ${principal.limits.requestsPerMinute} requests a minute (bursts of ${principal.limits.burst}); retry in ${seconds} s.`,
        { retryAfterSeconds: seconds },
      );
    }
    c.set('principal', principal);
    return next();
  };
}

/** The caller of a client route (set by {@link clientAuth}). */
export function principalOf(c: Context): Principal {
  const principal = c.get('principal');
  if (!principal) throw new TesseraError('INTERNAL', `No API key was checked for ${c.req.method} ${c.req.path}.`);
  return principal;
}

/** Refuse callers that are not admins. */
export function requireAdmin(c: Context): Principal {
  const principal = principalOf(c);
  if (principal.role !== 'admin') throw new TesseraError('FORBIDDEN', `API key "${principal.name}" is a client key; this needs an admin key.`);
  return principal;
}

/** The errors every client route may answer with, for its OpenAPI definition. */
export const CLIENT_AUTH_ERRORS = ['UNAUTHORIZED', 'RATE_LIMITED'] as const;
