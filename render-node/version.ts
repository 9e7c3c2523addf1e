import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const versionOf = (pkg: string): string => {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

/** The renderer's own version: bump it whenever pictures may change. */
export const RENDER_CORE_VERSION = '0.1.0';

/** Everything that decides the bytes of a render, recorded in output metadata. */
export const RENDERER_VERSION = `tessera-render/${RENDER_CORE_VERSION} three/${versionOf('three')} gl/${versionOf('gl')} sharp/${versionOf('sharp')}`;
