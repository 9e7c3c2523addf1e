#!/usr/bin/env bash
# The main job end to end on this machine, through the farm: `tessera farm up` starts local S3 storage, the API
# and two render nodes; `tessera render --api` uploads the sample animation, the nodes render it in tiles and
# stitch the frames, and the frames come back into ./out. The farm stops (nodes drain) when the render is done;
# with --keep it keeps running (the web dashboard at the printed URL) until Ctrl-C. Other options go to
# `tessera render`.
set -euo pipefail
keep=0
render_args=()
for a in "$@"; do
  if [[ $a == --keep ]]; then keep=1; else render_args+=("$a"); fi
done
cd "$(dirname "$0")/.."
bash infra/setup.sh

data=.data/demo-farm
log=$data/farm.log
ready=$data/ready
mkdir -p "$data"
rm -f "$ready"
# Port 0: any free port, so the demo never collides with something already on 8080. Started with node rather
# than npx so that $! is the farm itself (npx would not pass our SIGTERM on, leaving the farm running).
node infra/bin/tessera.mjs farm up --nodes 2 --port 0 --data "$data" --ready-file "$ready" >"$log" 2>&1 &
farm=$!
stop_farm() {
  if kill -0 "$farm" 2>/dev/null; then
    kill -TERM "$farm" && wait "$farm" || true
  fi
}
trap stop_farm EXIT

echo "demo: starting the farm (S3, API, 2 render nodes); its log is $log" >&2
for ((i = 0; i < 600; i++)); do
  [[ -s $ready ]] && break
  if ! kill -0 "$farm" 2>/dev/null; then
    echo "demo: the farm did not start; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
[[ -s $ready ]] || { echo "demo: the farm was not ready after 5 minutes; see $log" >&2; exit 1; }
url=$(cat "$ready")
echo "demo: farm ready at $url" >&2
echo "demo: web dashboard at $url/ (sign in with the API key in $data/api-key, or your TESSERA_API_KEY)" >&2
echo "demo: open $url/join in a browser to make the tab a render node" >&2
# The client uses the farm's admin key: yours (TESSERA_API_KEY), else the one farm up created and saved in $data.
export TESSERA_API_KEY=${TESSERA_API_KEY:-$(cat "$data/api-key")}

npx tessera render scenes/animated-trs.glb --api "$url" --frames 0-47 --size 1280x720 --tile 320 --ssaa 2 \
  --background '#20242c' --out out ${render_args[@]+"${render_args[@]}"}

if ((keep)); then
  # Background jobs of a script ignore Ctrl-C, so the farm hears it from here: nodes drain, then it stops.
  trap 'echo >&2; echo "demo: stopping the farm" >&2; stop_farm; exit 0' INT TERM
  echo "Frames are in ./out. The farm keeps running: dashboard at $url/ (API key in $data/api-key; Jobs → open the"
  echo "job id printed above to see how it ran). Ctrl-C stops it."
  wait "$farm" || true
  exit 0
fi

stop_farm
trap - EXIT
echo "What ran where (from the farm log):"
grep -E '^\[(s3|api|node-[0-9]+)\] (listening|.*registered|stopped)' "$log" | sed 's/^/  /' || true
echo "Frames are in ./out (frame-0000.png … frame-0047.png)."
