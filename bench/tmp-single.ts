import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newApiKey } from '../api/core/client-keys.ts';
import { renderOnFarm } from '../infra/cli/render-on-farm.ts';
const dir = await mkdtemp(join(tmpdir(), 's7-single-'));
process.env.TESSERA_API_KEY ||= newApiKey();
const lines: string[] = [];
const child = spawn(process.execPath, ['infra/bin/tessera.mjs', 'farm', 'up', '--nodes', '1', '--port', '0', '--data', dir, '--ready-file', join(dir, 'ready')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TESSERA_LOG_LEVEL: 'debug' } });
let part = '';
child.stdout!.on('data', (d: Buffer) => { const l = (part + d).split('\n'); part = l.pop()!; for (const x of l) lines.push(`${(performance.timeOrigin + performance.now()).toFixed(0)} ${x}`); });
let url = '';
while (!(url = await readFile(join(dir, 'ready'), 'utf8').then((t) => t.trim(), () => ''))) await new Promise((r) => setTimeout(r, 200));
const scene = 'scenes/animated-trs.glb';
const request = { frames: '60', size: { width: 1920, height: 1080 }, fps: 60, ssaa: 1, format: 'png' as const };
await renderOnFarm({ api: url, scene, request: { ...request, frames: '0-9' }, outDir: join(dir, 'warm') });
for (let i = 0; i < 6; i++) {
  const mark = lines.length;
  const t0 = Date.now();
  const one = await renderOnFarm({ api: url, scene, request, outDir: join(dir, `o${i}`) });
  const tEnd = Date.now();
  console.log(`--- run ${i}: firstFrame ${one.ms.firstFrame.toFixed(0)} ms, upload ${one.ms.upload.toFixed(0)}, submit ${one.ms.submit.toFixed(0)}; started ${t0} ended ${tEnd}`);
  if (i >= 4) for (const l of lines.slice(mark)) console.log(l.slice(0, 400));
}
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
process.exit(0);
