import type { SystemId } from './bench-options.ts';

/** One timed frame of one system, in milliseconds; null where the system has no such step (or it is folded into another). */
export interface FrameSample {
  frame: number;
  renderMs: number;
  readbackMs: number | null;
  encodeMs: number;
  totalMs: number;
  /** Anything finer the system reports (Tessera's pose/resolve, Chromium's submit/readPixels, Blender's startup). */
  detail?: Record<string, number>;
}

/** One row of the table: one system on one scene at one size. */
export interface BenchRow {
  scene: string;
  width: number;
  height: number;
  sizeLabel: string;
  system: SystemId;
  label: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Why the row failed or was skipped (and how to fix it, when that is known). */
  reason?: string;
  /** Loading the scene, once per scene (ms); null when it is part of every frame (one process per frame). */
  loadMs: number | null;
  /** The untimed warm-up frame's total (shader compiles, first uploads), ms. */
  firstFrameMs: number | null;
  /** Medians over the timed frames (ms). */
  renderMs: number | null;
  readbackMs: number | null;
  encodeMs: number | null;
  totalMs: number | null;
  /** This row's total per frame divided by Tessera's on the same scene and size (how many times faster Tessera is). */
  vsTessera: number | null;
  frames: FrameSample[];
  /** PNG size of a sample frame, and where it was written (for looking at the pictures side by side). */
  pngBytes?: number;
  /**
   * Frames per second of a whole animation (every frame rendered, encoded as PNG), end to end. Tessera pipelines
   * it (frame N+1 draws while frame N encodes on sharp's threads), once per PNG effort; the others run serially.
   */
  animationFps?: number | null;
  /** Tessera with the 'fast' PNG effort (zlib level 1): frames/s and the first frame's bytes. */
  animationFpsFast?: number | null;
  pngBytesFast?: number;
  image?: string;
  notes: string[];
  /** System-specific facts: versions, GL renderer strings, load breakdown. */
  info?: Record<string, unknown>;
}

export interface TargetCheck {
  name: string;
  scene: string;
  size: string;
  required: number;
  measured: number | null;
  met: boolean | null;
  detail: string;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  wallS: number;
  host: { cpus: number; cpuModel: string; memGiB: number; node: string; platform: string; othersCpuPct?: Record<string, number | null> };
  options: Record<string, unknown>;
  /** Versions and set-up notes for every system, even those that could not run. */
  systems: Record<string, { label: string; available: boolean; reason?: string; info?: Record<string, unknown> }>;
  /** Where the same-view settings came from, and how each system approximates them. */
  method: string[];
  rows: BenchRow[];
  targets: TargetCheck[];
  /** Problems seen while running (wrong pictures, failed steps), for humans. */
  problems: string[];
}

export function emptyRow(base: Pick<BenchRow, 'scene' | 'width' | 'height' | 'sizeLabel' | 'system' | 'label'>): BenchRow {
  return { ...base, status: 'ok', loadMs: null, firstFrameMs: null, renderMs: null, readbackMs: null, encodeMs: null, totalMs: null, vsTessera: null, frames: [], notes: [] };
}
