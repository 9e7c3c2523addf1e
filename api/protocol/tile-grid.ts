/** The one tiling rule: how a frame splits into tiles. The job compiler and the local renderer both use it, so they always agree. */
import type { TileRect } from './render-spec.ts';

/**
 * Split a width × height frame into tiles of at most `tile` pixels per edge, row by row from the top-left;
 * `null` means one tile covering the whole frame.
 */
export function tileGrid(width: number, height: number, tile: number | null): TileRect[] {
  const edge = tileEdge(width, height, tile);
  const tiles: TileRect[] = [];
  for (let y = 0; y < height; y += edge) {
    for (let x = 0; x < width; x += edge) {
      tiles.push({ x, y, width: Math.min(edge, width - x), height: Math.min(edge, height - y) });
    }
  }
  return tiles;
}

/** How many tiles `tileGrid` returns, without building them. */
export function tileCount(width: number, height: number, tile: number | null): number {
  const edge = tileEdge(width, height, tile);
  return Math.ceil(width / edge) * Math.ceil(height / edge);
}

function tileEdge(width: number, height: number, tile: number | null): number {
  if (tile === null) return Math.max(width, height, 1);
  if (!Number.isInteger(tile) || tile < 1) throw new RangeError(`tile size must be a positive integer, got ${tile}`);
  return tile;
}

/** Whether `tile` lies inside a width × height frame. */
export function tileFits(tile: TileRect, width: number, height: number): boolean {
  return tile.x >= 0 && tile.y >= 0 && tile.x + tile.width <= width && tile.y + tile.height <= height;
}
