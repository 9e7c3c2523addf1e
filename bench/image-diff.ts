import sharp from 'sharp';

export interface ImageDiff {
  /** Share of the frame (%) covered by the scene in either image (pixels that are not the background color). */
  coveragePct: number;
  /** Mean absolute difference per RGB channel over those pixels, in 8-bit sRGB steps (0–255). */
  meanAbs: number;
  /** Share of those pixels (%) whose largest channel difference exceeds 32 steps. */
  differentPct: number;
}

async function rgb(path: string) {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * How different two renders of the same view are, over the pixels the scene covers: a coarse check that every
 * system drew the same thing (camera, lighting, materials), not a quality metric. Same size required.
 */
export async function diffImages(a: string, b: string, background: [number, number, number] = [128, 128, 128]): Promise<ImageDiff> {
  const [x, y] = await Promise.all([rgb(a), rgb(b)]);
  if (x.width !== y.width || x.height !== y.height) throw new Error(`sizes differ: ${x.width}×${x.height} vs ${y.width}×${y.height}`);
  const isBackground = (d: Buffer, i: number) =>
    Math.abs(d[i] - background[0]) <= 3 && Math.abs(d[i + 1] - background[1]) <= 3 && Math.abs(d[i + 2] - background[2]) <= 3;
  let sum = 0;
  let different = 0;
  let covered = 0;
  for (let i = 0; i < x.data.length; i += 3) {
    if (isBackground(x.data, i) && isBackground(y.data, i)) continue;
    covered++;
    const dr = Math.abs(x.data[i] - y.data[i]);
    const dg = Math.abs(x.data[i + 1] - y.data[i + 1]);
    const db = Math.abs(x.data[i + 2] - y.data[i + 2]);
    sum += dr + dg + db;
    if (Math.max(dr, dg, db) > 32) different++;
  }
  const pixels = x.data.length / 3;
  return { coveragePct: (100 * covered) / pixels, meanAbs: covered ? sum / (covered * 3) : 0, differentPct: covered ? (100 * different) / covered : 0 };
}
