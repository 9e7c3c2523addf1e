/**
 * The layers, read from the imports of every source file: each layer imports only itself and the layers
 * below it. `api/protocol` (the contract) imports nothing of ours; `scene-check` (the runtime-free scene
 * reader/checker) only the protocol; `api/core` those two; the adapters (`api/node`, `api/edge`) the core
 * and below, never the render node or each other; the SDK (`api/client`) and the render node share only
 * the contract (and the node the scene checks); the routing simulator (`sim`) sits on the core. Tests, benchmarks, scripts and the CLI may import anything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Each layered folder and the folders it may import from (itself included). */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  'api/protocol': ['api/protocol'],
  // Node-only helpers both Node processes share (the API on Node and the render node): imports nothing of ours.
  'node-support': ['node-support'],
  'scene-check': ['scene-check', 'api/protocol'],
  'api/core': ['api/core', 'scene-check', 'api/protocol'],
  'api/node': ['api/node', 'api/core', 'scene-check', 'api/protocol', 'node-support'],
  'api/edge': ['api/edge', 'api/core', 'scene-check', 'api/protocol'],
  'api/client': ['api/client', 'api/protocol'],
  'render-node': ['render-node', 'scene-check', 'api/protocol', 'node-support'],
  // The routing simulator drives the routing core offline; nothing of the API's runtime.
  sim: ['sim', 'api/core', 'scene-check', 'api/protocol'],
};

/** The layer a repository-relative path belongs to, or undefined for unlayered code (tests, infra, bench). */
export function layerOf(relPath: string): string | undefined {
  return Object.keys(LAYERS).find((layer) => relPath === layer || relPath.startsWith(layer + '/'));
}

/** Every relative import (static, re-export, dynamic, `import type`) of one source text, as written. */
export function relativeImports(source: string): string[] {
  return ts
    .preProcessFile(source, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'));
}

/** One import that crosses the layers the wrong way. */
export interface LayerViolation {
  readonly file: string;
  readonly imports: string;
  readonly fromLayer: string;
  readonly toLayer: string;
}

/** The imports in `source` (at repository-relative `file`) that its layer may not make. */
export function layerViolations(file: string, source: string): LayerViolation[] {
  const fromLayer = layerOf(file);
  if (fromLayer === undefined) return [];
  const out: LayerViolation[] = [];
  for (const spec of relativeImports(source)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
    const toLayer = layerOf(target) ?? (target.startsWith('..') ? 'outside the repository' : target.split('/')[0]);
    if (!LAYERS[fromLayer].includes(toLayer)) out.push({ file, imports: spec, fromLayer, toLayer });
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) out.push(rel);
  }
  return out;
}

describe('layers', () => {
  const files = [...new Set(Object.keys(LAYERS).map((layer) => layer.split('/')[0]))].flatMap(sourceFiles);

  it('finds the source files of every layer', () => {
    for (const layer of Object.keys(LAYERS)) expect(files.filter((f) => layerOf(f) === layer).length, layer).toBeGreaterThan(0);
  });

  it('has no import against the layers', () => {
    const violations = files.flatMap((file) => layerViolations(file, readFileSync(path.join(ROOT, file), 'utf8')));
    expect(violations.map((v) => `${v.file} (${v.fromLayer}) imports ${v.imports} (${v.toLayer})`)).toEqual([]);
  });

  it('catches each kind of import that crosses a layer', () => {
    const source = [
      "import { a } from '../core/a.ts';",
      "import type { B } from '../../render-node/b.ts';",
      "export { c } from '../client/c.ts';",
      "const d = await import('../node/d.ts');",
      "import { e } from './e.ts';",
      "import { z } from 'zod';",
    ].join('\n');
    expect(layerViolations('api/protocol/x.ts', source).map((v) => v.toLayer)).toEqual(['api/core', 'render-node', 'api/client', 'api/node']);
    expect(layerViolations('render-node/agent/x.ts', "import { f } from '../../api/core/f.ts';")).toHaveLength(1);
    expect(layerViolations('render-node/agent/x.ts', "import { f } from '../../scene-check/f.ts';")).toEqual([]);
    expect(layerViolations('test/x.ts', "import { f } from '../api/core/f.ts';")).toEqual([]);
  });
});
