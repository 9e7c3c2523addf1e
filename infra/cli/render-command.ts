import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { resolve } from 'node:path';
import { TesseraError } from '../../api/protocol/errors.ts';
import { parseFrameList, parseSize } from '../../api/protocol/frame-list.ts';
import { EncodeSpec, ViewSpec, type CameraSpec } from '../../api/protocol/render-spec.ts';
import { renderLocal } from '../../render-node/local-render.ts';

const vec3 = (name: string) => (text: string) => {
  const v = text.split(',').map(Number);
  if (v.length !== 3 || !v.every(Number.isFinite)) throw new RangeError(`--${name} needs three numbers like 0,1.5,4 (got "${text}")`);
  return v as [number, number, number];
};
const number = (name: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isFinite(n) || text.trim() === '') throw new RangeError(`--${name} needs a number (got "${text}")`);
  return n;
};
const integer = (name: string) => (text: string) => {
  const n = number(name)(text);
  if (!Number.isInteger(n)) throw new RangeError(`--${name} needs a whole number (got "${text}")`);
  return n;
};

/** `tessera render SCENE --local …`: render frames of a glTF scene into files. */
export function renderCommand(): Command {
  return new Command('render')
    .description('Render frames of a glTF/GLB scene into image files (one per frame).')
    .argument('<scene>', 'a .glb file, or a .gltf file with its resources beside it')
    .option('--local', 'render on this machine, without a farm')
    .option('--api <url>', 'render on a Tessera farm (arrives with the farm)')
    .option('--frames <list>', 'frames: 0 | 0-23 | 0,6,12 (default: every frame of the clip)')
    .option('--size <WxH>', 'output size in pixels', '1920x1080')
    .option('--tile <px>', 'render in tiles of this many pixels and stitch them', integer('tile'))
    .option('--camera <name|index|auto>', 'a glTF camera by name or index, or auto (frame the scene)', 'auto')
    .option('--yaw <deg>', 'auto camera: angle around the vertical axis', number('yaw'))
    .option('--pitch <deg>', 'auto camera: angle above the horizon', number('pitch'))
    .option('--fov <deg>', 'vertical field of view of auto/explicit cameras', number('fov'))
    .option('--eye <x,y,z>', 'explicit camera position (with --target)', vec3('eye'))
    .option('--target <x,y,z>', 'explicit camera target', vec3('target'))
    .option('--up <x,y,z>', 'explicit camera up vector', vec3('up'))
    .option('--scene <name|index>', 'which glTF scene of the file (default: its default scene)')
    .option('--clip <name|index|all|none>', 'animation clip (default: the first)')
    .option('--fps <n>', 'frames per second: frame f is at time f/fps', number('fps'), 24)
    .option('--ssaa <n>', 'supersampling per axis, 1-4', integer('ssaa'), 1)
    .addOption(new Option('--format <fmt>', 'image format').choices(['png', 'webp', 'jpeg']).default('png'))
    .option('--quality <q>', 'JPEG / lossy WebP quality 1-100', integer('quality'), 90)
    .option('--lossy', 'lossy WebP (default: lossless)')
    .option('--animated', 'also write animation.webp with every frame')
    .option('--background <bg>', 'transparent | environment | #rrggbb', 'transparent')
    .addOption(new Option('--tone-mapping <tm>', 'tone mapping').choices(['neutral', 'aces', 'none']).default('neutral'))
    .option('--exposure <x>', 'exposure multiplier', number('exposure'), 1)
    .option('--env-intensity <x>', 'environment light intensity', number('env-intensity'), 1)
    .addOption(new Option('--key-light <mode>', 'directional key light').choices(['auto', 'on', 'off']).default('auto'))
    .option('--out <dir>', 'output folder', 'out')
    .option('--json', 'print the summary as JSON on stdout')
    .action(async (scene: string, o) => {
      if (o.api) throw new TesseraError('BAD_REQUEST', '--api needs the farm, which is not part of this build yet; use --local.');
      if (!o.local) throw new TesseraError('BAD_REQUEST', 'say where to render: --local (this machine).');
      const { width, height } = parseSize(o.size);
      const view = ViewSpec.parse({
        width,
        height,
        scene: o.scene === undefined ? undefined : /^\d+$/.test(o.scene) ? Number(o.scene) : o.scene,
        camera: cameraFrom(o),
        clip: o.clip === undefined ? undefined : /^\d+$/.test(o.clip) ? Number(o.clip) : o.clip,
        fps: o.fps,
        ssaa: o.ssaa,
        toneMapping: o.toneMapping,
        exposure: o.exposure,
        background: o.background,
        environmentIntensity: o.envIntensity,
        keyLight: o.keyLight === 'auto' ? 'auto' : o.keyLight === 'on',
      });
      const encode = EncodeSpec.parse({ format: o.format, quality: o.quality, lossless: !o.lossy });
      const frames = o.frames === undefined ? undefined : parseFrameList(o.frames);
      const bar = new cliProgress.SingleBar(
        { format: 'rendering |{bar}| {value}/{total} frames | {eta_formatted} left | last {last} ms', stream: process.stderr, hideCursor: true, noTTYOutput: false },
        cliProgress.Presets.shades_classic,
      );
      let started = false;
      const summary = await renderLocal({
        scene: resolve(scene),
        frames,
        view,
        encode,
        tile: o.tile,
        outDir: resolve(o.out),
        animated: o.animated,
        onPlan: ({ frames }) => {
          started = true;
          bar.start(frames.length, 0, { last: '-' });
        },
        onFrame: ({ index, ms }) => bar.update(index + 1, { last: Math.round(ms) }),
      }).finally(() => started && bar.stop());
      for (const warning of summary.warnings) process.stderr.write(`tessera: warning: ${warning}\n`);
      if (o.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      } else {
        const n = summary.frames.length;
        const per = (v: number) => (v / Math.max(1, n)).toFixed(1);
        process.stdout.write(
          `Rendered ${n} frame(s) of ${width}×${height}${summary.tilesPerFrame > 1 ? ` in ${summary.tilesPerFrame} tiles each` : ''} into ${o.out} in ${(summary.ms.total / 1000).toFixed(2)} s\n` +
            `  per frame: render ${per(summary.ms.render)} ms, read-back ${per(summary.ms.readback)} ms, resolve ${per(summary.ms.resolve)} ms, stitch ${per(summary.ms.stitch)} ms, encode ${per(summary.ms.encode)} ms; load ${summary.ms.load.toFixed(0)} ms once\n` +
            `  ${summary.renderer} on ${summary.gl}\n`,
        );
      }
    });
}

function cameraFrom(o: Record<string, any>): CameraSpec | undefined {
  if (o.eye || o.target) {
    if (!o.eye || !o.target) throw new RangeError('an explicit camera needs both --eye and --target');
    return { kind: 'look', position: o.eye, target: o.target, up: o.up ?? [0, 1, 0], fov: o.fov ?? 40 };
  }
  if (o.camera === 'auto') return { kind: 'auto', yaw: o.yaw ?? 30, pitch: o.pitch ?? 15, fov: o.fov ?? 40 };
  if (/^\d+$/.test(o.camera)) return { kind: 'gltf', index: Number(o.camera) };
  return { kind: 'gltf', name: o.camera };
}
