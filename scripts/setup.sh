#!/usr/bin/env bash
# Installs what building and testing Patrol needs on a fresh Debian machine, as root.
# Idempotent: packages already present are left alone. The Rust toolchain (1.95 or newer) must
# already be installed (rustup); Debian's own cargo is too old for this workspace.
set -euo pipefail

need_rust="1.95"
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found: install Rust $need_rust or newer with rustup" >&2
  exit 1
fi
have=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need_rust" "$have" | sort -V | head -n1)" != "$need_rust" ]; then
  echo "setup: rustc $have is older than $need_rust: run 'rustup update stable'" >&2
  exit 1
fi

# Build: a C compiler for the bundled SQLite. Tests: promtool (Debian package 'prometheus')
# checks the collector's /metrics output.
packages=(gcc libc6-dev prometheus)
# SNMP probe tests: snmpsim serves the Cisco 3750 recording it ships, snmpd (net-snmp) is the
# v3 authPriv peer, snmp (net-snmp tools snmpget/snmpbulkwalk) is the oracle and the benchmark baseline.
packages+=(snmpsim snmpd snmp)
# Network and hardware probes (h/net): netstat2 generates its netlink bindings with bindgen,
# which needs libclang; the namespace tests use ip/tc (iproute2), sysctl (procps), nft
# (nftables: induced loss where the kernel has no netem) and setpriv (util-linux).
packages+=(libclang-dev iproute2 procps nftables util-linux)
# Notification channels (h/notify): mosquitto + mosquitto-clients (mosquitto_sub) are the MQTT
# peer, python3-aiosmtpd the SMTP server the e-mail channel tests deliver to.
packages+=(mosquitto mosquitto-clients python3-aiosmtpd)
# Exec probe (h/probes): real Nagios plugins (check_dummy, check_disk from
# monitoring-plugins-basic) are run through the probe to check the plugin protocol end to end.
packages+=(monitoring-plugins-basic)
# Sample history (issue 14): remote-write is tested against the real receivers, prometheus
# (already above, --web.enable-remote-write-receiver) and victoria-metrics.
packages+=(victoria-metrics)
# Device logs, traps, gear and IPMI (h/gear): logger (util-linux, above) sends to the syslog
# receiver, snmptrap/snmpinform (snmp, above) to the trap receiver; ipmitool is run for real
# to check the probe's "no BMC" / "session refused" / timeout wording (no BMC exists here).
packages+=(ipmitool)
# Security and packaging tests (h/sec): systemd-analyze rates the units' exposure
# (tests/tests/packaging.rs), curl is the HTTPS client of the HTTP port under mutual TLS.
packages+=(systemd curl)
# Web console (issue 15): tests/tests/console.rs drives Debian's Chromium headless over
# WebDriver (chromium-driver's chromedriver) to check the pages, live updates and writes.
packages+=(chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages ${missing[*]}: run this script as root (or apt-get install them)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: only promtool is needed, not the Prometheus server's extras.
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Supply chain (scripts/test.sh runs `cargo deny check`): cargo-deny from crates.io, pinned.
# Building it takes a while (about 15 minutes on two idle cores) and happens once per machine.
deny_version="0.20.2"
if ! cargo deny --version 2>/dev/null | grep -q "$deny_version"; then
  cargo install cargo-deny --locked --version "$deny_version"
fi
echo "setup: ok (rustc $have; ${packages[*]} present; cargo-deny $deny_version)"
