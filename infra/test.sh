#!/usr/bin/env bash
# Set up (idempotent), then type-check and run every test. CI runs exactly this through `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
npx tsc --noEmit -p .
npx tsc --noEmit -p infra/tsconfig.workers.json
npx tsc --noEmit -p web
# The Env type must match infra/wrangler.jsonc (regenerate with `npm run types:edge`).
npx wrangler types --config infra/wrangler.jsonc --include-runtime=false --strict-vars=false api/edge/worker-configuration.d.ts --check
if [ "$#" -eq 0 ]; then
  # Everything but the timing-sensitive files (2 at a time), then those one at a time (infra/timing-tests.txt).
  TESSERA_TEST_PHASE=main npx vitest run --config infra/vitest.config.ts
  TESSERA_TEST_PHASE=timing npx vitest run --config infra/vitest.config.ts
  # Tests inside workerd (the Durable Object job store); a file filter for the Node suite skips them.
  npx vitest run --config infra/vitest.workers.config.ts
else
  npx vitest run --config infra/vitest.config.ts "$@"
fi
