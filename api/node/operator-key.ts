/**
 * The operator's admin API key for a Node API or a local farm: TESSERA_API_KEY when it is set; otherwise
 * the key saved in the data dir by an earlier start; otherwise a new key, saved there (mode 0600) so the
 * next start keeps the same key and its jobs. The caller prints it when it was just created.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { newApiKey } from '../core/client-keys.ts';
import { API_KEY_PREFIX } from '../protocol/api-keys.ts';

export interface OperatorKey {
  key: string;
  /** Where it came from; `created` means nobody has seen it yet. */
  source: 'env' | 'file' | 'created';
  /** The file it is saved in (absent when it came from the environment). */
  file?: string;
}

/** The key file's name inside a data dir. */
export const OPERATOR_KEY_FILE = 'api-key';

export async function operatorKey(dataDir: string, env: Record<string, string | undefined> = process.env): Promise<OperatorKey> {
  const fromEnv = env.TESSERA_API_KEY?.trim();
  if (fromEnv) return { key: fromEnv, source: 'env' };
  const file = path.join(dataDir, OPERATOR_KEY_FILE);
  const saved = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (saved.startsWith(API_KEY_PREFIX)) return { key: saved, source: 'file', file };
  const key = newApiKey();
  await writeFile(file, key + '\n', { mode: 0o600 });
  return { key, source: 'created', file };
}
