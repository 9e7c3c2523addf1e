/**
 * The package as an operator gets it: `npm pack`, then `npm install tessera-x.tgz` in an empty folder, then the
 * installed `tessera` renders a frame and runs the API and a node. To keep CI fast the install reuses npm's
 * cache (--prefer-offline) and this checkout's native builds of gl and better-sqlite3 (same versions, same
 * Node) instead of compiling them again (~2.5 min); the package's own install script still runs (npm rebuild).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { ROOT, tessera } from '../support/tessera-cli.ts';

const exec = promisify(execFile);
let dir: string;
let tarball: string;
let app: string;
/** The environment without npm's lifecycle variables from a parent `npm test`. */
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_'))) as Record<string, string>;
const npm = (args: string[], cwd: string, env: Record<string, string> = cleanEnv()) => exec('npm', args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
const installed = (...p: string[]) => join(app, 'node_modules', ...p);
const timings: Record<string, number> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-package-'));
  let t = Date.now();
  const packed = JSON.parse((await npm(['pack', '--json', '--pack-destination', dir], ROOT)).stdout) as { filename: string }[];
  tarball = join(dir, packed[0].filename);
  timings.pack = Date.now() - t;
  app = join(dir, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'operator', private: true }));
  t = Date.now();
  await npm(['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app);
  for (const [pkg, file] of [['gl', 'webgl.node'], ['better-sqlite3', 'better_sqlite3.node']]) {
    const mine = JSON.parse(await readFile(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    const theirs = JSON.parse(await readFile(installed(pkg, 'package.json'), 'utf8')).version;
    if (mine === theirs) {
      await mkdir(installed(pkg, 'build', 'Release'), { recursive: true });
      await copyFile(join(ROOT, 'node_modules', pkg, 'build', 'Release', file), installed(pkg, 'build', 'Release', file));
    } else {
      // A newer release resolved from the registry: build it here (from source: no prebuilt download).
      await npm(['rebuild', pkg, '--build-from-source'], app);
    }
  }
  // The package's own lifecycle (its preinstall system check) runs as in a normal install.
  await npm(['rebuild', 'tessera', '--foreground-scripts'], app);
  timings.install = Date.now() - t;
}, 240_000);

afterAll(async () => {
  process.stderr.write(`package test: pack ${timings.pack} ms, install ${timings.install} ms\n`);
  await rm(dir, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('is lean: no tests, benchmarks, results or the million-triangle scene', async () => {
    const { size } = await stat(tarball);
    // 546 KiB without the dashboard, ~0.9 MiB with web/dist (setup builds it); 13.3 MiB before the files list;
    // 1.9 MiB with the dashboard on three r187 (its DRACOLoader's asm.js fallback, never loaded, is left out).
    expect(size).toBeLessThan(2 * 1024 * 1024);
    const { stdout } = await exec('tar', ['tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    expect(files.filter((f) => /^package\/(test|bench)\//.test(f) || f.includes('million.glb') || f.endsWith('.test.ts'))).toEqual([]);
    // Every relative import of every packed source file is packed too (a folder missing from `files` breaks the install).
    const packed = new Set(files.map((f) => f.replace(/^package\//, '')));
    const missing: string[] = [];
    for (const file of packed) {
      if (!/\.(ts|mjs)$/.test(file) || file.endsWith('.d.ts')) continue;
      for (const { fileName } of ts.preProcessFile(await readFile(join(ROOT, file), 'utf8'), true, true).importedFiles) {
        if (!fileName.startsWith('.')) continue;
        const target = posix.normalize(posix.join(dirname(file), fileName));
        if (!packed.has(target) && !packed.has(`${target}.ts`)) missing.push(`${file} → ${fileName}`);
      }
    }
    expect(missing).toEqual([]);
    for (const needed of ['infra/bin/tessera.mjs', 'infra/cli/main.ts', 'infra/check-system.mjs', 'infra/apt-packages.txt', 'scenes/textured-pbr.glb', 'render-node/agent/task-worker.ts', 'infra/systemd/tessera-node.service']) {
      expect(files).toContain(`package/${needed}`);
    }
  });
});

describe('installed in an empty folder', () => {
  it('renders a frame with `tessera render --local`, the same picture as this checkout renders', async () => {
    const args = ['render', join(ROOT, 'scenes', 'textured-pbr.glb'), '--local', '--frames', '0', '--size', '320x240'];
    const there = await exec(installed('.bin', 'tessera'), [...args, '--out', join(dir, 'out')], { cwd: app, env: { ...cleanEnv(), DISPLAY: '' } });
    expect(there.stdout).toMatch(/Rendered 1 frame/);
    const here = await tessera(...args, '--out', join(dir, 'reference'));
    expect(here.code).toBe(0);
    const png = await readFile(join(dir, 'out', 'frame-0000.png'));
    expect(png.equals(await readFile(join(dir, 'reference', 'frame-0000.png')))).toBe(true);
    // And it is a picture, not a blank frame.
    const stats = await sharp(png).stats();
    expect(stats.channels.slice(0, 3).every((c) => c.stdev > 10)).toBe(true);
  });

  it('runs `tessera api start` and a `tessera node start` that joins it', async () => {
    const bin = installed('.bin', 'tessera');
    const env = { ...cleanEnv(), DISPLAY: '', TESSERA_API_KEY: TEST_API_KEY, TESSERA_LOG_LEVEL: 'warn' };
    const apiProc = spawn(bin, ['api', 'start', '--port', '0', '--data', join(dir, 'api')], { cwd: app, env });
    let out = '';
    apiProc.stdout.on('data', (d) => (out += d));
    const nodeProc: { child?: ReturnType<typeof spawn> } = {};
    try {
      const url = await waitFor('the installed API', async () => /listening on (\S+)/.exec(out)?.[1], 60_000);
      nodeProc.child = spawn(bin, ['node', 'start', '--api', url, '--name', 'installed-node', '--concurrency', '1', '--cache', join(dir, 'cache')], { cwd: app, env, stdio: 'ignore' });
      const node = await waitFor('the installed node to register', async () => {
        const { body } = await call(url, 'GET', '/v1/nodes');
        return (body.nodes as { card: { name: string; gl: { renderer: string } } }[]).find((n) => n.card.name === 'installed-node');
      });
      expect(node.card.gl.renderer).toMatch(/ANGLE/);
      // The web dashboard comes with the package when this checkout has built it (npm run setup does).
      if (existsSync(join(ROOT, 'web', 'dist', 'index.html'))) {
        const page = await fetch(url);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/text\/html/);
      }
    } finally {
      nodeProc.child?.kill('SIGKILL');
      apiProc.kill('SIGKILL');
    }
  });

  it('fails the install with the apt-get advice when a Debian package is missing, before any compiler runs', async () => {
    const fake = join(dir, 'fakebin');
    await mkdir(fake);
    // A Debian where libglew-dev was never installed.
    await writeFile(join(fake, 'dpkg-query'), '#!/bin/sh\nfor a; do p="$a"; done\nif [ "$p" = libglew-dev ]; then exit 1; fi\necho "install ok installed"\n');
    await chmod(join(fake, 'dpkg-query'), 0o755);
    const bare = join(dir, 'bare');
    await mkdir(bare);
    await writeFile(join(bare, 'package.json'), JSON.stringify({ name: 'bare', private: true }));
    const env = { ...cleanEnv(), PATH: `${fake}:${process.env.PATH}` };
    const failed = await npm(['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], bare, env).then(
      () => ({ stderr: '', failed: false }),
      (err: { stderr: string }) => ({ stderr: err.stderr, failed: true }),
    );
    expect(failed.failed).toBe(true);
    expect(failed.stderr).toMatch(/headless-gl needs Debian packages that are missing: libglew-dev\b/);
    expect(failed.stderr).toMatch(/sudo apt-get update && sudo apt-get install -y --no-install-recommends libglew-dev/);
    expect(failed.stderr).not.toMatch(/gyp|g\+\+|make:/);
  });
});
