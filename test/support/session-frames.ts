/**
 * Helpers of the session tests: the frame that answers a pose, a frame decoded to raw pixels, and the mean
 * per-channel difference of two pictures.
 */
import sharp from 'sharp';
import type { SessionFrame, TesseraClient } from '../../api/client/index.ts';
import { SessionRender } from '../../api/protocol/session.ts';
import { stereoPose } from '../../api/protocol/session-pose.ts';

type Session = Awaited<ReturnType<TesseraClient['openSession']>>;

/** The next frame answering a pose (the pose is re-sent every `resendMs` until a frame answers it). */
export function frameFor(session: Session, position: [number, number, number], target: [number, number, number], options: { aspect?: number; resendMs?: number } = {}): Promise<SessionFrame> {
  return new Promise((resolve) => {
    let seq = 0;
    const off = session.onFrame((f) => {
      if (f.header.seq === seq) {
        off();
        clearInterval(timer);
        resolve(f);
      }
    });
    const send = () => (seq = session.sendPose({ eyes: stereoPose(position, target, { fov: session.ready.start.fov, ...(options.aspect ? { aspect: options.aspect } : {}) }) }));
    send();
    const timer = setInterval(send, options.resendMs ?? 2000);
  });
}

/** A frame's image decoded to raw RGB (alpha dropped). */
export async function rgbPixels(image: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** Mean absolute difference per channel value of two equally sized pixel buffers. */
export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** The session look the render-process tests use: JPEG 90 of `eye`, no depth or shadows, from `camera` (the scene's `front`). */
export function testSessionRender(eye: { width: number; height: number }, camera: SessionRender['camera'] = { kind: 'gltf', name: 'front' }): SessionRender {
  return SessionRender.parse({
    eye, format: 'jpeg', quality: 90, depth: false, shadows: false, maxFps: 90, toneMapping: 'neutral', exposure: 1,
    background: '#808080', environmentIntensity: 1, keyLight: 'auto', camera,
  });
}
