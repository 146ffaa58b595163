#!/usr/bin/env bash
# Remote-write throughput to VictoriaMetrics (Debian package victoria-metrics): a release
# collector with one [[history.remote_write]] endpoint, patrol-loadgen streaming for DURATION,
# then the time until the endpoint has confirmed everything. Prints one markdown row; figures in
# docs/benchmarks.md ("Sample history").
#
#   bench/history_remote.sh                  # 1 agent x 10000 series, 5000 points/batch, 20 s
#   DURATION=60s bench/history_remote.sh
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
command -v victoria-metrics >/dev/null || { echo "victoria-metrics is missing: apt-get install victoria-metrics" >&2; exit 1; }
if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -p patrol-bench -p patrol-collector >&2
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
VM=127.0.0.1:$(port)
victoria-metrics -storageDataPath="$TMP/vm" -httpListenAddr="$VM" -loggerLevel=ERROR >"$TMP/vm.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do curl -sf "http://$VM/health" >/dev/null && break; sleep 0.05; done

GRPC=127.0.0.1:$(port)
HTTP=127.0.0.1:$(port)
cat >"$TMP/collector.toml" <<TOML
listen = "$GRPC"
http = "$HTTP"
rules = "rules/default"
data = "$TMP/data"

[[history.remote_write]]
name = "victoria"
url = "http://$VM/api/v1/write"
TOML
target/release/patrol-collector --config "$TMP/collector.toml" >"$TMP/collector.out" 2>"$TMP/collector.log" &
PIDS+=($!)
for _ in $(seq 200); do grep -q '^patrol-collector listening' "$TMP/collector.out" && break; sleep 0.05; done

metric() { curl -s "http://$HTTP/metrics" | awk -v m="$1" '$1 ~ "^"m {print $2}'; }
t0=$(date +%s.%N)
out=$(target/release/patrol-loadgen --collector "http://$GRPC" --http "http://$HTTP" \
    --agents 1 --series 10000 --batch-points 5000 --window 8 --duration "$DURATION" --breach-ratio 0.01)
t1=$(date +%s.%N)
appended=$(metric patrol_history_samples_appended_total)
while :; do
    sent=$(metric 'patrol_remote_write_samples_sent_total')
    [ "${sent:-0}" -ge "$appended" ] && break
    sleep 0.2
done
t2=$(date +%s.%N)
ingest=$(grep '^SUMMARY' <<<"$out" | sed -nE 's/.* samples_per_s=([^ ]+).*/\1/p')
retries=$(metric 'patrol_remote_write_retries_total')
dropped=$(metric 'patrol_remote_write_samples_dropped_total')
awk -v s="$sent" -v a="$t0" -v b="$t1" -v c="$t2" -v i="$ingest" -v r="$retries" -v d="$dropped" 'BEGIN {
    printf "| %s | %d | %.1f | %.1f | %.0f | %s | %s |\n", i, s, b - a, c - b, s / (c - a), r, d }'
echo "columns: ingest samples/s | samples sent to VictoriaMetrics | loadgen s | drain after loadgen s | remote-write samples/s (sent / (loadgen + drain)) | retries | dropped" >&2
