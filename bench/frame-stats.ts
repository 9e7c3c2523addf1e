import type { BenchRow, FrameSample } from './bench-result.ts';

export function median(values: number[]): number | null {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Fill a row's per-frame columns with the medians of its timed frames (the total is the median total, not a sum of medians). */
export function summarizeFrames(row: BenchRow, frames: FrameSample[]): BenchRow {
  row.frames = frames;
  row.renderMs = median(frames.map((f) => f.renderMs));
  const readback = frames.map((f) => f.readbackMs).filter((x): x is number => x !== null);
  row.readbackMs = readback.length ? median(readback) : null;
  row.encodeMs = median(frames.map((f) => f.encodeMs));
  row.totalMs = median(frames.map((f) => f.totalMs));
  if (row.animationFps === undefined && row.totalMs) row.animationFps = 1000 / row.totalMs;
  return row;
}

export const round = (x: number | null | undefined, digits = 1): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));
