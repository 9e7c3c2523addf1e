/**
 * Three's Basis Universal transcoder for browsers (examples/jsm/libs/basis/), emitted by Vite beside the bundle:
 * the classic script that defines `BASIS` (how it gets loaded depends on the context: a <script> in a page,
 * importScripts in a worker) and the instantiation the page and the /join worker share: the .wasm fetched from
 * the same origin and handed over as bytes.
 */
import basisScriptUrlImport from 'three/examples/jsm/libs/basis/basis_transcoder.js?url';
import basisWasmUrl from 'three/examples/jsm/libs/basis/basis_transcoder.wasm?url';
import type { BasisFactory, BasisModule } from '../../../render-node/scene/ktx2-transcoder.ts';

export const basisScriptUrl: string = basisScriptUrlImport;

/** The Basis module from the factory the script defined (`BASIS`), its wasm fetched from our own origin. */
export async function instantiateBasis(factory: BasisFactory | undefined): Promise<BasisModule> {
  if (typeof factory !== 'function') throw new Error(`${basisScriptUrl} did not define the BASIS module factory`);
  const res = await fetch(basisWasmUrl);
  if (!res.ok) throw new Error(`the Basis transcoder wasm did not load from ${basisWasmUrl}: HTTP ${res.status}`);
  const basis = await factory({ wasmBinary: new Uint8Array(await res.arrayBuffer()) });
  basis.initializeBasis();
  return basis;
}
