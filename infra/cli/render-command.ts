import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { join, resolve } from 'node:path';
import { createTesseraClient } from '../../api/client/index.ts';
import { TesseraError } from '../../api/protocol/errors.ts';
import { parseFrameList, parseSize } from '../../api/protocol/frame-list.ts';
import { JobRequest, normalizeJobRequest, type JobRequestInput } from '../../api/protocol/job-spec.ts';
import { EncodeSpec, ViewSpec, type CameraSpec } from '../../api/protocol/render-spec.ts';
import { DEFAULT_IPD } from '../../api/protocol/projection.ts';
import { packScene } from './pack-scene.ts';
import { formatFrameList, renderOnFarm, type FarmRenderSummary } from './render-on-farm.ts';

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

/** `tessera render SCENE --local|--api URL …`: render frames of a glTF scene into files, here or on a farm. */
export function renderCommand(): Command {
  return new Command('render')
    .description('Render frames of a glTF/GLB scene into image files (one per frame).')
    .argument('<scene>', 'a .glb file, or a .gltf file with its resources beside it')
    .option('--local', 'render on this machine, without a farm')
    .addOption(new Option('--backend <backend>', 'with --local: GL backend: headless-gl (WebGL 1), chromium (WebGL 2 in headless Chromium: transmission, volume), or auto (chromium only for scenes that need WebGL 2)').choices(['auto', 'chromium', 'headless-gl']).default('auto'))
    .option('--api <url>', 'render on a Tessera farm: the API\'s URL, e.g. http://127.0.0.1:8080')
    .option('--api-key <key>', 'API key for --api (default: $TESSERA_API_KEY)')
    .option('--no-probe', 'with --api: do not ping the farm\'s nearest nodes first (tasks then go to any free node)')
    .option('--frames <list>', 'frames: 0 | 0-23 | 0,6,12 (default: every frame of the clip)')
    .option('--size <WxH>', 'output size in pixels', '1920x1080')
    .option('--tile <px>', 'render in tiles of this many pixels and stitch them', integer('tile'))
    .option('--camera <name|index|auto>', 'a glTF camera by name or index, or auto (frame the scene)', 'auto')
    .option('--yaw <deg>', 'auto camera: angle around the vertical axis', number('yaw'))
    .option('--pitch <deg>', 'auto camera: angle above the horizon', number('pitch'))
    .option('--fov <deg>', 'vertical field of view of auto/explicit cameras', number('fov'))
    .option('--eye <x,y,z>', 'explicit camera position (looks along -Z unless --target is given)', vec3('eye'))
    .option('--target <x,y,z>', 'explicit camera target: sets the forward direction (a panorama\'s center)', vec3('target'))
    .option('--up <x,y,z>', 'explicit camera up vector', vec3('up'))
    .option('--scene <name|index>', 'which glTF scene of the file (default: its default scene)')
    .option('--clip <name|index|all|none>', 'animation clip (default: the first)')
    .option('--fps <n>', 'frames per second: frame f is at time f/fps', number('fps'), 24)
    .option('--ssaa <n>', 'supersampling per axis, 1-4', integer('ssaa'), 1)
    .option('--projection <kind>', 'perspective | stereo (left|right) | equirect (2:1) | equirect-stereo (left over right, 1:1) | cube (6×1 strip)', 'perspective')
    .option('--ipd <m>', 'distance between the eyes in metres, for stereo and equirect-stereo', number('ipd'), DEFAULT_IPD)
    .addOption(new Option('--format <fmt>', 'image format').choices(['png', 'webp', 'jpeg']).default('png'))
    .option('--quality <q>', 'JPEG / lossy WebP quality 1-100', integer('quality'), 90)
    .option('--lossy', 'lossy WebP (default: lossless)')
    .addOption(new Option('--effort <effort>', 'encoder effort: small (final frames: PNG zlib 6, mozjpeg) or fast (previews: PNG zlib 1, plain libjpeg; bigger files)').choices(['small', 'fast']).default('small'))
    .option('--animated', 'also write animation.webp with every frame')
    .option('--processes <n>', 'with --local: render processes for an animation, frames shared out (default: one per core; headless-gl)', integer('processes'))
    .option('--background <bg>', 'transparent | environment | #rrggbb', 'transparent')
    .addOption(new Option('--tone-mapping <tm>', 'tone mapping').choices(['neutral', 'aces', 'none']).default('neutral'))
    .option('--exposure <x>', 'exposure multiplier', number('exposure'), 1)
    .option('--env-intensity <x>', 'environment light intensity', number('env-intensity'), 1)
    .addOption(new Option('--key-light <mode>', 'directional key light').choices(['auto', 'on', 'off']).default('auto'))
    .addOption(new Option('--shadows <mode>', 'soft shadows from the key light and the glTF lights').choices(['on', 'off']).default('on'))
    .addOption(new Option('--ground <mode>', 'a ground plane under the scene showing only its shadow').choices(['shadow', 'none']).default('none'))
    .option('--out <dir>', 'output folder', 'out')
    .option('--quote', 'with --api: upload the scene and print what the job would cost, without submitting it')
    .option('--json', 'print the summary as JSON on stdout')
    .action(async (scene: string, o) => {
      if (o.local && o.api) throw new TesseraError('BAD_REQUEST', 'choose one of --local (this machine) and --api URL (a farm).');
      if (!o.local && !o.api) throw new TesseraError('BAD_REQUEST', 'say where to render: --local (this machine) or --api URL (a farm).');
      const spec = renderSpecFrom(o);
      if (o.api) await renderWithApi(scene, o, spec);
      else await renderHere(scene, o, spec);
    });
}

