#!/usr/bin/env bash
# Memory of a POI upload: starts `geogame up` (BIN, default the debug build),
# posts a refused 100,001-POI FeatureCollection, then a 100,000-POI one, then
# lists them, printing the server's VmRSS and VmHWM (peak) after each step.
# Usage: scripts/bench-poi-memory.sh [BIN]
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/geogame}
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
python3 - "$WORK" <<'PY'
import json, sys
d = sys.argv[1]
f = [{"type": "Feature", "properties": {"name": f"P{i}"},
      "geometry": {"type": "Point", "coordinates": [round(-122.0 + (i % 1000) * 1e-4, 5), round(47.6 + (i // 1000) * 1e-4, 5)]}}
     for i in range(100_000)]
open(f"{d}/100000.json", "w").write(json.dumps({"type": "FeatureCollection", "features": f}, separators=(",", ":")))
f.append(f[0])
open(f"{d}/100001.json", "w").write(json.dumps({"type": "FeatureCollection", "features": f}, separators=(",", ":")))
PY
"$BIN" up --listen 127.0.0.1:0 --data-dir "$WORK/data" --admin-token bench >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q "geogame is up" "$WORK/out" 2>/dev/null && break; sleep 0.2; done
URL=$(grep -o "http://[0-9.:]*" "$WORK/out" | head -1)
mem() { printf '%-22s %s\n' "$1" "$(grep -E 'VmRSS|VmHWM' /proc/$PID/status | tr -s ' \t' ' ' | tr '\n' ' ')"; }
post() { curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer bench' \
  -H 'content-type: application/json' --data-binary "@$WORK/$1.json" "$URL/v1/admin/pois"; }
ls -l "$WORK"/*.json | awk '{print $5, $9}'
mem "start"
echo "refused 100,001: $(post 100001)"; sleep 1; mem "after the refusal"
echo "stored 100,000: $(post 100000)"; sleep 1; mem "after storing"
curl -s -o /dev/null -w 'listed: %{http_code} %{size_download} bytes\n' -H 'Authorization: Bearer bench' "$URL/v1/admin/pois"
sleep 1; mem "after the list"
