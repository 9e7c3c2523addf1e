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
  /** Frames offered ahead of their store (see offer), by accepted key. */
  readonly #offers = new Map<string, OfferedFrame>();
  #offered = 0;

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

  /**
   * Offer a frame whose completion is being recorded: its bytes checked (length, sha256 measured by the caller) and
   * its completion one that finishes the frame as it stands (no verification hold), but not yet written to storage
   * nor recorded. An event stream that asks for inline frames may send it at once (the frame's file is what a client
   * waits for; the storage write and the record then overlap the event instead of preceding it). Nothing is recorded
   * by an offer: if the API stops before the record, the task's lease runs out and it is rendered again, and a
   * completion that ends up not finishing the frame (refused, held, its node blocklisted) is withdrawn. Returns false
   * (nothing offered) when the frame is larger than this holder keeps or the offers would pass `maxBytes`.
   */
  offer(frame: OfferedFrame): boolean {
    if (frame.bytes.length > this.maxFrameBytes || this.#offered + frame.bytes.length > this.maxBytes) return false;
    this.withdraw(frame.key);
    this.#offers.set(frame.key, frame);
    this.#offered += frame.bytes.length;
    return true;
  }

  /** The frames of `jobId` on offer now (see offer). */
  offers(jobId: string): OfferedFrame[] {
    return [...this.#offers.values()].filter((f) => f.jobId === jobId);
  }

  /** End the offer of the frame at `key`: its completion was recorded, or not (either way the store now speaks). */
  withdraw(key: string): void {
    const f = this.#offers.get(key);
    if (!f) return;
    this.#offers.delete(key);
    this.#offered -= f.bytes.length;
  }

  /** Bytes held now. */
  get heldBytes(): number {
    return this.#held;
  }
}

/** A frame offered to event streams ahead of its store (RecentFrames.offer). */
export interface OfferedFrame {
  jobId: string;
  frame: number;
  /** Its accepted key (where it is being stored). */
  key: string;
  /** The sha256 of `bytes`, measured. */
  checksum: string;
  bytes: Uint8Array;
}