/** What to render, from the options; checked the same way for --local and --api. */
function renderSpecFrom(o: Record<string, any>) {
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
    projection: o.projection,
    ipd: o.ipd,
    shadows: o.shadows === 'on',
    ground: o.ground,
  });
  const encode = EncodeSpec.parse({ format: o.format, quality: o.quality, lossless: !o.lossy, ...(o.effort === 'fast' ? { effort: 'fast' } : {}) });
  const frames = o.frames === undefined ? undefined : parseFrameList(o.frames);
  return { view, encode, frames, tile: o.tile as number | undefined };
}
type RenderSpec = ReturnType<typeof renderSpecFrom>;

/** `--local`: render on this machine. */
async function renderHere(scene: string, o: Record<string, any>, { view, encode, frames, tile }: RenderSpec): Promise<void> {
  // Loaded here, not at the top: the GL stack is only needed when this machine renders.
  const { renderLocal } = await import('../../render-node/local-render.ts');
  const { width, height } = view;
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
    tile,
    outDir: resolve(o.out),
    animated: o.animated,
    backend: o.backend,
    processes: o.processes,
    onPlan: ({ frames }) => {
      started = true;
      bar.start(frames.length, 0, { last: '-' });
    },
    onFrame: ({ completed, ms }) => bar.update(completed, { last: Math.round(ms) }),
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
        `  ${summary.renderer} on ${summary.gl} (backend ${summary.backend}, ${summary.processes} render process${summary.processes > 1 ? 'es' : ''})\n`,
    );
  }
}

