import type { TileRect } from './render-spec.ts';

/** Split a width × height frame into tiles of at most `tile` pixels per edge, row by row from the top-left. */
export function tileGrid(width: number, height: number, tile: number): TileRect[] {
  if (!Number.isInteger(tile) || tile < 1) throw new RangeError(`tile size must be a positive integer, got ${tile}`);
  const tiles: TileRect[] = [];
  for (let y = 0; y < height; y += tile) {
    for (let x = 0; x < width; x += tile) {
      tiles.push({ x, y, width: Math.min(tile, width - x), height: Math.min(tile, height - y) });
    }
  }
  return tiles;
}

/** Whether `tile` lies inside a width × height frame. */
export function tileFits(tile: TileRect, width: number, height: number): boolean {
  return tile.x >= 0 && tile.y >= 0 && tile.x + tile.width <= width && tile.y + tile.height <= height;
}
