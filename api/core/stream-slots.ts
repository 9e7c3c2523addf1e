/**
 * Open server-sent event streams per API key, so one key cannot hold every connection (and, on Workers, every
 * coordinator re-check) the API has. Counted per API process, like the request rate (per isolate on Workers).
 */
export class StreamSlots {
  readonly #open = new Map<string, number>();

  /** Take a slot for `keyId` if it holds fewer than `max`; the returned function gives it back (once). */
  take(keyId: string, max: number): (() => void) | null {
    const open = this.#open.get(keyId) ?? 0;
    if (open >= max) return null;
    this.#open.set(keyId, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(keyId) ?? 1) - 1;
      if (left <= 0) this.#open.delete(keyId);
      else this.#open.set(keyId, left);
    };
  }

  /** Streams `keyId` holds open now. */
  count(keyId: string): number {
    return this.#open.get(keyId) ?? 0;
  }
}
