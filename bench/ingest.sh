#!/usr/bin/env bash
# Collector ingest throughput: for each configuration, start a fresh release collector on free
# ports with the default rules and an empty data directory, run patrol-loadgen against it, and
# print a markdown table. Results in docs/benchmarks.md.
#
#   bench/ingest.sh                 # default configurations, 20 s each
#   DURATION=60s bench/ingest.sh    # longer runs
#   bench/ingest.sh "1 10000 5000 8" "10 1000 5000 8"   # own "agents series batch_points window"
#   HISTORY="on off" bench/ingest.sh   # each configuration with the sample history on and off
#
# The collector's CPU use during each run is read from /proc (utime+stime delta), shown as
# cores used; the load generator runs on the same machine and takes the rest.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
BREACH=${BREACH:-0.01}
HISTORY=${HISTORY:-on}
if [ "$#" -gt 0 ]; then
    CONFIGS=("$@")
else
    CONFIGS=(
        "1 10000 5000 8"
        "10 1000 5000 8"
        "10 1000 500 8"
        "1 1000 5000 1"
    )
fi

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -p patrol-bench -p patrol-collector -p patrol-agent >&2
fi

TMP=$(mktemp -d)
CPID=""
cleanup() {
    if [ -n "$CPID" ]; then kill "$CPID" 2>/dev/null || true; wait "$CPID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Starts a collector (sample history $1: on or off), sets CPID, GRPC, HTTP, DATA.
start_collector() {
    local out enabled=true
    [ "$1" = off ] && enabled=false
    DATA=$(mktemp -d -p "$TMP")
    out="$TMP/collector.out"
    : >"$out"
    printf '[history]\nenabled = %s\n' "$enabled" >"$TMP/collector.toml"
    target/release/patrol-collector --config "$TMP/collector.toml" --listen 127.0.0.1:0 --http 127.0.0.1:0 \
        --rules rules/default --data "$DATA" >"$out" 2>>"$TMP/collector.log" &
    CPID=$!
    for _ in $(seq 100); do
        if grep -q '^patrol-collector listening' "$out"; then break; fi
        if ! kill -0 "$CPID" 2>/dev/null; then
            echo "collector exited at startup:" >&2; cat "$TMP/collector.log" >&2; exit 1
        fi
        sleep 0.05
    done
    local line
    line=$(grep '^patrol-collector listening' "$out") || { echo "collector did not report its addresses" >&2; exit 1; }
    GRPC=$(sed -E 's/.*grpc=([^ ]+).*/\1/' <<<"$line")
    HTTP=$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$line")
}

stop_collector() {
    kill "$CPID" 2>/dev/null || true
    wait "$CPID" 2>/dev/null || true
    CPID=""
}

field() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$2"; }

ROWS=()
for cfg in "${CONFIGS[@]}"; do
  for hist in $HISTORY; do
    read -r agents series points window <<<"$cfg"
    start_collector "$hist"
    echo "== history $hist: $agents agents x $series series, $points points/batch, window $window ($DURATION)" >&2
    c0=$(cpu_ticks "$CPID")
    set +e
    out=$(target/release/patrol-loadgen --collector "http://$GRPC" --http "http://$HTTP" \
        --agents "$agents" --series "$series" --batch-points "$points" --window "$window" \
        --duration "$DURATION" --breach-ratio "$BREACH")
    rc=$?
    set -e
    c1=$(cpu_ticks "$CPID")
    echo "$out" >&2
    kept=$(curl -s "http://$HTTP/metrics" | awk '$1 == "patrol_history_samples_appended_total" {print $2}')
    stop_collector
    disk=$(du -sb "$DATA/history" 2>/dev/null | cut -f1 || true)
    if [ "$rc" -ne 0 ]; then
        echo "loadgen exited with $rc; collector log tail:" >&2
        tail -20 "$TMP/collector.log" >&2
    fi
    s=$(grep '^SUMMARY' <<<"$out" || true)
    wall=$(field wall_s "$s")
    cores=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v w="$wall" 'BEGIN { if (w > 0) printf "%.2f", (b - a) / t / w; else print "?" }')
    ROWS+=("| $hist | $agents | $series | $points | $window | $(field samples_per_s "$s") | $(field per_agent_per_s "$s") | $(field batches_per_s "$s") | $(field p50_ms "$s") | $(field p99_ms "$s") | $(field patrol_rule_evaluations_total "$s") | $(field patrol_incident_changes_total "$s") | $cores | ${kept:--} | ${disk:--} | $rc |")
  done
done

echo
echo "Ingest, $DURATION per run, breach ratio $BREACH, $(nproc) cores, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
echo
echo "| history | agents | series/agent | points/batch | window | samples/s | per agent | batches/s | ack p50 ms | ack p99 ms | rule evals (delta) | incident changes | collector cores | history samples | history bytes on disk | loadgen exit |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
