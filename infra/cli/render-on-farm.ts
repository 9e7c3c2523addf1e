import { fileProbeHistory } from './probe-history-file.ts';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createTesseraClient, type JobProgress, type ProbeResult, type TesseraClient } from '../../api/client/index.ts';
import { base64ToBytes } from '../../api/protocol/base64-bytes.ts';
import { TesseraError } from '../../api/protocol/errors.ts';
import { sha256Hex } from '../../api/protocol/sha256-hex.ts';
import { frameFileName } from '../../api/protocol/frame-list.ts';
import type { JobRequestInput } from '../../api/protocol/job-spec.ts';
import type { JobStatus } from '../../api/protocol/job-status.ts';
import { EXTENSIONS } from '../../render-node/output/encode-image.ts';
import { writeAtomic } from '../../render-node/output/write-atomic.ts';
import { packScene } from './pack-scene.ts';

export interface FarmRenderOptions {
  /** The API's base URL. */
  api: string;
  apiKey?: string;
  /** Path of a .glb, or a .gltf with its resources beside it. */
  scene: string;
  /** The job, less the scene id (filled in after the upload). */
  request: Omit<JobRequestInput, 'sceneId'>;
  outDir: string;
  /** Frames written concurrently while the job runs. */
  downloadConcurrency?: number;
  /**
   * Measure this machine's RTTs to the farm's nearest nodes first (while the scene uploads) and send them
   * with the job, so its tasks go to the nodes nearest this client. Default true.
   */
  probe?: boolean;
  signal?: AbortSignal;
  onUploaded?(event: { sceneId: string; bytes: number; files: string[] }): void;
  onSubmitted?(event: { jobId: string }): void;
  onProgress?(progress: JobProgress): void;
  onFrameSaved?(event: { frame: number; file: string }): void;
  /**
   * Epoch-ms stamps (performance.timeOrigin + performance.now()) of the client's steps: `submit-sent`, `submitted`,
   * `frame-event` (a frame's event arrived), `downloaded` (its bytes fetched and checked), `written` (its file
   * saved); `npm run bench:farm` lines them up with the API's and the node's (api/core/timeline.ts).
   */
  onTimeline?(step: string, at: number, frame?: number): void;
}

export const FARM_RENDER_DEFAULTS = { downloadConcurrency: 4 };

/** What each node did for the job. */
export interface NodeShare {
  node: string;
  /** Render tasks (tiles, or whole frames when untiled). */
  tiles: number;
  stitches: number;
  /** Frames this node rendered at least one tile of. */
  frames: number[];
}

export interface FarmRenderSummary {
  jobId: string;
  sceneId: string;
  api: string;
  files: string[];
  frames: number[];
  tilesPerFrame: number;
  nodes: NodeShare[];
  /** Render tasks that needed more than one attempt. */
  retriedTasks: number;
  /** What the probe measured (null when skipped); `error` when the API could not be asked. */
  probe: { rtts: ProbeResult['rtts']; failed: ProbeResult['failed']; error?: string } | null;
  ms: {
    /** Reading and packing the scene file. */
    pack: number;
    upload: number;
    submit: number;
    /** From submission to the first frame on disk. */
    firstFrame: number;
    /** From submission to the job's end. */
    job: number;
    /** From the job's end to the last frame on disk (the rest downloaded while it ran). */
    downloadTail: number;
    total: number;
  };
}

/**
 * Render on a farm: pack and upload the scene, submit the job, follow it, and download each frame as soon as
 * it is finished into `outDir` under the names `--local` uses (`frame-0000.png` …).
 * Throws TesseraError: the API's own `{code, message}` for bad input, JOB_FAILED when the job fails.
 */
