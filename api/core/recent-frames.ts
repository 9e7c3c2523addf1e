/**
 * Finished frames this API process still holds in memory from their inline completions, so a frame event can carry
 * the frame itself to a client that asks (`GET /v1/jobs/:id/events?inline=1`): the client saves it without a GET
 * from storage, one hop less between a frame's completion and its file. Only bytes already written to storage at
 * their accepted key go in, and a frame is looked up by its key *and* the sha256 the store recorded for it, so what
 * comes out is exactly what storage holds for that frame (any other version misses). Bounded by bytes, oldest
 * first out; per process (per Workers isolate): a miss only means the event carries the URL alone, as before.
 */
export class RecentFrames {
  readonly #frames = new Map<string, { checksum: string; bytes: Uint8Array }>();
  #held = 0;

  /** `maxBytes`: most bytes held in all; `maxFrameBytes`: larger frames are not kept (0: none is). */
  constructor(
    readonly maxBytes: number,
    readonly maxFrameBytes: number,
  ) {}

  /** Keep `bytes` (whose sha256 is `checksum`, measured by the caller) as the frame stored at `key`. */
  put(key: string, checksum: string, bytes: Uint8Array): void {
    if (bytes.length > this.maxFrameBytes || bytes.length > this.maxBytes) return;
    this.delete(key);
    this.#frames.set(key, { checksum, bytes });
    this.#held += bytes.length;
    for (const [oldest, f] of this.#frames) {
      if (this.#held <= this.maxBytes) break;
      this.#frames.delete(oldest);
      this.#held -= f.bytes.length;
    }
  }

  /** The frame at `key` if held with exactly this sha256, else undefined. */
  get(key: string, checksum: string): Uint8Array | undefined {
    const f = this.#frames.get(key);
    return f && f.checksum === checksum ? f.bytes : undefined;
  }

  delete(key: string): void {
    const f = this.#frames.get(key);
    if (!f) return;
    this.#frames.delete(key);
    this.#held -= f.bytes.length;
  }

  /** Bytes held now. */
  get heldBytes(): number {
    return this.#held;
  }
}
