/**
 * Preload (`NODE_OPTIONS=--import=<this file>`, with TESSERA_CPU_PROFILE_DIR set) that CPU-profiles the process it
 * runs in: Node refuses `--cpu-prof` in NODE_OPTIONS, and render processes die by SIGKILL, so this writes a
 * `.cpuprofile` every few seconds (each covers the time since the previous one) and at exit, named after the
 * process's role. `bench/summarize-cpu-profiles.ts` adds them up per role. Only the benches set it.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector';
import { basename, join } from 'node:path';

const dir = process.env.TESSERA_CPU_PROFILE_DIR;
if (dir) {
  mkdirSync(dir, { recursive: true });
  const script = process.argv.slice(1).map((a) => basename(a)).join(' ');
  const role = /task-worker/.test(script) ? 'render-process' : /node start/.test(script) ? 'node' : /farm up/.test(script) ? 'farm-api' : /session-process/.test(script) ? 'session-process' : 'other';
  const session = new Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  let part = 0;
  const name = () => join(dir, `${role}.${process.pid}.${part++}.cpuprofile`);
  // Synchronous stop-and-write: works in an 'exit' handler too (inspector posts answer synchronously in-thread).
  const dump = (restart) => {
    session.post('Profiler.stop', (err, res) => {
      if (!err && res?.profile) writeFileSync(name(), JSON.stringify({ ...res.profile, argv: process.argv.slice(1) }));
      if (restart) session.post('Profiler.start');
    });
  };
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 1000 });
  await post('Profiler.start');
  setInterval(() => dump(true), 5000).unref();
  process.once('exit', () => dump(false));
  for (const sig of ['SIGTERM', 'SIGINT']) {
    // Only when nobody else handles it: then the default (exit) is what the process would have done.
    process.once(sig, () => {
      dump(false);
      if (process.listenerCount(sig) === 0) process.exit(128 + (sig === 'SIGTERM' ? 15 : 2));
    });
  }
}
