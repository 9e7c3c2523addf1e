/**
 * The API process exits on a signal even when its stderr's reader is gone (a supervisor or `| tee` killed
 * outright): pino's flush at exit (sonic-boom 4.2.1's flushSync) retries a failed write forever, so an API whose
 * log pipe is broken used to stop its servers and then never leave. Both ways of starting it are checked: `npx tsx
 * api/node/main.ts` and `tessera api start`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { BIN, ROOT } from '../support/tessera-cli.ts';

const started: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Start the API with `args`, wait until it logs that it listens, break its stderr pipe, SIGTERM it: how it ended, or 'still running' after 20 s. */
async function exitWithBrokenStderr(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'still running'> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-epipe-'));
  dirs.push(dir);
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TESSERA_API_KEY: TEST_API_KEY, TESSERA_PORT: '0', TESSERA_DATA_DIR: join(dir, 'api'), TESSERA_LOG_LEVEL: 'info' },
  });
  started.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await waitFor('the API to listen', async () => (/API listening/.test(err) ? true : undefined), 60_000);
  // The reader goes away: every later write to stderr fails with EPIPE.
  child.stderr!.destroy();
  child.kill('SIGTERM');
  const ended = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 20_000))]);
  if (ended === 'still running') child.kill('SIGKILL');
  return ended;
}

describe('the API process with a dead stderr reader', () => {
  it('api/node/main.ts exits on SIGTERM', async () => {
    expect(await exitWithBrokenStderr(['--import', 'tsx', join(ROOT, 'api', 'node', 'main.ts')])).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('tessera api start exits on SIGTERM', async () => {
    expect(await exitWithBrokenStderr([BIN, 'api', 'start'])).toEqual({ code: 0, signal: null });
  }, 90_000);
});