export async function renderOnFarm(options: FarmRenderOptions): Promise<FarmRenderSummary> {
  const opts = { ...options, downloadConcurrency: options.downloadConcurrency ?? FARM_RENDER_DEFAULTS.downloadConcurrency };
  const { signal } = opts;
  const t0 = performance.now();
  const client = createTesseraClient({ baseUrl: opts.api, apiKey: opts.apiKey, probeHistory: fileProbeHistory() });
  const packed = await packScene(opts.scene);
  const tPacked = performance.now();
  // The probe runs during the upload; a failed probe only means the job goes without client RTTs.
  const probing: Promise<FarmRenderSummary['probe']> =
    opts.probe === false
      ? Promise.resolve(null)
      : client.probe({ signal }).then(
          (p) => ({ rtts: p.rtts, failed: p.failed }),
          (err: unknown) => ({ rtts: [], failed: [], error: (err as Error)?.message ?? String(err) }),
        );
  const uploaded = await client.uploadScene(packed.bytes, { contentType: packed.contentType, signal }).catch(async (err) => {
    await probing;
    throw err;
  });
  opts.onUploaded?.({ sceneId: uploaded.sceneId, bytes: packed.bytes.byteLength, files: packed.files });
  const probe = await probing;
  const tUploaded = performance.now();
  const job = { ...opts.request, sceneId: uploaded.sceneId };
  if (probe?.rtts.length && !job.client) job.client = { rtts: probe.rtts };
  const stamp = opts.onTimeline ? (step: string, at: number, frame?: number) => opts.onTimeline!(step, performance.timeOrigin + at, frame) : () => {};
  stamp('submit-sent', performance.now());
  const { jobId } = await client.submitJob(job, { signal });
  const tSubmitted = performance.now();
  stamp('submitted', tSubmitted);
  opts.onSubmitted?.({ jobId });

  const format = opts.request.format ?? 'png';
  const frameNames = await frameNamer(client, jobId, opts.request.frames, EXTENSIONS[format], signal);
  await mkdir(opts.outDir, { recursive: true });
  let firstFrameAt = 0;
  const saver = new FrameSaver(client, jobId, opts.downloadConcurrency, signal, async (frame, bytes) => {
    stamp('downloaded', performance.now(), frame);
    const file = join(opts.outDir, frameNames(frame));
    await writeAtomic(file, bytes);
    firstFrameAt ||= performance.now();
    stamp('written', performance.now(), frame);
    opts.onFrameSaved?.({ frame, file });
    return file;
  });

  const status = await client
    .waitForJob(jobId, {
      signal,
      // Small frames come inside their events: saved with no download (checked against their sha256 like one).
      inlineFrames: true,
      onProgress: (p) => {
        opts.onProgress?.(p);
        if (p.frames.done > saver.count) saver.sync();
      },
      // Servers that put the frame's URL in the event save a frame-list call per frame; older ones get one.
      onEvent: (e) => {
        if (e.type !== 'frame') return;
        stamp('frame-event', performance.now(), e.frame);
        if (e.url && e.checksum) saver.take({ frame: e.frame, url: e.url, checksum: e.checksum, inline: e.inline, storing: e.storing });
        else saver.sync();
      },
    })
    .catch(async (err) => {
      await saver.idle().catch(() => {});
      throw err;
    });
  const tEnded = performance.now();
  if (status.state !== 'done') {
    await saver.idle().catch(() => {});
    const why = status.state === 'cancelled' ? 'was cancelled' : `failed: ${status.error ?? 'no reason given'}`;
    throw new TesseraError('JOB_FAILED', `job ${jobId} ${why}`);
  }
  await saver.finish();
  const saved = saver.saved();
  if (saved.length < status.frames.total) {
    throw new TesseraError('STORAGE_FAILED', `job ${jobId} is done but the API lists ${saved.length} of its ${status.frames.total} frames`);
  }
  const tDone = performance.now();
  return {
    jobId,
    sceneId: uploaded.sceneId,
    api: client.baseUrl,
    files: saved.map(([, file]) => file),
    frames: saved.map(([frame]) => frame),
    tilesPerFrame: status.frames.total ? Math.round(status.tiles.total / status.frames.total) : 0,
    nodes: nodeShares(status),
    retriedTasks: status.tasks.filter((t) => t.attempts > 1).length,
    probe,
    ms: {
      pack: tPacked - t0,
      upload: tUploaded - tPacked,
      submit: tSubmitted - tUploaded,
      firstFrame: firstFrameAt ? firstFrameAt - tSubmitted : 0,
      job: tEnded - tSubmitted,
      downloadTail: tDone - tEnded,
      total: tDone - t0,
    },
  };
}

