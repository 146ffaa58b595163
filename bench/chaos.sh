#!/usr/bin/env bash
# The long chaos run: tests/tests/chaos.rs for SECS seconds (default 600) — two scripted agents
# streaming, one restarting half-way with a smaller epoch, the real collector SIGKILLed every
# 0.7-2 s and restarted on the same data, a webhook peer receiving every notification — then
# the checker's verdict and its figures (kills, batches, incidents, notifications, deliveries
# repeated by a kill). Figures in docs/benchmarks.md.
#
#   bench/chaos.sh              # 10 minutes
#   SECS=3600 bench/chaos.sh    # an hour
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-600}
cargo build -p patrol-collector --bins >&2
started=$(date +%s)
PATROL_CHAOS_SECS="$SECS" cargo test -p patrol-e2e --test chaos -- --nocapture 2>&1 \
    | grep -E '^chaos:|^test |test result|panicked|assert' || true
echo "wall time: $(( $(date +%s) - started )) s"
