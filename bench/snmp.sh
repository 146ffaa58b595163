#!/usr/bin/env bash
# SNMP walk speed: the whole Cisco Catalyst 3750 recording that snmpsim ships (51k OIDs),
# walked once through the SNMP probe (GETBULK, 25 repetitions, the probe's session and sample
# code: probes/examples/snmp_walk_once.rs) and once by net-snmp's snmpbulkwalk (-Cr25, output
# to /dev/null), alternately, RUNS times each (default 5) against the same snmpsim. Prints
# the median seconds of each and the ratio probe / snmpbulkwalk. snmpsim is the bottleneck for
# both, so the ratio says whether the probe adds overhead, not how fast real gear is.
#
#   bench/snmp.sh
#   RUNS=9 bench/snmp.sh
#
# Needs the Debian packages snmpsim and snmp (scripts/setup.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
REC=/usr/share/doc/snmpsim/examples/data/cisco_16_switch.snmprec.gz
for tool in snmpsimd snmpbulkwalk; do
    command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/setup.sh" >&2; exit 1; }
done
[ -f "$REC" ] || { echo "$REC missing: apt-get install snmpsim" >&2; exit 1; }

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -p patrol-probes --example snmp_walk_once >&2
fi
PROBE=target/release/examples/snmp_walk_once

TMP=$(mktemp -d)
SIM=""
cleanup() {
    [ -n "$SIM" ] && kill "$SIM" 2>/dev/null && wait "$SIM" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/data" "$TMP/cache"
zcat "$REC" > "$TMP/data/cisco_16_switch.snmprec"
chmod 755 "$TMP" "$TMP/data"; chmod 644 "$TMP/data/cisco_16_switch.snmprec"; chmod 777 "$TMP/cache"
PORT=$(shuf -i 20000-60000 -n 1)
USER_ARGS=()
[ "$(id -u)" = 0 ] && USER_ARGS=(--process-user=nobody --process-group=nogroup)
snmpsimd --data-dir="$TMP/data" --cache-dir="$TMP/cache" --agent-udpv4-endpoint=127.0.0.1:$PORT \
    --logging-method=null "${USER_ARGS[@]}" >/dev/null 2>&1 &
SIM=$!
ADDR=127.0.0.1:$PORT
C=cisco_16_switch
for _ in $(seq 1 300); do
    snmpget -v2c -c $C -m '' -t 1 -r 0 "$ADDR" 1.3.6.1.2.1.1.3.0 >/dev/null 2>&1 && break
    sleep 0.3
done

# One untimed walk each warms snmpsim's index and the page cache.
"$PROBE" "$ADDR" $C >/dev/null
snmpbulkwalk -v2c -c $C -m '' -On -Cr25 "$ADDR" 1.3.6.1 >/dev/null

probe_t=(); net_t=(); rows=""
for _ in $(seq 1 "$RUNS"); do
    read -r samples secs < <("$PROBE" "$ADDR" $C)
    probe_t+=("$secs"); rows=$samples
    start=$(date +%s.%N)
    lines=$(snmpbulkwalk -v2c -c $C -m '' -On -Cr25 "$ADDR" 1.3.6.1 | grep -c '^\.')
    end=$(date +%s.%N)
    net_t+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.6f", b - a}')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mp=$(median "${probe_t[@]}"); mn=$(median "${net_t[@]}")
echo "runs:                 $RUNS"
echo "probe samples:        $rows (numeric rows of the walk + snmp_up + duration)"
echo "snmpbulkwalk OIDs:    $lines"
echo "probe median s:       $mp   (${probe_t[*]})"
echo "snmpbulkwalk median s: $mn   (${net_t[*]})"
echo "ratio probe/net-snmp: $(awk -v a="$mp" -v b="$mn" 'BEGIN {printf "%.2f", a / b}')"
