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
  /**
   * Compare the left eye of a session frame (stored under `frame`, a `frameSize` image of eyes side by side, JPEG or
   * WebP) with a batch render of that eye (`reference`, `eye` sized): both are reduced by SESSION_COMPARE_SCALE per axis
   * (averaging away JPEG's block noise and a pixel's shift on silhouettes) and a reduced pixel differs when a channel
   * differs by more than SESSION_COMPARE_LEVELS of 255. Absent where the runtime cannot decode lossy images (Workers).
   */
  compareEye?(frame: string, reference: string, frameSize: { width: number; height: number }, eye: { width: number; height: number }): Promise<ImageComparison>;
}

/** How much a session frame and its reference are reduced (per axis) before comparing. */
export const SESSION_COMPARE_SCALE = 4;
/** A reduced pixel differs when one channel differs by more than this (of 255). */
export const SESSION_COMPARE_LEVELS = 40;
