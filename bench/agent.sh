#!/usr/bin/env bash
# Agent footprint: a release agent with the host probe every 1 s, streaming to a release
# collector on this machine. Reads /proc for the agent and the collector at the start and after
# the window (60 s by default): resident memory now (VmRSS), peak (VmHWM), CPU seconds used
# (utime+stime delta) and that as a share of one core.
#
#   bench/agent.sh                   # 60 s
#   WINDOW=120 bench/agent.sh
#   NODE_EXPORTER=1 bench/agent.sh   # also prometheus-node-exporter scraped once per second by
#                                    # curl, as a reference point (not a target)
#
# The agent is given WARMUP seconds (default 5) to connect and settle before the first reading.
set -euo pipefail

cd "$(dirname "$0")/.."
WINDOW=${WINDOW:-60}
WARMUP=${WARMUP:-5}

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -p patrol-bench -p patrol-collector -p patrol-agent >&2
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# Collector on free ports.
mkdir -p "$TMP/data"
target/release/patrol-collector --listen 127.0.0.1:0 --http 127.0.0.1:0 \
    --rules rules/default --data "$TMP/data" >"$TMP/collector.out" 2>"$TMP/collector.log" &
CPID=$!
PIDS+=("$CPID")
for _ in $(seq 100); do
    grep -q '^patrol-collector listening' "$TMP/collector.out" && break
    kill -0 "$CPID" 2>/dev/null || { echo "collector exited:" >&2; cat "$TMP/collector.log" >&2; exit 1; }
    sleep 0.05
done
line=$(grep '^patrol-collector listening' "$TMP/collector.out")
GRPC=$(sed -E 's/.*grpc=([^ ]+).*/\1/' <<<"$line")
HTTP=$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$line")

cat >"$TMP/agent.toml" <<EOF
agent_id = "bench"

[collector]
address = "http://$GRPC"

[[probe]]
type = "host"
interval = "1s"
EOF
target/release/patrol-agent --config "$TMP/agent.toml" >"$TMP/agent.out" 2>"$TMP/agent.log" &
APID=$!
PIDS+=("$APID")

NPID=""
if [ -n "${NODE_EXPORTER:-}" ]; then
    NE=$(command -v prometheus-node-exporter || command -v node_exporter || true)
    if [ -z "$NE" ]; then
        echo "NODE_EXPORTER set but prometheus-node-exporter is not installed; skipping it" >&2
    else
        NEPORT=${NEPORT:-19100}
        "$NE" --web.listen-address="127.0.0.1:$NEPORT" >"$TMP/ne.log" 2>&1 &
        NPID=$!
        PIDS+=("$NPID")
        (while kill -0 "$NPID" 2>/dev/null; do
            curl -s -o /dev/null "http://127.0.0.1:$NEPORT/metrics" || true
            sleep 1
        done) &
        PIDS+=("$!")
    fi
fi

sleep "$WARMUP"
for p in "$APID" "$CPID" ${NPID:+"$NPID"}; do
    kill -0 "$p" 2>/dev/null || { echo "process $p died during warm-up; agent log:" >&2; cat "$TMP/agent.log" >&2; exit 1; }
done
samples_before=$(curl -s "http://$HTTP/metrics" | awk '$1 == "patrol_ingest_samples_total" {print $2}')

declare -A T0 R0
for p in "$APID" "$CPID" ${NPID:+"$NPID"}; do T0[$p]=$(cpu_ticks "$p"); R0[$p]=$(kib "$p" VmRSS); done
start=$(date +%s.%N)
sleep "$WINDOW"
end=$(date +%s.%N)
declare -A T1 R1 H1
for p in "$APID" "$CPID" ${NPID:+"$NPID"}; do T1[$p]=$(cpu_ticks "$p"); R1[$p]=$(kib "$p" VmRSS); H1[$p]=$(kib "$p" VmHWM); done
samples_after=$(curl -s "http://$HTTP/metrics" | awk '$1 == "patrol_ingest_samples_total" {print $2}')
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

row() {
    local name=$1 p=$2
    awk -v n="$name" -v r0="${R0[$p]}" -v r1="${R1[$p]}" -v h="${H1[$p]}" \
        -v t0="${T0[$p]}" -v t1="${T1[$p]}" -v tck="$TCK" -v w="$elapsed" 'BEGIN {
        cpu = (t1 - t0) / tck
        printf "| %s | %.1f | %.1f | %.1f | %.2f | %.2f %% |\n", n, r0 / 1024, r1 / 1024, h / 1024, cpu, 100 * cpu / w
    }'
}

echo
echo "Footprint over ${elapsed} s (after ${WARMUP} s warm-up), host probe every 1 s, $(nproc) cores, CLK_TCK $TCK, $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
echo "Samples ingested by the collector in the window: $(awk -v a="$samples_before" -v b="$samples_after" 'BEGIN { print b - a }')"
echo
echo "| process | RSS start MiB | RSS end MiB | peak RSS MiB | CPU s | % of one core |"
echo "|---|---:|---:|---:|---:|---:|"
row "patrol-agent (host probe, 1 s)" "$APID"
row "patrol-collector (serving that agent)" "$CPID"
if [ -n "$NPID" ]; then
    row "prometheus-node-exporter, 1 scrape/s (reference only)" "$NPID"
fi
if grep -qiE 'error|warn|panic' "$TMP/agent.log" "$TMP/collector.log"; then
    echo
    echo "Log lines worth a look:"
    grep -iE 'error|warn|panic' "$TMP/agent.log" "$TMP/collector.log" | head -20
fi
