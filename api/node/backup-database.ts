import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TesseraError } from '../protocol/errors.ts';
import { JOB_DB_FILE } from './sqlite-job-store.ts';

/**
 * Copy the API's database (`<dataDir>/tessera.sqlite`) to `out` with SQLite's online backup (better-sqlite3's
 * `backup()`), safe while the API runs: the copy is one consistent snapshot, WAL contents included. It is
 * written beside `out` first, checked with `PRAGMA integrity_check`, then renamed into place.
 */
export async function backupDatabase(dataDir: string, out: string): Promise<{ file: string; bytes: number }> {
  const source = path.join(dataDir, JOB_DB_FILE);
  if (!existsSync(source)) throw new TesseraError('NOT_FOUND', `There is no database at ${source}; give the API's data dir (--data or TESSERA_DATA_DIR).`);
  const target = path.resolve(out);
  const tmp = `${target}.${process.pid}.partial`;
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(tmp);
  } catch (cause) {
    rmSync(tmp, { force: true });
    throw new Error(`backing up ${source} to ${target} failed`, { cause });
  } finally {
    db.close();
  }
  const check = new Database(tmp, { readonly: true });
  const result = check.pragma('integrity_check', { simple: true });
  check.close();
  if (result !== 'ok') {
    rmSync(tmp, { force: true });
    throw new TesseraError('INTERNAL', `the backup of ${source} failed its integrity check (${String(result)})`);
  }
  renameSync(tmp, target);
  return { file: target, bytes: statSync(target).size };
}