/** `--api URL --quote`: upload the scene (content-addressed, so a later render reuses it) and print the quote. */
async function printQuote(scene: string, o: Record<string, any>, request: Omit<JobRequestInput, 'sceneId'>, apiKey: string | undefined): Promise<void> {
  const client = createTesseraClient({ baseUrl: o.api, apiKey });
  const packed = await packScene(resolve(scene));
  const { sceneId } = await client.uploadScene(packed.bytes, { contentType: packed.contentType });
  const q = await client.quote({ ...request, sceneId });
  if (o.json) {
    process.stdout.write(JSON.stringify(q, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    `Quote for ${q.frames} frame(s), ${q.tiles} tile(s), ${q.megapixels.toFixed(3)} megapixels:\n` +
      `  render time ${q.renderSeconds.toFixed(1)} s of node compute, about ${q.wallSeconds.toFixed(1)} s wall on ${q.basis.nodes} node(s)\n` +
      `  price ${q.price.amount.toFixed(4)} ${q.price.currency} (${q.price.perRenderSecond} per render-second, ${q.price.perMegapixel} per megapixel; ` +
      `${Math.round(q.verificationRate * 100)}% of tiles and stitches done twice for verification included)\n`,
  );
}

/** `--api URL`: upload the scene, submit a job with the same options, follow it, download the frames. */
async function renderWithApi(scene: string, o: Record<string, any>, { view, encode, tile }: RenderSpec): Promise<void> {
  const apiKey: string | undefined = o.apiKey ?? process.env.TESSERA_API_KEY;
  const request = {
    frames: o.frames as string | undefined,
    size: { width: view.width, height: view.height },
    tile,
    camera: view.camera,
    scene: view.scene,
    clip: view.clip,
    fps: view.fps,
    ssaa: view.ssaa,
    format: encode.format,
    quality: encode.quality,
    lossless: encode.lossless,
    ...(encode.effort ? { effort: encode.effort } : {}),
    background: view.background,
    toneMapping: view.toneMapping,
    exposure: view.exposure,
    environmentIntensity: view.environmentIntensity,
    keyLight: view.keyLight,
    projection: view.projection,
    ipd: view.ipd,
    shadows: view.shadows,
    ground: view.ground,
  } satisfies Omit<JobRequestInput, 'sceneId'>;
  // Refuse what the protocol refuses before uploading anything (the API checks again, and checks the scene).
  normalizeJobRequest(JobRequest.parse({ ...request, sceneId: '0'.repeat(64) }));
  if (o.quote) return printQuote(scene, o, request, apiKey);

  const bars = new cliProgress.MultiBar(
    { format: '{what} |{bar}| {value}/{total}', stream: process.stderr, hideCursor: true, noTTYOutput: false, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let tileBar: cliProgress.SingleBar | undefined;
  let frameBar: cliProgress.SingleBar | undefined;
  const abort = new AbortController();
  let jobId: string | undefined;
  // Ctrl-C cancels the job on the farm before exiting, so its nodes stop working for nobody.
  const interrupt = (signal: NodeJS.Signals) => {
    abort.abort(new Error(`interrupted (${signal})`));
    const cancel = jobId ? createTesseraClient({ baseUrl: o.api, apiKey }).cancel(jobId).catch(() => {}) : Promise.resolve();
    void Promise.race([cancel, new Promise((r) => setTimeout(r, 2000))]).then(() => {
      bars.stop();
      process.stderr.write(`\ntessera: interrupted (${signal})${jobId ? `; job ${jobId} cancelled` : ''}\n`);
      process.exit(130);
    });
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  let summary: FarmRenderSummary;
  try {
    summary = await renderOnFarm({
      api: o.api,
      apiKey,
      scene: resolve(scene),
      request,
      outDir: resolve(o.out),
      probe: o.probe !== false,
      signal: abort.signal,
      onSubmitted: (e) => {
        jobId = e.jobId;
      },
      onProgress: (p) => {
        // The payload goes with every update: a MultiBar on a non-TTY stream drops it otherwise.
        tileBar ??= bars.create(p.tiles.total, 0, { what: 'tiles ' });
        frameBar ??= bars.create(p.frames.total, 0, { what: 'frames' });
        tileBar.setTotal(p.tiles.total);
        tileBar.update(p.tiles.done, { what: 'tiles ' });
        frameBar.setTotal(p.frames.total);
        frameBar.update(p.frames.done, { what: 'frames' });
      },
    }).catch((err) => {
      // Interrupted: the signal handler cancels the job and exits; nothing more to report here.
      if (abort.signal.aborted) return new Promise<never>(() => {});
      throw err;
    });
  } finally {
    bars.stop();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
  if (o.animated) summary.files.push(await writeAnimation(summary.files, resolve(o.out), view.fps, encode));
  if (o.json) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return;
  }
  const n = summary.frames.length;
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const lines = [
    `Rendered ${n} frame(s) of ${view.width}×${view.height}${summary.tilesPerFrame > 1 ? ` in ${summary.tilesPerFrame} tiles each` : ''} on ${summary.api} into ${o.out} in ${s(summary.ms.total)} s (job ${summary.jobId})`,
    `  upload ${s(summary.ms.upload)} s, first frame ${s(summary.ms.firstFrame)} s after submitting, job ${s(summary.ms.job)} s, last download ${s(summary.ms.downloadTail)} s after the job ended`,
    ...summary.nodes.map(
      (share) =>
        `  ${share.node}: ${share.tiles} ${summary.tilesPerFrame > 1 ? 'tile(s)' : 'frame(s)'} of frames ${formatFrameList(share.frames)}${share.stitches ? `, ${share.stitches} frame(s) stitched` : ''}`,
    ),
  ];
  if (summary.retriedTasks) lines.push(`  ${summary.retriedTasks} task(s) needed more than one attempt`);
  if (summary.probe?.rtts.length) {
    lines.push(`  probed ${summary.probe.rtts.map((r) => `${r.nodeId} ${r.rttMs.toFixed(1)} ms`).join(', ')}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

/** `--animated` after a farm render: the downloaded frames as one looping animated WebP. */
async function writeAnimation(files: string[], outDir: string, fps: number, encode: EncodeSpec): Promise<string> {
  const { readFile, writeFile } = await import('node:fs/promises');
  const { decodeRaw } = await import('../../render-node/output/stitch-tiles.ts');
  const { encodeAnimatedWebp } = await import('../../render-node/output/encode-image.ts');
  const { RENDERER_VERSION } = await import('../../render-node/version.ts');
  const frames = await Promise.all(files.map(async (f) => decodeRaw(await readFile(f))));
  const file = join(outDir, 'animation.webp');
  await writeFile(file, await encodeAnimatedWebp(frames, fps, encode, { software: RENDERER_VERSION }));
  return file;
}

function cameraFrom(o: Record<string, any>): CameraSpec | undefined {
  if (o.eye || o.target) {
    if (!o.eye) throw new RangeError('--target needs --eye (the camera position)');
    const target = o.target ?? [o.eye[0], o.eye[1], o.eye[2] - 1];
    return { kind: 'look', position: o.eye, target, up: o.up ?? [0, 1, 0], fov: o.fov ?? 40 };
  }
  if (o.camera === 'auto') return { kind: 'auto', yaw: o.yaw ?? 30, pitch: o.pitch ?? 15, fov: o.fov ?? 40 };
  if (/^\d+$/.test(o.camera)) return { kind: 'gltf', index: Number(o.camera) };
  return { kind: 'gltf', name: o.camera };
}
