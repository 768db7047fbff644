#!/usr/bin/env bash
# Login and reconnect storms (issue 18, docs/benchmarks.md): the same load
# against the bare echo server and against each given game server build,
# one after the other with the same generator, each game server started
# fresh on an empty data dir.
#
#   scripts/bench-storm.sh ramp      OUT_DIR  # 10,000 players x 1/s, ramp 10 s
#   scripts/bench-storm.sh storm     OUT_DIR  # 5,000 playing, then 10,000 arriving at once
#   scripts/bench-storm.sh reconnect OUT_DIR  # 10,000 playing, 8,000 of them reconnecting at once
#   scripts/bench-storm.sh split     OUT_DIR  # as storm, the arrivals from a second generator
#
# In one generator process the storm's own connects delay the bystanders'
# sends and reads (its send lag rises with them), which blames the server
# for the generator's load. `split` runs the 5,000 bystanders in one
# process (`--storm-at 20`, no storm of its own: it only watches) and the
# 10,000 arrivals in another (`--storm 1 --storm-at 20`), started together.
#
# LT (default target/release/load-test) is the generator. GAMES (default
# "head:target/release/geogame") lists label:binary pairs of game servers,
# so that two builds compare in one run, e.g.
#   GAMES="head:/tmp/geogame-new base:/tmp/geogame-old" scripts/bench-storm.sh ramp /tmp/ramp
# Players only send location updates (no catches, spins or raids), as the
# echo run does. SERVER_ARGS adds flags to every game server (admission
# limits, say); ECHO=0 skips the echo run. Build first: cargo build --release -p geogame -p load-test
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: $0 ramp|storm|reconnect OUT_DIR}
out=${2:?usage: $0 ramp|storm|reconnect OUT_DIR}
mkdir -p "$out"
lt=${LT:-target/release/load-test}
games=${GAMES:-head:target/release/geogame}
case "$mode" in
ramp) load=(--players 10000 --duration 30 --ramp 10) ;;
storm) load=(--players 15000 --duration 40 --ramp 10 --storm 0.6667) ;;
reconnect) load=(--players 10000 --duration 40 --ramp 10 --reconnect-storm 0.8) ;;
split)
    load=(--players 5000 --duration 40 --ramp 10 --storm-at 20)
    arrivals=(--players 10000 --duration 40 --ramp 10 --storm 1 --storm-at 20)
    ;;
*)
    echo "unknown mode $mode (ramp, storm, reconnect or split)" >&2
    exit 2
    ;;
esac
common=(--rate 1 --catch-share 0 --spin-share 0 --lobby-share 0 --connect-concurrency 2048
    --connect-timeout 30)

# Runs the load (and in split mode the arrivals beside it) against $@.
drive() {
    local label=$1
    shift
    if [ "$mode" = split ]; then
        "$lt" "$@" "${common[@]}" "${arrivals[@]}" --device-prefix "$label-in-$(date +%s)" \
            --out "$out/$label-arrivals.json" >"$out/$label-arrivals.txt" 2>&1 &
        local second=$!
    fi
    "$lt" "$@" "${common[@]}" "${load[@]}" --device-prefix "$label-$(date +%s)" \
        --out "$out/$label.json" >"$out/$label.txt" 2>&1 || true
    if [ "$mode" = split ]; then wait $second || true; fi
}

labels=()
if [ "${ECHO:-1}" != 0 ]; then
    "$lt" echo-server --listen 127.0.0.1:9302 >"$out/echo-server.log" 2>&1 &
    echo_pid=$!
    trap 'kill $echo_pid 2>/dev/null || true' EXIT
    sleep 1
    drive echo --target echo --url ws://127.0.0.1:9302
    kill $echo_pid
    wait $echo_pid 2>/dev/null || true
    labels+=(echo)
fi
for pair in $games; do
    label=${pair%%:*}
    bin=${pair#*:}
    labels+=("$label")
    data=$(mktemp -d)
    "$bin" up --listen 127.0.0.1:8090 --data-dir "$data" --rate-limit 100000 ${SERVER_ARGS:-} >"$out/$label-server.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf 127.0.0.1:8090/healthz >/dev/null && break; sleep 0.1; done
    drive "$label" --url http://127.0.0.1:8090 --world geogame/demo/world.geojson
    curl -s 127.0.0.1:8090/metrics >"$out/$label-metrics.txt" || true
    kill $pid
    wait $pid 2>/dev/null || true
    rm -rf "$data"
done

python3 - "$out" "${labels[@]}" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
def storm_line(s):
    return (f"storm at {s['at_s']:.0f} s: {s['new_players']} new + {s['reconnecting_players']} back, "
            f"{s['arrived']} in, {s['failed']} failed, all in {s['all_in_s']:.2f} s "
            f"({s['arrivals_per_s']:.0f}/s), connect p50 {s['connect_ms']['p50']:.0f} "
            f"p99 {s['connect_ms']['p99']:.0f} ms")

for t in sys.argv[2:]:
    r = json.loads((out / f"{t}.json").read_text())
    ramp = r["ramp_s"]
    series = r["series"]
    at_end = max((p["connected"] for p in series if p["t_s"] <= ramp + 1.05), default=0)
    during = [p["location"]["p99"] for p in series if p["t_s"] <= ramp + 1.05 and p["location"]["count"]]
    steady = r["location_after_ramp_ms"]
    line = (f"{t}: connected {r['connected']}/{r['players']} ({at_end} by {ramp + 1:.0f} s), "
            f"errors {r['errors']}, shed {r.get('shed', 0)}, "
            f"ramp per-second p99 max {max(during, default=0):.1f} ms, "
            f"after-ramp p50 {steady['p50']:.2f} p99 {steady['p99']:.2f} ms")
    print(line)
    lag = r["generator"]["send_lag_ms"]
    print(f"  generator send lag p99 {lag['p99']:.1f} ms, max {lag['max']:.1f} ms")
    s = r.get("storm")
    arrivals = out / f"{t}-arrivals.json"
    if arrivals.exists():
        a = json.loads(arrivals.read_text())
        print(f"  arrivals ({a['connected']}/{a['players']} connected, shed {a.get('shed', 0)}): "
              + storm_line(a["storm"]))
    elif s:
        print("  " + storm_line(s))
    if s:
        print(f"  bystanders' location p99 {s['bystanders_before_ms']['p99']:.2f} ms before, "
              f"{s['bystanders_during_ms']['p99']:.2f} ms during the storm "
              f"(p50 {s['bystanders_during_ms']['p50']:.2f}, max {s['bystanders_during_ms']['max']:.1f}; "
              f"{s['window_s']:.0f} s windows)")
PY
