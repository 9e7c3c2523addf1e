/**
 * The one place errors become HTTP answers, all shaped `{code, message}` with the status from ERRORS:
 * TesseraError as it is; validation failures as 400 BAD_REQUEST naming the field; Hono's own HTTP
 * exceptions (malformed JSON, wrong content type, body too large) mapped onto the table; anything else
 * as 500 INTERNAL, logged with its stack but never sent to the client.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ZodError, type core } from 'zod';
import { CODE_FOR_STATUS, ERRORS, TesseraError } from '../protocol/errors.ts';
import type { Logger } from './logger.ts';

/** `{code, message}` with the code's status. */
export function errorResponse(c: Context, err: TesseraError): Response {
  return c.json(err.toJSON(), ERRORS[err.code].status as ContentfulStatusCode);
}

/** A BAD_REQUEST whose message names each invalid field (at most five) and what is wrong with it. */
export function validationError(issues: readonly core.$ZodIssue[], where: string): TesseraError {
  const parts = issues.slice(0, 5).map((issue) => {
    const field = issue.path.length ? issue.path.map(String).join('.') : where;
    return `${field}: ${issue.message}`;
  });
  if (issues.length > 5) parts.push(`and ${issues.length - 5} more`);
  return new TesseraError('BAD_REQUEST', `Invalid ${where}: ${parts.join('; ')}.`);
}


/** Turn any thrown value into the TesseraError the client sees. */
export function toTesseraError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  if (err instanceof ZodError) return validationError(err.issues, 'request');
  if (err instanceof HTTPException) {
    const code = CODE_FOR_STATUS[err.status];
    if (code === 'BAD_REQUEST' && /json/i.test(err.message)) {
      return new TesseraError('BAD_REQUEST', 'The request body is not valid JSON.', { cause: err });
    }
    if (code === 'UNSUPPORTED_MEDIA_TYPE') {
      return new TesseraError(code, 'The request body has an unsupported content type; send application/json.', { cause: err });
    }
    if (code) return new TesseraError(code, undefined, { cause: err });
  }
  return new TesseraError('INTERNAL', undefined, { cause: err });
}

/** The app's onError: answer `{code, message}`; log server faults with their cause. */
export function createErrorHandler(logger: Logger): ErrorHandler {
  return function handleError(err, c) {
    const answer = toTesseraError(err);
    const status = ERRORS[answer.code].status;
    if (status >= 500) {
      logger.error({ err, code: answer.code, method: c.req.method, path: c.req.path }, 'request failed');
    } else {
      logger.debug({ code: answer.code, message: answer.message, method: c.req.method, path: c.req.path }, 'request refused');
    }
    const res = errorResponse(c, answer);
    // Refused before its body was read (too large, wrong type): a client reusing the connection would
    // find the unread bytes in the way, so end it after this answer.
    if (c.req.raw.body && !c.req.raw.bodyUsed) res.headers.set('Connection', 'close');
    if (answer.retryAfterSeconds !== undefined || status === 429 || status === 503) {
      res.headers.set('Retry-After', String(Math.max(1, Math.ceil(answer.retryAfterSeconds ?? 1))));
    }
    return res;
  };
}

/** 404 for routes that do not exist, in the same shape as every other error. */
export const notFound: NotFoundHandler = function notFound(c) {
  return errorResponse(c, new TesseraError('NOT_FOUND', `No route for ${c.req.method} ${c.req.path}.`));
};
