/** What a render node reports of its scene cache in heartbeats: scene ids on disk, newest first, bounded. */
import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Heartbeat, MAX_REPORTED_SCENES } from '../api/protocol/node-messages.ts';
import { cachedSceneIds } from '../render-node/agent/scene-cache.ts';

describe('the scene cache a node reports', () => {
  it('lists the cached scene ids, most recently used first, only <sha256>.glb files, at most the bound', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-cache-report-'));
    const id = (i: number) => i.toString(16).padStart(64, '0');
    for (let i = 0; i < 70; i++) {
      const file = join(dir, `${id(i)}.glb`);
      await writeFile(file, 'x');
      const t = new Date(Date.UTC(2026, 0, 1, 0, 0, i));
      await utimes(file, t, t);
    }
    // Not scenes: a download in progress, a stray file, an upper-case name.
    await writeFile(join(dir, `${id(99)}.glb.123.tmp`), 'x');
    await writeFile(join(dir, 'notes.txt'), 'x');
    await writeFile(join(dir, `${'A'.repeat(64)}.glb`), 'x');
    const ids = await cachedSceneIds(dir, MAX_REPORTED_SCENES);
    expect(ids).toHaveLength(MAX_REPORTED_SCENES);
    expect(ids[0]).toBe(id(69));
    expect(ids.at(-1)).toBe(id(6));
    // What it reports is a valid heartbeat field.
    expect(Heartbeat.parse({ scenes: ids }).scenes).toEqual(ids);
    expect(await cachedSceneIds(join(dir, 'missing'), 8)).toEqual([]);
  });
});
