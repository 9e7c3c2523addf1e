/**
 * The OpenAPI shapes every route repeats: a JSON request body and a JSON answer, each described by a
 * protocol schema. The error answers are `errorResponses` (error-responses.ts); security is
 * `clientSecurity` (client-auth.ts) or `nodeSecurity` (node-auth.ts).
 */
import type { z } from 'zod';

/** A required JSON request body of this schema. */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return { required: true as const, content: { 'application/json': { schema } } };
}

/** A JSON request body of this schema that may be left out. */
export function optionalJsonBody<S extends z.ZodType>(schema: S) {
  return { required: false as const, content: { 'application/json': { schema } } };
}

/** A JSON answer of this schema. */
export function jsonResponse<S extends z.ZodType>(description: string, schema: S) {
  return { description, content: { 'application/json': { schema } } };
}
