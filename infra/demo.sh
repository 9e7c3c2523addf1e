#!/usr/bin/env bash
# The main job end to end on this machine: render the sample animation into ./out (tiled and stitched).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
npx tessera render scenes/animated-trs.glb --local --frames 0-47 --size 1280x720 --tile 320 --ssaa 2 \
  --background '#20242c' --out out "$@"
echo "Frames are in ./out (frame-0000.png … frame-0047.png)."
