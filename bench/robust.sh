#!/usr/bin/env bash
# Bounded resources, measured on a release collector (docs/benchmarks.md "Bounded collector"):
#  1. ack latency at >= 1 M series, without and with /metrics scraped back to back;
#  2. collector RSS after 1 M attempted series from 50 agents (a label explosion) against
#     max_series = 250 000;
#  3. collector RSS with 12 000 open incidents, before and with 20 stalled `patrolctl tail`.
#
#   bench/robust.sh                 # all three
#   bench/robust.sh scrape|explosion|tails
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-all}
DURATION=${DURATION:-60s}
# PROFILE=debug measures the debug build (slower in absolute terms; the comparison with and
# without scrapes still holds).
PROFILE=${PROFILE:-release}
BIN=target/$PROFILE
if [ -z "${NO_BUILD:-}" ]; then
    if [ "$PROFILE" = release ]; then
        cargo build --release -p patrol-bench -p patrol-collector -p patrolctl >&2
    else
        cargo build -p patrol-bench -p patrol-collector -p patrolctl >&2
    fi
fi
TMP=$(mktemp -d)
CPID=""
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    if [ -n "$CPID" ]; then kill "$CPID" 2>/dev/null || true; wait "$CPID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
hwm_mb() { awk '/^VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# start_collector CONFIG_TOML: sets CPID, GRPC, HTTP.
start_collector() {
    local data out cfg
    data=$(mktemp -d -p "$TMP"); out="$TMP/collector.out"; cfg="$TMP/collector.toml"
    printf '%s\n' "$1" >"$cfg"
    : >"$out"
    $BIN/patrol-collector --config "$cfg" --listen 127.0.0.1:0 --http 127.0.0.1:0 \
        --rules rules/default --data "$data" >"$out" 2>>"$TMP/collector.log" &
    CPID=$!
    for _ in $(seq 200); do
        grep -q '^patrol-collector listening' "$out" && break
        kill -0 "$CPID" 2>/dev/null || { cat "$TMP/collector.log" >&2; exit 1; }
        sleep 0.05
    done
    local line; line=$(grep '^patrol-collector listening' "$out")
    GRPC=$(sed -E 's/.*grpc=([^ ]+).*/\1/' <<<"$line")
    HTTP=$(sed -E 's/.*http=([^ ]+).*/\1/' <<<"$line")
}
stop_collector() { kill "$CPID" 2>/dev/null || true; wait "$CPID" 2>/dev/null || true; CPID=""; }
field() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<"$2"; }
metric() { curl -s "http://$HTTP/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

BIG='[limits]
max_series = 3000000
max_series_per_agent = 1000000
max_new_series_per_minute = 1000000'

if [ "$WHAT" = all ] || [ "$WHAT" = scrape ]; then
    echo "| scrapes | series | acked samples/s | ack p50 ms | p99 ms | max ms | scrapes done | scrape mean s | collector RSS MB |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for scraping in no yes; do
        start_collector "$BIG"
        n=0; total=0
        if [ "$scraping" = yes ]; then
            # Back to back for the whole run, after the series exist.
            (
                sleep 20
                while kill -0 "$CPID" 2>/dev/null; do
                    s=$(date +%s.%N)
                    curl -s -o /dev/null --max-time 120 "http://$HTTP/metrics" || true
                    echo "$s $(date +%s.%N)" >>"$TMP/scrapes"
                done
            ) &
            SCRAPER=$!
        fi
        out=$($BIN/patrol-loadgen --collector "http://$GRPC" --agents 4 --series 250000 \
            --batch-points 5000 --window 8 --duration "$DURATION" --breach-ratio 0.001 \
            --agent-prefix "s$scraping" | grep '^SUMMARY') || true
        series=$(metric patrol_series)
        rss=$(rss_mb "$CPID")
        if [ "$scraping" = yes ]; then
            kill "$SCRAPER" 2>/dev/null || true; wait "$SCRAPER" 2>/dev/null || true
            n=$(wc -l <"$TMP/scrapes")
            total=$(awk '{t += $2 - $1} END {printf "%.2f", (NR ? t / NR : 0)}' "$TMP/scrapes")
            rm -f "$TMP/scrapes"
        fi
        echo "| $scraping | $series | $(field samples_per_s "$out") | $(field p50_ms "$out") | $(field p99_ms "$out") | $(field max_ms "$out") | $n | $total | $rss |"
        stop_collector
    done
fi

if [ "$WHAT" = steady ]; then
    # One collector: define 1 M series first, then the same series' values for STEADY
    # seconds without scrapes, then as long with /metrics scraped back to back.
    STEADY=${STEADY:-20s}
    start_collector "$BIG"
    $BIN/patrol-loadgen --collector "http://$GRPC" --agents 4 --series 250000 --batch-points 5000 \
        --window 8 --duration 30s --breach-ratio 0.001 --agent-prefix steady >/dev/null || true
    echo "| phase | series | acked samples/s | ack p50 ms | p90 ms | p99 ms | max ms | scrapes done | scrape mean s | RSS MB |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for scraping in no yes; do
        if [ "$scraping" = yes ]; then
            ( while kill -0 "$CPID" 2>/dev/null; do
                s=$(date +%s.%N); curl -s -o /dev/null --max-time 120 "http://$HTTP/metrics" || true
                echo "$s $(date +%s.%N)" >>"$TMP/scrapes"; done ) &
            SCRAPER=$!
        fi
        out=$($BIN/patrol-loadgen --collector "http://$GRPC" --agents 4 --series 250000 \
            --batch-points 5000 --window 8 --duration "$STEADY" --breach-ratio 0.001 \
            --agent-prefix steady | grep '^SUMMARY') || true
        n=0; total=0
        if [ "$scraping" = yes ]; then
            kill "$SCRAPER" 2>/dev/null || true; wait "$SCRAPER" 2>/dev/null || true
            n=$(wc -l <"$TMP/scrapes")
            total=$(awk '{t += $2 - $1} END {printf "%.2f", (NR ? t / NR : 0)}' "$TMP/scrapes")
        fi
        echo "| scrapes: $scraping | $(metric patrol_series) | $(field samples_per_s "$out") | $(field p50_ms "$out") | $(field p90_ms "$out") | $(field p99_ms "$out") | $(field max_ms "$out") | $n | $total | $(rss_mb "$CPID") |"
    done
    stop_collector
fi

if [ "$WHAT" = all ] || [ "$WHAT" = explosion ]; then
    start_collector '[limits]
max_series = 250000'
    base=$(rss_mb "$CPID")
    for i in $(seq 50); do
        $BIN/patrol-loadgen --collector "http://$GRPC" --agents 1 --series 20000 \
            --batch-points 5000 --window 4 --duration 2s --agent-prefix "boom$i" >/dev/null 2>&1 || true
    done
    curl -s "http://$HTTP/metrics" >"$TMP/m"
    echo "| attempted series | kept (patrol_series) | refused batches (max_series) | RSS before MB | RSS after MB | peak MB |"
    echo "|---:|---:|---:|---:|---:|---:|"
    refused=$(awk '$1 ~ /^patrol_ingest_rejected_total\{reason="max_series"\}/ {print $2}' "$TMP/m")
    echo "| 1000000 | $(awk '$1 == "patrol_series" {print $2}' "$TMP/m") | ${refused:-0} | $base | $(rss_mb "$CPID") | $(hwm_mb "$CPID") |"
    stop_collector
fi

if [ "$WHAT" = all ] || [ "$WHAT" = tails ]; then
    start_collector "$BIG"
    # 12 000 series all breaching disk_used_percent > 90: 12 000 open incidents.
    $BIN/patrol-loadgen --collector "http://$GRPC" --agents 1 --series 12000 \
        --batch-points 4000 --window 4 --duration 5s --breach-ratio 1 --agent-prefix open >/dev/null || true
    sleep 2
    open=$($BIN/patrolctl --collector "http://$GRPC" incidents list --limit 20000 --json | grep -o '"id"' | wc -l)
    before=$(rss_mb "$CPID")
    for i in $(seq 20); do
        $BIN/patrolctl --collector "http://$GRPC" tail --json >/dev/null 2>&1 &
        PIDS+=("$!")
    done
    # Connected and reading their snapshots, then stalled: they stop reading.
    sleep 1
    for p in "${PIDS[@]}"; do kill -STOP "$p"; done
    sleep 5
    # Changes keep flowing to the bus meanwhile (the same series, values flipping).
    $BIN/patrol-loadgen --collector "http://$GRPC" --agents 1 --series 12000 \
        --batch-points 4000 --window 4 --duration 10s --breach-ratio 0.5 --agent-prefix open >/dev/null || true
    sleep 2
    echo "| open incidents | stalled tails | RSS before MB | RSS with them MB | peak MB | watchers | lagged |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    echo "| $open | 20 | $before | $(rss_mb "$CPID") | $(hwm_mb "$CPID") | $(metric patrol_watchers) | $(metric patrol_watchers_lagged_total) |"
    stop_collector
fi
