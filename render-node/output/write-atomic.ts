import { rename, writeFile } from 'node:fs/promises';

/** Write via a temporary name and rename, so a crash never leaves a half-written frame under the real name. */
export async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}