/**
 * File names as `--local` writes them: `frame-` + the frame number padded to the digits of the last frame
 * (at least 4) + the format's extension. The last frame is known from the request, or else from the job.
 */
async function frameNamer(client: TesseraClient, jobId: string, frames: JobRequestInput['frames'], ext: string, signal?: AbortSignal): Promise<(frame: number) => string> {
  let last: number;
  if (Array.isArray(frames)) last = Math.max(...frames);
  else if (typeof frames === 'string') last = Math.max(...frames.split(/[,-]/).map(Number));
  else last = Math.max(0, ...(await client.getJob(jobId, { signal })).tasks.map((t) => t.frame));
  return (frame) => frameFileName(frame, last, ext);
}

/**
 * Listing a job's frames presigns a URL for every finished frame, so each listing costs more as the job
 * goes on; the next listing waits this many times as long as the last one took (≈2% of the time listing).
 */
const LISTING_SPACING = 49;

/**
 * Downloads a job's finished frames as they appear: each sync lists the frames and fetches the new ones, and
 * any whose checksum changed (a frame is stitched again when a node that rendered one of its tiles is caught
 * lying and blocklisted, so the last sync after the job's end fixes what was saved early). Syncs never
 * overlap, and are spaced by what the last listing cost (see LISTING_SPACING).
 */
class FrameSaver {
  private readonly files = new Map<number, string>();
  /** Frames saved or being saved, with the checksum listed for them. */
  private readonly started = new Map<number, string>();
  private running: Promise<void> | undefined;
  private again = false;
  private failure: unknown;
  private notBefore = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Frames announced with their URL, waiting for a download slot, and the downloads running for them. */
  private readonly queue: AnnouncedFrame[] = [];
  private readonly direct = new Set<Promise<void>>();

  constructor(
    private readonly client: TesseraClient,
    private readonly jobId: string,
    private readonly concurrency: number,
    private readonly signal: AbortSignal | undefined,
    private readonly save: (frame: number, bytes: Uint8Array) => Promise<string>,
  ) {}

  /** Frames listed so far (saved or being saved). */
  get count(): number {
    return this.started.size;
  }

  /** Download one frame announced with its URL and checksum (unless that version is saved or being saved). */
  take(f: AnnouncedFrame): void {
    if (this.started.get(f.frame) === f.checksum) return;
    this.started.set(f.frame, f.checksum);
    this.queue.push(f);
    this.pump();
  }

  private pump(): void {
    while (this.direct.size < this.concurrency && this.queue.length && this.failure === undefined) {
      const run: Promise<void> = this.download(this.queue.shift()!)
        .catch((err) => {
          this.failure ??= err;
        })
        .finally(() => {
          this.direct.delete(run);
          this.pump();
        });
      this.direct.add(run);
    }
  }

