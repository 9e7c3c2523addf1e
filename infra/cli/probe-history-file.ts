/**
 * The CLI's probe history: one JSON file per API under the user's cache folder ($XDG_CACHE_HOME, else
 * ~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows; then tessera/probe-history),
 * written whole then renamed into place. A missing or damaged file is no history, never an error.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir, platform } from 'node:os';
import { join } from 'node:path';
import { parseProbeMemory, type ProbeHistoryStore } from '../../api/client/probe-history.ts';

/** The user's cache folder for Tessera's probe history. */
export function defaultProbeHistoryDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CACHE_HOME ||
    (platform() === 'darwin' ? join(homedir(), 'Library', 'Caches') : platform() === 'win32' ? env.LOCALAPPDATA || join(homedir(), 'AppData', 'Local') : join(homedir(), '.cache'));
  return join(base, 'tessera', 'probe-history');
}

/** Probe history in files under `dir` (one per API, named by a hash of its URL). */
export function fileProbeHistory(dir = defaultProbeHistoryDir()): ProbeHistoryStore {
  const fileOf = (api: string) => join(dir, `${createHash('sha256').update(api).digest('hex').slice(0, 32)}.json`);
  return {
    async load(api) {
      try {
        const text = await readFile(fileOf(api), 'utf8');
        // A file larger than any honest history is not read further.
        return text.length > 256 * 1024 ? undefined : parseProbeMemory(text);
      } catch {
        return undefined;
      }
    },
    async save(api, memory) {
      try {
        await mkdir(dir, { recursive: true });
        const file = fileOf(api);
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, JSON.stringify(memory));
        await rename(tmp, file);
      } catch {
        // A read-only home or a full disk: the CLI just learns less.
      }
    },
  };
}
