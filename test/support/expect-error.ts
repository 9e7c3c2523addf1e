/** An assertion for API tests, apart from the harness so the harness also runs outside vitest (the soak). */
import { expect } from 'vitest';
import { ERRORS, type ErrorCode } from '../../api/protocol/errors.ts';
import type { Answer } from './api-harness.ts';

/** Assert an error answer: `{code, message}` with the code's status (and a message matching `pattern`). */
export function expectError(res: Answer, code: ErrorCode, pattern?: RegExp): void {
  expect(res.body, JSON.stringify(res.body)).toEqual({ code, message: expect.any(String) });
  expect(res.status).toBe(ERRORS[code].status);
  if (pattern) expect(res.body.message).toMatch(pattern);
}
