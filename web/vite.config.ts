// Builds the dashboard (web/src) into web/dist: the API serves it at `/` on Node (api/node/web-assets.ts) and
// Workers static assets serve the same files on the edge (infra/wrangler.jsonc `assets`). Hashed files land
// in web/dist/assets/ (immutable); the pages themselves are revalidated (web/public/_headers).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  // The page imports the SDK and protocol (api/client, api/protocol) from outside web/.
  server: { fs: { allow: [here('..')] }, proxy: { '/v1': process.env.TESSERA_API ?? 'http://127.0.0.1:8080' } },
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
        manualChunks: (id) => (id.includes('node_modules/three/') ? 'three' : id.includes('node_modules/') ? 'vendor' : undefined),
      },
    },
  },
});
