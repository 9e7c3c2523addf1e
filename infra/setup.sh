#!/usr/bin/env bash
# Installs what Tessera needs on Debian with Node 20, and only what is missing (safe to run again):
# the Debian packages headless-gl builds and runs with (infra/apt-packages.txt) and Chromium for the browser
# tests, then npm deps, then the web dashboard's build.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the web dashboard's browser tests (test/web/, driven by playwright-core) and the WebGL 2 render backend
# (`tessera render --local --backend chromium|auto`, test/backends.test.ts); a farm node does not need it.
# openssl: the session test makes a self-signed certificate for wss:// (test/farm/session-e2e.test.ts).
# systemd: systemd-analyze and the system units the shipped unit files are verified against
# (test/operators/systemd-units.test.ts); installing it does not make it the machine's init.
bash infra/install-system-packages.sh chromium openssl systemd

node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then echo "setup: Node 20 or newer is needed (found $(node -v))" >&2; exit 1; fi

# npm deps: install when node_modules is missing or older than the lock file; gl builds from source (~2.5 min).
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm dependencies (headless-gl compiles from source the first time)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
if [[ ! -f node_modules/gl/build/Release/webgl.node ]]; then
  echo "setup: building headless-gl" >&2
  npm rebuild gl --loglevel=error
fi

# The web dashboard (web/ → web/dist), which the API serves at / on Node and Workers static assets on the edge:
# built when missing or older than its sources (the /join page bundles render-node/ and scene-check/) or the lock file.
stamp=web/dist/.built
if [[ ! -f $stamp || package-lock.json -nt $stamp || -n $(find web api/client api/protocol render-node scene-check -newer "$stamp" -not -path 'web/dist*' -print -quit) ]]; then
  echo "setup: building the web dashboard" >&2
  npm run --silent build:web
  touch "$stamp"
fi
