import { rename, writeFile } from 'node:fs/promises';

let writes = 0;

/**
 * Write via a temporary name and rename, so a crash never leaves a half-written frame under the real name. The
 * temporary name is unique per process and write: two writes of one file in flight (a still scene's frames in an
 * animation, several render processes) each rename a whole file.
 */
export async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}-${++writes}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}
