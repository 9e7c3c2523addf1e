import { CODE_FOR_STATUS, ERRORS, TesseraError, type ErrorCode } from './errors.ts';

/** The error code a status maps to when the body does not say. */
export function codeForStatus(status: number): ErrorCode {
  return CODE_FOR_STATUS[status] ?? (status < 500 ? 'BAD_REQUEST' : 'INTERNAL');
}

/**
 * Turn a non-2xx answer into a {@link TesseraError}: the API's own `{code, message}` when it sent one (a code
 * this client does not know yet keeps the message under the status's generic code), else the status line.
 */
export async function errorFromResponse(res: Response, what: string): Promise<TesseraError> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isErrorBody(body)) {
    const code = body.code in ERRORS ? (body.code as ErrorCode) : codeForStatus(res.status);
    return new TesseraError(code, body.message);
  }
  const detail = text.trim().slice(0, 200);
  return new TesseraError(codeForStatus(res.status), `${what} answered ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`);
}

function isErrorBody(body: unknown): body is { code: string; message: string } {
  return typeof body === 'object' && body !== null && typeof (body as any).code === 'string' && typeof (body as any).message === 'string';
}
