/** Most frames one request may name. */
export const MAX_FRAMES = 100_000;

/**
 * Parse a frame list: `7`, `0-23`, `0,6,12`, or a mix like `0-3,10,20-22`.
 * Returns sorted, distinct frame numbers; throws a RangeError whose message says what is wrong.
 */
export function parseFrameList(text: string): number[] {
  const trimmed = text.trim();
  if (!trimmed) throw new RangeError('the frame list is empty; use e.g. 0, 0-23 or 0,6,12');
  const frames = new Set<number>();
  for (const part of trimmed.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new RangeError(`"${part.trim()}" is not a frame or range; use e.g. 0, 0-23 or 0,6,12`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw new RangeError(`frame numbers in "${part.trim()}" are too large`);
    if (to < from) throw new RangeError(`range "${part.trim()}" runs backwards`);
    if (to - from + 1 + frames.size > MAX_FRAMES) throw new RangeError(`more than ${MAX_FRAMES} frames requested`);
    for (let f = from; f <= to; f++) frames.add(f);
  }
  return [...frames].sort((a, b) => a - b);
}

/** Parse `WIDTHxHEIGHT` (e.g. 1920x1080). */
export function parseSize(text: string): { width: number; height: number } {
  const m = /^\s*(\d+)\s*[xX×]\s*(\d+)\s*$/.exec(text);
  if (!m) throw new RangeError(`size "${text}" is not WIDTHxHEIGHT (e.g. 1920x1080)`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/**
 * A frame's file name as the CLI writes it (locally or from the farm): `frame-` + the frame number padded
 * to the digits of the last frame (at least 4) + the extension, e.g. `frame-0007.png`.
 */
export function frameFileName(frame: number, lastFrame: number, ext: string): string {
  const pad = Math.max(4, String(lastFrame).length);
  return `frame-${String(frame).padStart(pad, '0')}.${ext}`;
}
