#!/usr/bin/env bash
# Installs the Debian packages in infra/apt-packages.txt, and any given as arguments, that are missing (safe to
# run again), with sudo when not root. Used by infra/setup.sh (`npm run setup`, `npm test`; it adds the test
# suite's chromium) and by `tessera setup`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mapfile -t APT_PACKAGES < <(grep -v '^\s*#' "$here/apt-packages.txt" | grep -v '^\s*$')
APT_PACKAGES+=("$@")

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "setup: this is not Debian/Ubuntu (no dpkg/apt-get); install the equivalents of: ${APT_PACKAGES[*]}" >&2
  exit 1
fi
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
else
  echo "setup: the Debian packages are installed: ${APT_PACKAGES[*]}" >&2
fi
