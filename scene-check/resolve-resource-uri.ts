/**
 * Resolves a relative resource URI of a .gltf (a .bin or an image) to a real file inside the
 * scene's own folder. Anything that could reach elsewhere is refused with SCENE_EXTERNAL_URI:
 * URI schemes (http:, file:, ...), absolute paths, `..` escapes, percent-encoded variants of those
 * (the URI is decoded first, then checked), and symbolic links whose target lies outside.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { TesseraError } from '../api/protocol/errors.ts';
import { malformed, show } from './gltf-fields.ts';

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const ALLOWED = 'only data: URIs and relative paths inside the scene folder are allowed';

export interface ResolvedResource {
  /** Real path of the file (symbolic links resolved). */
  path: string;
  size: number;
}

function external(message: string): TesseraError {
  return new TesseraError('SCENE_EXTERNAL_URI', message);
}

function inside(folder: string, candidate: string): boolean {
  const rel = path.relative(folder, candidate);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * The checks every relative resource URI passes wherever its files are: not empty, no scheme, not absolute
 * (raw or percent-decoded), no NUL. Returns the decoded path with `/` separators. `what` names the owner.
 */
export function checkRelativeUri(uri: string, what: string): string {
  const label = `${what} uri ${show(uri)}`;
  if (uri === '') throw malformed(`${what} uri is empty`);
  const scheme = SCHEME.exec(uri);
  if (scheme) throw external(`${label} uses the ${scheme[1].toLowerCase()}: scheme; ${ALLOWED}`);
  if (uri.startsWith('/') || uri.startsWith('\\')) throw external(`${label} is an absolute path; ${ALLOWED}`);

  let decoded: string;
  try {
    decoded = decodeURIComponent(uri);
  } catch (err) {
    throw malformed(`${label} has invalid percent-encoding`, err);
  }
  if (decoded.includes('\0')) throw external(`${label} contains a NUL character`);
  decoded = decoded.replace(/\\/g, '/');
  const decodedScheme = SCHEME.exec(decoded);
  if (decodedScheme) {
    throw external(`${label} decodes to ${show(decoded)}, which uses the ${decodedScheme[1].toLowerCase()}: scheme; ${ALLOWED}`);
  }
  if (decoded.startsWith('/')) throw external(`${label} decodes to the absolute path ${show(decoded)}; ${ALLOWED}`);
  return decoded;
}

/**
 * `folder` must be a real path (from `fs.realpath`), or undefined when the scene came as bytes
 * (then every file reference is refused). `what` names the owner for messages, e.g. `buffer 0`.
 */
export async function resolveResourceUri(
  uri: string,
  folder: string | undefined,
  what: string,
): Promise<ResolvedResource> {
  const label = `${what} uri ${show(uri)}`;
  const decoded = checkRelativeUri(uri, what);
  if (folder === undefined) {
    throw external(
      `${label} refers to a separate file, but the scene was given as bytes with no folder; ` +
        'embed the file as a data: URI or send a GLB',
    );
  }
  const resolved = path.resolve(folder, decoded);
  if (!inside(folder, resolved)) throw external(`${label} points outside the scene folder; ${ALLOWED}`);

  let real: string;
  try {
    real = await realpath(resolved);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw malformed(`${label}: file not found`, err);
    throw malformed(`${label} cannot be opened (${code ?? 'error'})`, err);
  }
  if (!inside(folder, real)) {
    throw external(`${label} is a symbolic link to a file outside the scene folder; ${ALLOWED}`);
  }
  const info = await stat(real);
  if (!info.isFile()) throw malformed(`${label} is not a regular file`);
  return { path: real, size: info.size };
}