  /** Start a sync soon, or ask the running one to go round once more. */
  sync(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = this.notBefore - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.sync();
      }, wait);
      return;
    }
    this.running = this.syncOnce()
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.running = undefined;
        if (this.again && this.failure === undefined) {
          this.again = false;
          this.sync();
        }
      });
  }

  /** Settles when no sync is running (a sync waiting for its turn is dropped). */
  async idle(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
    while (this.running || this.direct.size) await (this.running ?? Promise.all(this.direct));
  }

  /** One last sync after the job ended; throws the first download failure. */
  async finish(): Promise<void> {
    await this.idle();
    if (this.failure === undefined) await this.syncOnce().catch((err) => (this.failure ??= err));
    if (this.failure !== undefined) throw this.failure;
  }

  saved(): [number, string][] {
    return [...this.files].sort((a, b) => a[0] - b[0]);
  }

  private async syncOnce(): Promise<void> {
    const t0 = performance.now();
    const listed = await this.client.frames(this.jobId, { signal: this.signal });
    const t1 = performance.now();
    this.notBefore = t1 + (t1 - t0) * LISTING_SPACING;
    const todo = listed.frames.filter((f) => this.started.get(f.frame) !== f.checksum);
    for (const f of todo) this.started.set(f.frame, f.checksum);
    let next = 0;
    const worker = async () => {
      while (next < todo.length) await this.download(todo[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, todo.length) }, worker));
  }

  private async download(f: AnnouncedFrame): Promise<void> {
    try {
      // A frame that came inside its event is saved as it is when its sha256 is the announced one; else downloaded.
      const inline = f.inline === undefined ? undefined : await checkedInline(f.inline, f.checksum);
      if (inline === undefined && f.storing) {
        // Sent ahead of its store, and its bytes are not the announced ones: its URL may not answer yet. It is taken
        // from the frame list once listed (the progress that counts it, or the list at the job's end).
        if (this.started.get(f.frame) === f.checksum) this.started.delete(f.frame);
        this.sync();
        return;
      }
      const bytes = inline ?? (await this.client.downloadFrame(f.url, { sha256: f.checksum, signal: this.signal }));
      // A newer version of this frame may have been announced while this one downloaded: keep the newest.
      if (this.started.get(f.frame) === f.checksum) this.files.set(f.frame, await this.save(f.frame, bytes));
    } catch (cause) {
      if (this.started.get(f.frame) === f.checksum) this.started.delete(f.frame);
      throw new TesseraError('STORAGE_FAILED', `downloading frame ${f.frame} of job ${this.jobId}: ${(cause as Error).message}`, { cause });
    }
  }
}

/** A finished frame as its event announced it: where to download it, its sha256, and maybe the frame itself (base64). */
interface AnnouncedFrame {
  frame: number;
  url: string;
  checksum: string;
  inline?: string;
  /** Sent ahead of its store (JobEvent `storing`): its URL may not answer yet. */
  storing?: boolean;
}

/** The bytes of an event's `inline` frame when they decode and their sha256 is `checksum`; undefined otherwise. */
async function checkedInline(inline: string, checksum: string): Promise<Uint8Array | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = base64ToBytes(inline);
  } catch {
    return undefined;
  }
  return (await sha256Hex(bytes)) === checksum.toLowerCase() ? bytes : undefined;
}

/** Who rendered what, from the job's finished tasks. */
export function nodeShares(status: JobStatus): NodeShare[] {
  const byNode = new Map<string, { tiles: number; stitches: number; frames: Set<number> }>();
  for (const task of status.tasks) {
    if (task.state !== 'done' || !task.node) continue;
    let share = byNode.get(task.node);
    if (!share) byNode.set(task.node, (share = { tiles: 0, stitches: 0, frames: new Set() }));
    if (task.kind === 'render') {
      share.tiles++;
      share.frames.add(task.frame);
    } else if (task.kind === 'stitch') share.stitches++;
  }
  return [...byNode]
    .map(([node, s]) => ({ node, tiles: s.tiles, stitches: s.stitches, frames: [...s.frames].sort((a, b) => a - b) }))
    .sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
}

/** `0-3,10,20-22` for [0,1,2,3,10,20,21,22] (sorted input). */
export function formatFrameList(frames: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < frames.length; ) {
    let j = i;
    while (j + 1 < frames.length && frames[j + 1] === frames[j] + 1) j++;
    parts.push(i === j ? `${frames[i]}` : `${frames[i]}-${frames[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
