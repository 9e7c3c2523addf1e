import { isTesseraError } from '../../api/client/index.ts';

/** An error in words: the API's code and message, or what the browser said. */
export function describeError(err: unknown): string {
  if (isTesseraError(err)) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {describeError(error)}
    </p>
  );
}
