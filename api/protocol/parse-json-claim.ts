/**
 * The value in stored or received JSON text that is only a claim (a hint, a client's remembered history):
 * undefined for no text or text that is not JSON, never an error. The caller still checks its shape.
 */
export function parseJsonClaim(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
