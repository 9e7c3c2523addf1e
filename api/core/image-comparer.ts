/**
 * The image comparison port: decides whether two stored renders show the same picture within a tolerance.
 * Verification needs it when the two nodes run different renderer versions (their bytes may differ while the
 * pictures agree). Decoding pixels needs a runtime library, so api/core holds only this interface; the Node
 * adapter implements it with sharp and pixelmatch (api/node/pixel-image-comparer.ts).
 */
export interface ImageComparison {
  /** Share of pixels that differ beyond the per-pixel color threshold (1 when the sizes differ). */
  diffRatio: number;
}

export interface ImageComparer {
  /**
   * Compare the objects stored under `a` and `b`, both renders of a `size` tile (an image of another size, or
   * one claiming more pixels, is a difference and is never decoded); throws STORAGE_FAILED when one cannot be read.
   */
  compare(a: string, b: string, size: { width: number; height: number }): Promise<ImageComparison>;
}
