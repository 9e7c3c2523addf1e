/** The job form's fields and how they become a job request (the SDK's JobRequestInput, from api/protocol). */
import type { JobRequestInput } from '../../api/client/index.ts';
import type { PreviewView } from './scene-preview.ts';

export interface JobForm {
  framesMode: 'list' | 'clip';
  frames: string;
  clip: string; // '' (the first clip), an index, 'all', 'none'
  fps: number;
  width: number;
  height: number;
  tiled: boolean;
  tile: number;
  ssaa: number;
  format: 'png' | 'webp' | 'jpeg';
  quality: number;
  cameraMode: 'auto' | 'gltf' | 'view';
  gltfCamera: number;
  yaw: number;
  pitch: number;
  fov: number;
  /** The preview's view when `cameraMode` is `view` (taken when the quote or the job is asked for). */
  view?: PreviewView;
  backgroundMode: 'transparent' | 'environment' | 'color';
  color: string;
  keyLight: 'auto' | 'on' | 'off';
  shadows: 'on' | 'off';
  ground: 'shadow' | 'none';
  environmentIntensity: number;
  toneMapping: 'neutral' | 'aces' | 'none';
  exposure: number;
}

export const JOB_FORM_DEFAULTS: JobForm = {
  framesMode: 'list',
  frames: '0',
  clip: '',
  fps: 24,
  width: 1280,
  height: 720,
  tiled: false,
  tile: 320,
  ssaa: 1,
  format: 'png',
  quality: 90,
  cameraMode: 'auto',
  gltfCamera: 0,
  yaw: 30,
  pitch: 15,
  fov: 40,
  backgroundMode: 'transparent',
  color: '#20242c',
  keyLight: 'auto',
  shadows: 'on',
  ground: 'none',
  environmentIntensity: 1,
  toneMapping: 'neutral',
  exposure: 1,
};

/** The request for a scene; the API validates it and names anything wrong. */
export function jobRequest(sceneId: string, f: JobForm): JobRequestInput {
  const clip = f.clip === '' ? undefined : /^\d+$/.test(f.clip) ? Number(f.clip) : f.clip;
  const camera: JobRequestInput['camera'] =
    f.cameraMode === 'gltf'
      ? { kind: 'gltf', index: f.gltfCamera }
      : f.cameraMode === 'view' && f.view
        ? { kind: 'look', position: f.view.position, target: f.view.target, up: [0, 1, 0], fov: f.view.fov }
        : { kind: 'auto', yaw: f.yaw, pitch: f.pitch, fov: f.fov };
  return {
    sceneId,
    ...(f.framesMode === 'list' ? { frames: f.frames.trim() } : {}),
    ...(clip !== undefined ? { clip } : {}),
    fps: f.fps,
    size: { width: f.width, height: f.height },
    ...(f.tiled ? { tile: f.tile } : {}),
    ssaa: f.ssaa,
    format: f.format,
    ...(f.format === 'png' ? {} : { quality: f.quality, lossless: false }),
    camera,
    background: f.backgroundMode === 'color' ? f.color : f.backgroundMode,
    keyLight: f.keyLight === 'auto' ? 'auto' : f.keyLight === 'on',
    shadows: f.shadows === 'on',
    ground: f.ground,
    environmentIntensity: f.environmentIntensity,
    toneMapping: f.toneMapping,
    exposure: f.exposure,
  };
}
