#!/usr/bin/env bash
# Builds the three Debian packages: release binaries, then the man pages and shell completions
# generated from each binary's clap definition (so they match its flags), then cargo-deb.
#   bash packaging/build-debs.sh        # target/debian/*.deb
# Needs cargo-deb (`cargo install cargo-deb --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null || {
  echo "build-debs: cargo-deb not found: cargo install cargo-deb --locked" >&2
  exit 1
}
cargo build --release --locked -p patrol-agent -p patrol-collector -p patrolctl
assets=target/release/assets
rm -rf "$assets"
for bin in patrol-agent patrol-collector patrolctl; do
  out="$assets/$bin"
  if [ "$bin" = patrolctl ]; then
    target/release/patrolctl generate-docs "$out" >/dev/null
  else
    "target/release/$bin" --generate-docs "$out" >/dev/null
  fi
  # Debian wants man pages compressed, reproducibly (-n: no name or time stamp).
  gzip -9n "$out"/*.1
done
for pkg in patrol-agent patrol-collector patrolctl; do
  cargo deb --no-build -p "$pkg"
done
ls -l target/debian/*.deb
