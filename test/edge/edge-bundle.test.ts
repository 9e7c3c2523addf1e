/**
 * The Worker bundle `npx wrangler deploy --dry-run` builds: it holds the API, the coordinator, glTF-Transform
 * and Draco's decoder, and none of the render node's native or GL stack (three, sharp, gl), nor the AWS
 * SDK; it fits the Workers size limits with room to spare. Prints its size.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/tessera-cli.ts';

const WRANGLER = createRequire(import.meta.url).resolve('wrangler/bin/wrangler.js');
let outdir: string;
afterAll(async () => {
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

/** The package a bundled source file came from (`@scope/name` or `name`), or null for project files. */
function packageOf(source: string): string | null {
  const at = source.lastIndexOf('node_modules/');
  if (at < 0) return null;
  const parts = source.slice(at + 'node_modules/'.length).split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

describe('the Worker bundle', () => {
  it('builds with wrangler deploy --dry-run without three, sharp, gl or the AWS SDK', async () => {
    outdir = await mkdtemp(join(tmpdir(), 'tessera-edge-bundle-'));
    await promisify(execFile)(process.execPath, [WRANGLER, 'deploy', '--dry-run', '--config', 'infra/wrangler.jsonc', '--outdir', outdir], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    });
    const files = await readdir(outdir);
    const js = files.filter((f) => f.endsWith('.js'));
    const wasm = files.filter((f) => f.endsWith('.wasm'));
    expect(js).toEqual(['worker.js']);
    const map = JSON.parse(await readFile(join(outdir, 'worker.js.map'), 'utf8')) as { sources: string[] };
    const packages = new Set(map.sources.map(packageOf).filter((p): p is string => p !== null));
    for (const banned of ['three', 'sharp', 'gl', '@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner', 'better-sqlite3', 'pino', 's3rver']) {
      expect(packages.has(banned), `${banned} is bundled`).toBe(false);
    }
    for (const needed of ['hono', '@gltf-transform/core', 'aws4fetch', 'draco3dgltf', 'fflate', 'zod']) expect(packages.has(needed), needed).toBe(true);
    expect(map.sources.some((s) => s.includes('render-node/render/') || s.includes('render-node/gl/'))).toBe(false);

    const code = await readFile(join(outdir, 'worker.js'));
    const wasmBytes = (await Promise.all(wasm.map((f) => stat(join(outdir, f))))).reduce((n, s) => n + s.size, 0);
    const gzip = gzipSync(code).length + gzipSync(Buffer.concat(await Promise.all(wasm.map((f) => readFile(join(outdir, f)))))).length;
    // Workers: 3 MB (Free) / 10 MB (Paid) after compression.
    expect(gzip).toBeLessThan(3 * 1024 * 1024);
    console.log(`Worker bundle: worker.js ${(code.length / 1024).toFixed(0)} KiB + ${wasm.length} wasm ${(wasmBytes / 1024).toFixed(0)} KiB; ${(gzip / 1024).toFixed(0)} KiB gzipped`);
  });
});
