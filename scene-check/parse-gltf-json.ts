/**
 * Turns the bytes of a glTF JSON document (a .gltf file or a GLB's JSON chunk) into an object,
 * refusing invalid UTF-8, syntax errors (with line and column) and over-deep nesting first.
 */
import { TesseraError } from '../api/protocol/errors.ts';
import { isJsonObject, malformed, show, type JsonObject } from './gltf-fields.ts';
import { MAX_JSON_DEPTH, scanJson } from './scan-json.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `where` names the JSON for messages: `glTF JSON` or `GLB JSON chunk`. */
export function parseGltfJson(bytes: Uint8Array, where: string, maxDepth = MAX_JSON_DEPTH): JsonObject {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (err) {
    throw malformed(`${where} is not valid UTF-8 text`, err);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // tolerate a byte-order mark

  const problem = scanJson(text, maxDepth);
  if (problem) {
    const at = `line ${problem.line}, column ${problem.column}`;
    if (problem.kind === 'depth') {
      throw new TesseraError(
        'SCENE_LIMIT_EXCEEDED',
        `${where} is nested more than ${maxDepth} levels deep (at ${at}); that is a fixed limit`,
      );
    }
    throw malformed(`${where} has a syntax error at ${at} (character ${problem.position}): ${problem.message}`);
  }

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // scanJson accepts exactly JSON, so this is not expected; keep the parser's own words.
    throw malformed(`${where} is not valid JSON: ${(err as Error).message}`, err);
  }
  if (!isJsonObject(value)) throw malformed(`${where} must be a JSON object, got ${show(value)}`);
  return value;
}
