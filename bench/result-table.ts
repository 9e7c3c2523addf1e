import type { BenchRow, TargetCheck } from './bench-result.ts';

const ms = (x: number | null | undefined): string => {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x >= 10_000) return `${(x / 1000).toFixed(1)} s`;
  if (x >= 100) return x.toFixed(0);
  return x.toFixed(1);
};

const ratio = (x: number | null): string => (x === null ? '—' : x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`);

/** Animation frames/s: Tessera's pipelined default PNG / fast PNG; the others' 1000 ÷ total per frame. */
const fps = (r: BenchRow): string => {
  const one = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(1));
  return r.animationFpsFast !== undefined ? `${one(r.animationFps)} / ${one(r.animationFpsFast)}` : one(r.animationFps);
};

function pad(cells: string[][], aligns: ('l' | 'r')[]): string[] {
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => [...(r[c] ?? '')].length)));
  return cells.map((r) => r.map((cell, c) => (aligns[c] === 'r' ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

/** The table: one line per scene × size × system, times in ms per frame (medians of the timed frames). */
export function formatTable(rows: BenchRow[]): string {
  const header = ['scene', 'size', 'system', 'load', '1st frame', 'render', 'readback', 'encode', 'total/frame', 'anim fps', 'vs Tessera', 'Δ picture', 'note'];
  const cells: string[][] = [header];
  let last = '';
  for (const r of rows) {
    const key = `${r.scene} ${r.sizeLabel}`;
    if (last && key !== last) cells.push(header.map(() => ''));
    last = key;
    const diff = r.info?.diffVsTessera as { differentPct: number; meanAbs: number } | undefined;
    const readback = r.readbackMs !== null ? ms(r.readbackMs) : r.status === 'ok' ? 'in render' : '—';
    const load = r.loadMs !== null ? ms(r.loadMs) : r.status === 'ok' ? 'in total' : '—';
    const note = r.status === 'ok' ? '' : `${r.status.toUpperCase()}: ${r.reason ?? ''}`;
    cells.push([
      r.scene,
      r.sizeLabel,
      r.label,
      load,
      ms(r.firstFrameMs),
      ms(r.renderMs),
      readback,
      ms(r.encodeMs),
      ms(r.totalMs),
      fps(r),
      r.system === 'tessera' ? (r.status === 'ok' ? '1×' : '—') : ratio(r.vsTessera),
      diff ? `${diff.differentPct.toFixed(0)}% px` : '',
      note,
    ]);
  }
  return pad(cells, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l']).join('\n');
}

export function formatTargets(targets: TargetCheck[]): string {
  const lines = targets.map((t) => {
    const verdict = t.met === null ? 'NOT MEASURED' : t.met ? 'MET' : 'NOT MET';
    return `  [${verdict}] ${t.name} — ${t.scene} ${t.size}: ${t.detail}`;
  });
  return lines.join('\n');
}

const LEGEND = [
  'Times are milliseconds per frame (medians of the timed frames after one warm-up frame); load is once per scene.',
  'vs Tessera = that row\'s total per frame ÷ Tessera\'s (how many times faster Tessera is); Δ picture = share of',
  'scene pixels differing by > 32/255 from Tessera\'s picture of the same frame.',
  'anim fps = frames per second of the whole timed animation, end to end: Tessera as renderLocal / a node with one',
  'slot per core runs it (one render process per core sharing the frames, each drawing frame N+1 while frame N encodes',
  'on its libuv threads), default PNG (zlib 6) / fast PNG (zlib 1); Chromium: the faster of serial (1000 ÷ total)',
  'and overlapped (frame N+1 drawn while frame N\'s toBlob is pending); Blender serially (1000 ÷ total).',
];

export function legend(): string {
  return LEGEND.join('\n');
}
