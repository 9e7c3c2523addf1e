#!/usr/bin/env bash
# Set up (idempotent), then type-check and run every test. CI runs exactly this through `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
npx tsc --noEmit -p .
npx vitest run --config infra/vitest.config.ts "$@"
