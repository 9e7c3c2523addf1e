#!/usr/bin/env bash
# Installs what Tessera needs on Debian with Node 20, and only what is missing (safe to run again):
# the packages headless-gl builds and runs with (X11/GL headers, pkg-config, a C++ toolchain, Xvfb) and Chromium
# for the browser tests, then npm deps, then the web dashboard's build.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the web dashboard's browser tests (test/web/, driven by playwright-core).
# openssl: the session test makes a self-signed certificate for wss:// (test/farm/session-e2e.test.ts).
APT_PACKAGES=(libxi-dev libx11-dev libxext-dev libglu1-mesa-dev libglew-dev pkg-config xvfb xauth python3 make g++ chromium openssl)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

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
# built when missing or older than its sources or the lock file.
stamp=web/dist/.built
if [[ ! -f $stamp || package-lock.json -nt $stamp || -n $(find web api/client api/protocol -newer "$stamp" -not -path 'web/dist*' -print -quit) ]]; then
  echo "setup: building the web dashboard" >&2
  npm run --silent build:web
  touch "$stamp"
fi
