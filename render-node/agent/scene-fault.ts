import { TesseraError, isTesseraError } from '../../api/protocol/errors.ts';

/** Error codes that mean the scene (not this node) is at fault: retrying elsewhere will not help. */
const SCENE_FAULTS = new Set(['SCENE_MALFORMED', 'SCENE_UNSUPPORTED', 'SCENE_EXTERNAL_URI', 'SCENE_LIMIT_EXCEEDED', 'SCENE_TEXTURE_FAILED', 'SCENE_INDEX_NOT_FOUND', 'CAMERA_NOT_FOUND', 'CLIP_NOT_FOUND', 'FRAME_OUT_OF_RANGE', 'BAD_SPEC']);
/** A failure the scene is presumed to cause whatever its code (a blown cap, a crashed render process). */
export class SceneFaultError extends TesseraError {
  readonly sceneFault = true;
}

export const isSceneFault = (err: unknown) => err instanceof SceneFaultError || (isTesseraError(err) && SCENE_FAULTS.has(err.code));
