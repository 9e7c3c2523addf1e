import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { JobFrames } from '../../api/protocol/job-status.ts';
import type { ViewSpecInput } from '../../api/protocol/render-spec.ts';
import { decodeRaw } from '../../render-node/output/stitch-tiles.ts';
import type { createTestRenderer } from './renderer.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_RATE } from '../../api/core/verification-policy.ts';
import { call, startHarness, type HarnessOptions } from '../api/support/api-harness.ts';
import { BIN, ROOT } from './tessera-cli.ts';


export interface TestNode {
  name: string;
  child: ChildProcess;
  log: string[];
  exited: Promise<number | null>;
}

/** A real render node in its own process (`tessera node start`), as farm up runs it. */
export function spawnNode(api: string, name: string, opts: { env?: Record<string, string> } = {}): TestNode {
  const child = spawn(process.execPath, [BIN, 'node', 'start', '--api', api, '--name', name, '--concurrency', '2', '--cache', join(tmpdir(), `tessera-test-cache-${name}-${process.pid}`)], {
    cwd: ROOT,
    env: { ...process.env, DISPLAY: '', TESSERA_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  child.stderr!.on('data', (d) => log.push(...String(d).split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { name, child, log, exited };
}

/** Local S3 + API (in this process, restartable on the same port and data) for farm tests. */
export async function startTestFarm(opts: { leaseMs?: number; api?: HarnessOptions['api'] } = {}) {
  // The farm as shipped: verification at its default sample rate unless the test sets one.
  const harness = await startHarness({ leaseMs: opts.leaseMs, api: { ...opts.api, verification: { sampleRate: SAMPLE_RATE, ...opts.api?.verification } } });
  return {
    dir: harness.dir,
    s3: harness.s3,
    get url() {
      return harness.url;
    },
    restartApi: (downMs = 500) => harness.restart(downMs),
    close: () => harness.close(),
  };
}

/**
 * Every frame of the job, downloaded through its presigned URLs, equals the local untiled render of `scene`
 * pixel for pixel (and its bytes match the checksum the API lists). Returns the listing.
 */
export async function expectFramesMatchLocal(
  apiUrl: string,
  jobId: string,
  frames: number[],
  view: ViewSpecInput,
  local: Awaited<ReturnType<typeof createTestRenderer>>,
  scene = 'animated-trs',
): Promise<JobFrames> {
  const listed = (await call<JobFrames>(apiUrl, 'GET', `/v1/jobs/${jobId}/frames`)).body;
  expect(listed.frames.map((f) => f.frame)).toEqual(frames);
  for (const f of listed.frames) {
    const bytes = new Uint8Array(await (await fetch(f.url)).arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.checksum);
    const got = await decodeRaw(bytes);
    const want = await local.render(scene, view, f.frame);
    expect(Buffer.compare(Buffer.from(got.data), Buffer.from(want.data)), `frame ${f.frame}`).toBe(0);
  }
  return listed;
}

/** Poll `probe` until it returns a value; errors count as "not yet" (the API may be restarting). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) throw err;
      // the API may be restarting
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
