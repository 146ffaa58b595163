#!/usr/bin/env bash
# The peer's figure for docs/benchmarks.md "CPU per ingested sample": Debian's Prometheus
# scraping the same shape of data as `cargo bench -p patrol-bench --bench rules_eval` (250
# metrics x 400 hosts = 100,000 series, a round every 10 s) with RULES alerting rules evaluated
# every 10 s, and once with no rules, so the rules' share shows. CPU is the process's own
# (utime + stime from /proc/PID/stat), samples are prometheus_tsdb_head_samples_appended_total,
# both counted over MEASURE seconds after WARMUP seconds. Prints markdown rows.
#
#   bench/prometheus_rules.sh                       # 100 rules, then none; 60 s warm-up, 180 s
#   RULES=1000 MEASURE=300 bench/prometheus_rules.sh
#
# The exposition is served by python3's http.server from a file rewritten every 10 s with new
# values (values below every threshold: the steady state, as in rules_eval).
set -euo pipefail
cd "$(dirname "$0")/.."
RULES=${RULES:-100}
WARMUP=${WARMUP:-60}
MEASURE=${MEASURE:-180}
command -v prometheus >/dev/null || { echo "prometheus is missing: apt-get install prometheus" >&2; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$TMP/www"
# The exposition, rewritten atomically every 10 s.
cat >"$TMP/gen.py" <<'EOF'
import os, random, sys, time
out = sys.argv[1]
while True:
    lines = []
    for m in range(250):
        name = f"bench_metric_{m}"
        lines.append(f"# TYPE {name} gauge")
        for h in range(400):
            lines.append(f'{name}{{host="h{h}"}} {random.uniform(10, 60):.3f}')
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, out)
    time.sleep(10)
EOF
python3 "$TMP/gen.py" "$TMP/www/metrics" &
PIDS+=($!)
for _ in $(seq 100); do [ -f "$TMP/www/metrics" ] && break; sleep 0.1; done
WEB=$(port)
python3 -m http.server "$WEB" --bind 127.0.0.1 --directory "$TMP/www" >/dev/null 2>&1 &
PIDS+=($!)

# RULES alerting rules over the 250 metrics, shaped like rules_eval's mixed set: thresholds
# with `for`, windows (avg/max_over_time, rate, changes) and a combination.
rules_file() {
    local n=$1
    echo "groups:"
    echo "- name: bench"
    echo "  interval: 10s"
    echo "  rules:"
    for ((i = 0; i < n; i++)); do
        local m="bench_metric_$((i % 250))"
        case $((i % 4)) in
            0) expr="$m > 90" ;;
            1) expr="avg_over_time(${m}[5m]) > 80" ;;
            2) expr="max_over_time(${m}[10m]) > 95" ;;
            3) expr="$m > 95 and avg_over_time(${m}[15m]) > 90" ;;
        esac
        echo "  - alert: rule_$i"
        echo "    expr: $expr"
        echo "    for: 5m"
    done
}

run() {
    local n=$1
    local dir="$TMP/prom$n"
    mkdir -p "$dir"
    rules_file "$n" >"$dir/rules.yml"
    cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 10s
  evaluation_interval: 10s
rule_files: ["$dir/rules.yml"]
scrape_configs:
- job_name: bench
  static_configs: [{targets: ["127.0.0.1:$WEB"]}]
EOF
    local api
    api=$(port)
    prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$api" --log.level=error >"$dir/log" 2>&1 &
    local pid=$!
    PIDS+=($pid)
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$api/-/ready" >/dev/null && break; sleep 0.1; done
    sleep "$WARMUP"
    local tick c0 s0 c1 s1
    tick=$(getconf CLK_TCK)
    cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
    appended() {
        curl -sf "http://127.0.0.1:$api/metrics" \
            | awk '/^prometheus_tsdb_head_samples_appended_total/ {s += $2} END {printf "%.0f\n", s}'
    }
    c0=$(cpu); s0=$(appended)
    sleep "$MEASURE"
    c1=$(cpu); s1=$(appended)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$n" "$c0" "$c1" "$s0" "$s1" "$tick" "$MEASURE" <<'EOF'
import sys
n, c0, c1, s0, s1, tick, secs = sys.argv[1:]
cpu = (int(c1) - int(c0)) / int(tick)
samples = int(s1) - int(s0)
per = cpu / samples * 1e9 if samples else float("nan")
print(f"| Prometheus 2.42, {n} alerting rules | {per:,.0f} ns | {samples:,} samples in {secs} s, {cpu:.1f} s CPU |")
EOF
}

echo "| | CPU per sample | over |"
echo "|---|---:|---|"
run "$RULES"
run 0
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
