/** The test Worker's env is the edge API's (infra/wrangler.jsonc, types from `npm run types:edge`). */
declare module 'cloudflare:test' {
  interface ProvidedEnv extends Env {}
}
