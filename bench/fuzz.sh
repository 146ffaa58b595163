#!/usr/bin/env bash
# Coverage-guided fuzzing of every target in fuzz/ with cargo-fuzz (libFuzzer), one after the
# other, PER_TARGET seconds each; prints a markdown table (runs, coverage, corpus, crashes) for
# docs/benchmarks.md. Any crash is copied to fuzz/regressions/<target>/, where
# tests/tests/fuzz_corpus.rs replays it on stable in every test run.
#
#   bench/fuzz.sh                     # 60 s per target
#   PER_TARGET=420 bench/fuzz.sh      # the long run (9 targets x 7 min = 63 min)
#   bench/fuzz.sh wire_decode         # some targets only
#
# Needs the nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`). The grown corpus stays in fuzz/corpus/<target>/ (commit what is
# worth keeping: `cargo +nightly fuzz cmin <target>` first).
set -euo pipefail
cd "$(dirname "$0")/.."
PER_TARGET=${PER_TARGET:-60}
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else
    TARGETS=(wire_decode rule_file site_file agent_config weblogic_record alert_log_line snmp_message
        syslog_message snmp_trap)
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz on nightly is missing: rustup toolchain install nightly && cargo install cargo-fuzz" >&2
    exit 2
fi
cargo +nightly fuzz build -O >&2
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
echo "| target | seconds | runs | runs/s | coverage (edges) | features | corpus | crashes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/regressions/$t"
    log="$LOGS/$t.log"
    set +e
    # -rss_limit_mb: a parser that allocates without bound is a finding too.
    cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$PER_TARGET" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    corp=$(ls "fuzz/corpus/$t" | wc -l)
    crashes=0
    for a in fuzz/artifacts/"$t"/*; do
        [ -e "$a" ] || continue
        crashes=$((crashes + 1))
        cp "$a" "fuzz/regressions/$t/"
    done
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        echo "fuzz run of $t failed (exit $rc) without an artifact:" >&2; tail -20 "$log" >&2
    fi
    rate=$(( ${runs:-0} / PER_TARGET ))
    echo "| $t | $PER_TARGET | ${runs:-?} | $rate | ${cov:-?} | ${ft:-?} | $corp | $crashes |"
done
