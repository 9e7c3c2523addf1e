/**
 * The last few task outputs the API stored itself (inline outputs: it held their bytes to hash them), kept in
 * memory so a job's event stream can carry a small frame inside its `frame` event: the client then writes it
 * without a GET from storage (on a one-machine farm that GET is an s3rver request on the cores that render).
 * Storage still holds every output first (an entry is added only after the write), so nothing depends on this
 * cache: an entry evicted, or an event stream served by another instance (Workers isolates), just means the
 * client downloads the frame by its URL as before. Entries are keyed by object key and sha256, so only the bytes
 * the job recorded are ever handed out. Bounded by `maxBytes` in all (oldest out first).
 */
export class RecentOutputs {
  private readonly entries = new Map<string, Uint8Array>();
  private held = 0;

  constructor(
    /** Largest output kept (larger ones are not: their event would cost the API more than the client's GET). */
    readonly maxEntryBytes: number,
    /** Most bytes kept in all. */
    readonly maxBytes: number,
  ) {}

  put(key: string, sha256: string, bytes: Uint8Array): void {
    if (bytes.length > this.maxEntryBytes || bytes.length > this.maxBytes) return;
    const id = `${key}\n${sha256}`;
    this.drop(id);
    this.entries.set(id, bytes);
    this.held += bytes.length;
    for (const [old, b] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(old);
      this.held -= b.length;
    }
  }

  /** The bytes stored at `key` with this sha256, when still kept. */
  get(key: string, sha256: string): Uint8Array | undefined {
    return this.entries.get(`${key}\n${sha256}`);
  }

  get heldBytes(): number {
    return this.held;
  }

  private drop(id: string): void {
    const b = this.entries.get(id);
    if (!b) return;
    this.entries.delete(id);
    this.held -= b.length;
  }
}
