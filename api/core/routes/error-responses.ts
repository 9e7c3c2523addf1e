/** OpenAPI descriptions of the `{code, message}` error answers, so the document lists them per route. */
import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../../protocol/errors.ts';

/** Every error the API answers with. */
export const ErrorBody = z.object({
  code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
});

/** Response entries for the given error codes, grouped by status. */
export function errorResponses(...codes: ErrorCode[]): Record<number, { description: string; content: { 'application/json': { schema: typeof ErrorBody } } }> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      { description: list.map((c) => `${c}: ${ERRORS[c].message}`).join(' '), content: { 'application/json': { schema: ErrorBody } } },
    ]),
  );
}
