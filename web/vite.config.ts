// Builds the dashboard (web/src) into web/dist: the API serves it at `/` on Node (api/node/web-assets.ts) and
// Workers static assets serve the same files on the edge (infra/wrangler.jsonc `assets`). Hashed files land
// in web/dist/assets/ (immutable); the pages themselves are revalidated (web/public/_headers).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Where a page takes the shared head. */
const PAGE_HEAD = /^[ \t]*<!-- page-head: .*-->\n/m;

/**
 * The head the dashboard and /join share (web/page-head.html: charset, viewport, referrer, the CSP, the icon),
 * put in place of a page's `<!-- page-head: … -->` line before Vite adds its scripts, so the CSP comes first.
 * The render host keeps its own, narrower policy.
 */
function pageHead(): Plugin {
  return {
    name: 'tessera-page-head',
    transformIndexHtml: {
      order: 'pre',
      handler: (html) => html.replace(PAGE_HEAD, () => readFileSync(here('page-head.html'), 'utf8')),
    },
  };
}

/**
 * Every page here renders on WebGL 2 (the render host, /join tabs, the dashboard's preview), so they all run the
 * current three.js: `three` (and `three/examples/...`) resolve to the `three-latest` package (three 0.187 under
 * an npm alias). Only Node's headless-gl backend keeps three 0.162, the last release with WebGL 1. The render
 * pipeline modules (render-node/render, render-node/scene) are the same source in both; the identity in cards
 * and outputs names the three revision (`three/187`), so verification compares the two by pixels.
 */
export const BROWSER_THREE = 'three-latest';

export default defineConfig({
  root: here('.'),
  base: '/',
  resolve: { alias: [{ find: /^three(?=\/|$)/, replacement: BROWSER_THREE }] },
  // The page imports the SDK and protocol (api/client, api/protocol) from outside web/.
  server: { fs: { allow: [here('..')] }, proxy: { '/v1': process.env.TESSERA_API ?? 'http://127.0.0.1:8080' } },
  plugins: [pageHead()],
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      input: { index: here('index.html'), join: here('join.html'), renderHost: here('render-host.html') },
      // zod's sources carry /*#__PURE__*/ comments where Rollup cannot use them; harmless.
      onwarn: (warning, warn) => (warning.code === 'INVALID_ANNOTATION' ? undefined : warn(warning)),
      output: {
        // three.js is most of the bytes and changes rarely: its own hashed chunk stays cached across releases.
        manualChunks: (id) => (id.includes(`node_modules/${BROWSER_THREE}/`) ? 'three' : id.includes('node_modules/') ? 'vendor' : undefined),
      },
    },
  },
});
