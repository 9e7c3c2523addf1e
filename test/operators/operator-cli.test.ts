import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, TEST_API_KEY } from '../support/api-harness.ts';
import { waitFor } from '../support/farm-checks.ts';
import { BIN, ROOT, tessera } from '../support/tessera-cli.ts';

interface Running {
  child: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
}

/** `tessera ARGS` left running (as a service would), its stdout and stderr collected. */
function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, DISPLAY: '', TESSERA_API_KEY: TEST_API_KEY, ...env } });
  const out: string[] = [];
  child.stdout!.on('data', (d) => out.push(String(d)));
  child.stderr!.on('data', (d) => out.push(String(d)));
  return { child, out, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

let dir: string;
let api: Running;
let apiUrl: string;
let metricsUrl: string;
const started: Running[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-operator-'));
  // Loopback probe URLs are this test's "public" addresses.
  api = start(['api', 'start', '--port', '0', '--metrics-port', '0', '--data', join(dir, 'api'), '--log-level', 'warn'], { TESSERA_PROBE_ALLOW_PRIVATE: '1' });
  started.push(api);
  [, apiUrl, metricsUrl] = await waitFor('the API to listen', async () => /listening on (\S+), metrics on (\S+)/.exec(api.out.join('')) ?? undefined, 60_000);
}, 90_000);

afterAll(async () => {
  for (const r of started) r.child.kill('SIGKILL');
  await Promise.all(started.map((r) => r.exited));
  await rm(dir, { recursive: true, force: true });
});

describe('tessera api start', () => {
  it('serves the API with the flags over the environment, and its metrics on their own port', async () => {
    const health = await call(apiUrl, 'GET', '/v1/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    // TESSERA_API_KEY from the environment is the admin key.
    expect((await call(apiUrl, 'GET', '/v1/keys')).status).toBe(200);
    expect((await call(apiUrl, 'GET', '/v1/keys', { token: 'tsk_wrong' })).status).toBe(401);
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(/^tessera_api_http_requests_total\{method="GET",status="200"\} [1-9]/m);
    // /metrics is not on the API's own port.
    expect((await fetch(new URL('/metrics', apiUrl))).status).toBe(404);
  });

  it('refuses a bad setting, naming its variable (exit 2)', async () => {
    const r = await tessera('api', 'start', '--port', '99999');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/TESSERA_PORT must be an integer from 0 to 65535/);
  });
});

describe('tessera node start --config', () => {
  it('reads the file, and a flag wins over it', async () => {
    const config = join(dir, 'node.json');
    await writeFile(config, JSON.stringify({ api: apiUrl, name: 'from-file', region: 'file-region', concurrency: 1, cache: join(dir, 'cache'), location: '52.37,4.90' }));
    const node = start(['node', 'start', '--config', config, '--name', 'from-flag']);
    started.push(node);
    const listed = await waitFor('the node to register', async () => {
      const nodes = (await call(apiUrl, 'GET', '/v1/nodes')).body.nodes as { card: { name: string; region: string; concurrency: number; location?: { lat: number } } }[];
      return nodes.find((n) => n.card.name === 'from-flag');
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}; the node said:\n${node.out.join('').slice(-4000)}`);
    });
    expect(listed.card).toMatchObject({ region: 'file-region', concurrency: 1, location: { lat: 52.37, lon: 4.9 } });
    node.child.kill('SIGTERM');
    // Drains (no tasks) and exits 0 within seconds; its output says why if not.
    const code = await Promise.race([node.exited, new Promise<string>((r) => setTimeout(() => r('still running 60 s after SIGTERM'), 60_000))]);
    expect(code, node.out.join('').slice(-4000)).toBe(0);
  }, 180_000);

  it('stops cleanly on a SIGTERM that arrives while it starts (before it has registered)', async () => {
    const node = start(['node', 'start', '--api', apiUrl, '--name', 'early-stop', '--concurrency', '1', '--metrics-port', '0', '--cache', join(dir, 'cache-early')]);
    started.push(node);
    // Its metrics server listens before it registers: the signal lands in the middle of the start-up.
    await waitFor('the node to start', async () => (node.out.join('').includes('metrics listening') ? true : undefined), 90_000);
    node.child.kill('SIGTERM');
    const code = await Promise.race([node.exited, new Promise<string>((r) => setTimeout(() => r('still running 60 s after SIGTERM'), 60_000))]);
    expect(code, node.out.join('').slice(-4000)).toBe(0);
    expect(node.out.join('')).toMatch(/"msg":"stopped"/);
  }, 180_000);

  it('names the field of a bad file (exit 2), typos included', async () => {
    const config = join(dir, 'typo.json');
    await writeFile(config, JSON.stringify({ api: apiUrl, concurency: 2 }));
    const typo = await tessera('node', 'start', '--config', config);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/typo\.json.*concurency/);
    await writeFile(config, JSON.stringify({ api: 'file:///etc/passwd' }));
    const scheme = await tessera('node', 'start', '--config', config);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(/api: must be an http\(s\) URL/);
  });
});

describe('tessera node doctor', () => {
  it('passes a working node: GL renderer, tiles/s, probe reachable from the API', async () => {
    const r = await tessera('node', 'doctor', '--api', apiUrl, '--cache', join(dir, 'cache'), '--concurrency', '1');
    expect(r.stdout).toMatch(/^ok {4}gl: GL renderer .+ reference tile: [\d.]+ tiles\/s$/m);
    expect(r.stdout).toMatch(/^ok {4}probe: probe URL http:\/\/127\.0\.0\.1:\d+\/ping is reachable from the API$/m);
    expect(r.stdout).toMatch(/^ok {4}clock: clock is \d+ ms (ahead of|behind) the API's$/m);
    expect(r.stdout).not.toMatch(/^FAIL/m);
    expect(r.code).toBe(0);
  });

  it('reports a probe URL nobody can reach, with what to do, and exits non-zero', async () => {
    const r = await tessera('node', 'doctor', '--api', apiUrl, '--cache', join(dir, 'cache'), '--concurrency', '1', '--probe-url', 'http://127.0.0.1:9/ping');
    expect(r.stdout).toMatch(/^FAIL {2}probe: probe URL http:\/\/127\.0\.0\.1:9\/ping is not reachable from the API: .*firewall/m);
    expect(r.stdout).toMatch(/1 problem\(s\)/);
    expect(r.code).toBe(1);
  });

  it('reports an API it cannot reach', async () => {
    const r = await tessera('node', 'doctor', '--api', 'http://127.0.0.1:9', '--cache', join(dir, 'cache'));
    expect(r.stdout).toMatch(/^FAIL {2}api: cannot reach the API at http:\/\/127\.0\.0\.1:9\//m);
    expect(r.code).toBe(1);
  });
});

describe('tessera setup', () => {
  it('checks the Debian packages of infra/apt-packages.txt (installed here, so nothing to do) and the gl build', async () => {
    const r = await tessera('setup');
    expect(r.stderr).toMatch(/the Debian packages are installed: libxi-dev .* g\+\+/);
    expect(r.stderr).toMatch(/setup: ready/);
    expect(r.code).toBe(0);
  });
});

describe('tessera api backup', () => {
  it('copies the live database to a consistent file', async () => {
    const out = join(dir, 'backup.sqlite');
    const r = await tessera('api', 'backup', '--data', join(dir, 'api'), '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const db = new Database(out, { readonly: true });
    const names = (db.prepare('SELECT card FROM nodes').all() as { card: string }[]).map((n) => JSON.parse(n.card).name);
    db.close();
    expect(names).toContain('from-flag');
  });
});
