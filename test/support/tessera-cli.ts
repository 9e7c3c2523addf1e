import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_API_KEY } from './api-harness.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'infra', 'bin', 'tessera.mjs');

/** Run `tessera ARGS` from the repository root, as `npx tessera` does (no DISPLAY: it starts its own Xvfb), with the test API key. */
export function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, DISPLAY: '', TESSERA_API_KEY: TEST_API_KEY } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Start `tessera render SCENE --local ARGS --out DIR` into a fresh temporary folder: the reference frames a test
 * compares the farm's with. `done` rejects with the CLI's stderr when the render fails.
 */
export function startLocalRender(scene: string, ...args: string[]): { dir: string; done: Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-local-render-'));
  const done = tessera('render', scene, '--local', ...args, '--out', dir).then((r) => {
    if (r.code !== 0) throw new Error(`local render failed: ${r.stderr}`);
  });
  return { dir, done };
}
