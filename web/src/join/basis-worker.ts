/// <reference lib="webworker" />
/**
 * KTX2 (KHR_texture_basisu) transcoding for a /join tab, in a dedicated worker: three's Basis Universal transcoder
 * (basis_transcoder.js + .wasm, emitted beside the bundle) builds its embind bindings with `new Function`, which
 * the /join page's CSP forbids (the page holds a node token: no eval there). A worker loaded from the page's own
 * origin gets its policy from its own response (none for /assets/), not from the page's meta tag, so the
 * transcoder runs here, with no access to the page, its DOM or its token; bytes come in and RGBA8 goes out.
 * Transcoding is render-node/scene/ktx2-transcoder.ts, as on Node and in the Chromium backend's page.
 */
import { basisScriptUrl, instantiateBasis } from '../render-host/basis-module.ts';
import { createKtx2Transcoder, type BasisFactory, type BasisModule } from '../../../render-node/scene/ktx2-transcoder.ts';
import type { Ktx2Reply, Ktx2Request } from './worker-ktx2.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope & { BASIS?: BasisFactory };

async function loadWorkerBasis(): Promise<BasisModule> {
  if (!scope.BASIS) scope.importScripts(basisScriptUrl);
  return instantiateBasis(scope.BASIS);
}

const transcode = createKtx2Transcoder(loadWorkerBasis);

scope.onmessage = async (e: MessageEvent<Ktx2Request>) => {
  const { id, bytes, maxPixels } = e.data;
  let reply: Ktx2Reply;
  try {
    const image = await transcode(bytes, { maxPixels });
    reply = { id, ok: true, image };
    scope.postMessage(reply, [image.data.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { id, ok: false, message: (err as Error)?.message ?? String(err) };
    scope.postMessage(reply);
  }
};
