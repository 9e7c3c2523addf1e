import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApiConfig } from '../../api/node/api-config.ts';
import { NodeConfigFile } from '../../infra/cli/node-config.ts';
import { ROOT, tessera } from '../support/tessera-cli.ts';

const exec = promisify(execFile);
const UNITS = ['tessera-api.service', 'tessera-node.service'];
const SYSTEM_UNITS = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')));

/** `[Service]` keys → values (a key given twice keeps both, space-joined). */
function serviceKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1];
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv) throw new Error(`not a unit-file line: ${line}`);
    if (section === 'Service') keys.set(kv[1], keys.has(kv[1]) ? `${keys.get(kv[1])} ${kv[2]}` : kv[2]);
  }
  return keys;
}

let root: string;
beforeAll(async () => {
  // A root for `systemd-analyze --root`: the host's system units, the units, and the binary they start.
  root = await mkdtemp(join(tmpdir(), 'tessera-systemd-'));
  await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
  await mkdir(join(root, 'usr/lib/systemd/system'), { recursive: true });
  // The host's unit files (targets the units name), without its symlinks (absolute, they would resolve in the root).
  if (SYSTEM_UNITS) {
    for (const entry of await readdir(SYSTEM_UNITS, { withFileTypes: true })) {
      if (entry.isFile()) await copyFile(join(SYSTEM_UNITS, entry.name), join(root, 'usr/lib/systemd/system', entry.name));
    }
  }
  await mkdir(join(root, 'opt/tessera/node_modules/.bin'), { recursive: true });
  await writeFile(join(root, 'opt/tessera/node_modules/.bin/tessera'), '#!/bin/sh\n');
  await chmod(join(root, 'opt/tessera/node_modules/.bin/tessera'), 0o755);
  for (const unit of UNITS) await copyFile(join(ROOT, 'infra/systemd', unit), join(root, 'etc/systemd/system', unit));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const verify = (files: string[]) =>
  exec('systemd-analyze', ['--root', root, 'verify', ...files]).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );

describe('systemd units (infra/systemd)', () => {
  // systemd-analyze and the system units come with Debian's systemd package, which `npm test`'s setup installs.
  it('pass systemd-analyze verify without a warning; a misspelt key would not', async () => {
    const ok = await verify(UNITS.map((u) => join(root, 'etc/systemd/system', u)));
    expect(ok.out).toBe('');
    expect(ok.code).toBe(0);
    const bad = join(root, 'etc/systemd/system', 'typo.service');
    await writeFile(bad, (await readFile(join(ROOT, 'infra/systemd/tessera-api.service'), 'utf8')).replace('NoNewPrivileges=', 'NoNewPrivilegez='));
    expect((await verify([bad])).out).toMatch(/Unknown key 'NoNewPrivilegez'/);
  });

  it('are hardened: dedicated user, read-only system, only their data writable, limits, restart on failure', async () => {
    for (const unit of UNITS) {
      const keys = serviceKeys(await readFile(join(ROOT, 'infra/systemd', unit), 'utf8'));
      expect(keys.get('User'), unit).toBe('tessera');
      expect(keys.get('ProtectSystem'), unit).toBe('strict');
      expect(keys.get('NoNewPrivileges'), unit).toBe('yes');
      expect(keys.get('PrivateTmp'), unit).toBe('yes');
      expect(keys.get('ProtectHome'), unit).toBe('yes');
      expect(keys.get('CapabilityBoundingSet'), unit).toBe('');
      expect(keys.get('Restart'), unit).toBe('on-failure');
      expect(keys.get('MemoryMax'), unit).toMatch(/^\d+[GM]$/);
      expect(Number(keys.get('TasksMax')), unit).toBeGreaterThan(0);
      expect(keys.get('ReadWritePaths'), unit).toMatch(/^\/var\//);
    }
  });

  it('start commands the CLI knows, with flags it accepts', async () => {
    for (const unit of UNITS) {
      const keys = serviceKeys(await readFile(join(ROOT, 'infra/systemd', unit), 'utf8'));
      const [bin, ...args] = keys.get('ExecStart')!.split(/\s+/);
      expect(bin).toBe('/opt/tessera/node_modules/.bin/tessera');
      const command = args.filter((a) => !a.startsWith('-') && !a.startsWith('/') && !/^\d+$/.test(a));
      const help = await tessera(...command, '--help');
      expect(help.code, `${unit}: tessera ${command.join(' ')}`).toBe(0);
      for (const flag of args.filter((a) => a.startsWith('--'))) expect(help.stdout, `${unit}: ${flag}`).toContain(flag);
    }
  });

  it('come with example settings that the node and the API accept', async () => {
    const node = NodeConfigFile.parse(JSON.parse(await readFile(join(ROOT, 'infra/systemd/node.example.json'), 'utf8')));
    expect(node).toMatchObject({ probePort: 7070, location: { lat: 52.37, lon: 4.9 } });
    const env = Object.fromEntries(
      (await readFile(join(ROOT, 'infra/systemd/api.example.env'), 'utf8'))
        .split('\n')
        .filter((l) => /^[A-Z0-9_]+=/.test(l))
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    // Filled in as an operator would (the secrets are empty in the example).
    const config = readApiConfig({ ...env, TESSERA_S3_ACCESS_KEY_ID: 'id', TESSERA_S3_SECRET_ACCESS_KEY: 'secret' });
    expect(config.s3).toMatchObject({ region: 'auto', bucket: 'tessera' });
  });
});
