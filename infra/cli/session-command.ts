import { Command } from 'commander';
import { createTesseraClient } from '../../api/client/index.ts';
import { SessionFidelity, SessionFormat } from '../../api/protocol/session.ts';
import { packScene } from './pack-scene.ts';
import { runSessionBench, STAGES } from './session-bench.ts';

/** `tessera session bench`: measure interactive sessions on a farm. */
export function sessionCommand(): Command {
  const session = new Command('session').description('Interactive (VR) sessions: stream head poses to a node, get stereo frames back.');
  session
    .command('bench')
    .description('Open session(s), stream a smooth head motion at 90 Hz, decode every frame; print fps, pose→frame p50/p95, dropped poses and the node.')
    .requiredOption('--api <url>', 'the edge API')
    .requiredOption('--scene <file>', 'glTF/GLB scene (uploaded first; same bytes, same scene id)')
    .option('--api-key <key>', 'API key (default: $TESSERA_API_KEY)')
    .option('--eye <WxH>', 'eye size', '512x512')
    .option('--seconds <n>', 'how long to stream', (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 3600)) throw new RangeError(`--seconds is 0 to 3600 (got "${v}")`);
      return n;
    }, 10)
    .option('--sessions <n>', 'sessions at once', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new RangeError(`--sessions is 1 to 64 (got "${v}")`);
      return n;
    }, 1)
    .option('--format <format>', 'jpeg or webp', 'jpeg')
    .option('--no-shadows', 'open the sessions without shadow maps (default: shadows as batch renders draw them)')
    .option('--fidelity <look>', 'full (the batch render\'s look) or fast (baked background, shadow maps sized to the eye)', 'full')
    .option('--depth', 'ask for depth frames too (linear millimetres, rg8-mm-png) and decode them as well')
    .option('--json', 'print {fps, p50Ms, p95Ms, frames, dropped, nodeId} as JSON on stdout')
    .action(async (o) => {
      const format = SessionFormat.parse(o.format);
      const fidelity = SessionFidelity.parse(o.fidelity);
      if (!/^\d{1,4}x\d{1,4}$/.test(o.eye)) throw new RangeError(`--eye is WIDTHxHEIGHT (got "${o.eye}")`);
      const apiKey: string | undefined = o.apiKey ?? process.env.TESSERA_API_KEY;
      const packed = await packScene(o.scene);
      const { sceneId } = await createTesseraClient({ baseUrl: o.api, apiKey }).uploadScene(packed.bytes, { contentType: packed.contentType });
      const r = await runSessionBench({ api: o.api, apiKey, sceneId, eye: o.eye, seconds: o.seconds, sessions: o.sessions, format, shadows: o.shadows !== false, depth: o.depth === true, fidelity });
      if (o.json) {
        process.stdout.write(JSON.stringify({ fps: r.fps, p50Ms: r.p50Ms, p95Ms: r.p95Ms, frames: r.frames, dropped: r.dropped, nodeId: r.nodeId }) + '\n');
        return;
      }
      process.stdout.write(
        `${o.sessions} session${o.sessions === 1 ? '' : 's'} × ${o.seconds} s, eye ${o.eye}, ${format}, ${fidelity}\n` +
          `fps ${r.fps} per session   pose→frame p50 ${r.p50Ms} ms  p95 ${r.p95Ms} ms   frames ${r.frames}   dropped poses ${r.dropped}   node ${r.nodeId}\n` +
          `where it went, p50 ms: ${STAGES.map((k) => `${k} ${r.stages[k].p50 ?? '-'}`).join('  ')}   (uplink/downlink: exact only with client and node on one host)\n` +
          `this client's CPU per frame: ${r.clientCpuMsPerFrame ?? '-'} ms\n`,
      );
    });
  return session;
}
