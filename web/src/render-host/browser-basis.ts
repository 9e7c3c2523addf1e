/**
 * The Basis Universal transcoder in a page: three's basis_transcoder.js and .wasm (examples/jsm/libs/basis/),
 * emitted by Vite beside the bundle (web/dist/assets/) so the page reaches them at its own origin (the Chromium
 * backend serves web/dist by request interception; the CSP allows scripts from 'self' and wasm compilation).
 * The script is a classic one that defines `BASIS`: it is added as a <script> (no eval), and the .wasm is
 * fetched and handed over as bytes. Transcoding is render-node/scene/ktx2-transcoder.ts, as on Node.
 */
import { basisScriptUrl, instantiateBasis } from './basis-module.ts';
import { createKtx2Transcoder, type BasisFactory, type BasisModule } from '../../../render-node/scene/ktx2-transcoder.ts';

async function loadBrowserBasis(): Promise<BasisModule> {
  const global = globalThis as { BASIS?: BasisFactory };
  if (!global.BASIS) {
    await new Promise<void>((resolve, reject) => {
      const script = document.createElement('script');
      script.src = basisScriptUrl;
      script.onload = () => resolve();
      script.onerror = () => reject(new Error(`the Basis transcoder script did not load from ${basisScriptUrl}`));
      document.head.append(script);
    });
  }
  return instantiateBasis(global.BASIS);
}

/** KTX2 level 0 to RGBA8 in this page (the module loads on first use). */
export const transcodeKtx2InPage = createKtx2Transcoder(loadBrowserBasis);
