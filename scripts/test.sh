#!/usr/bin/env bash
# The whole test suite, as the README gives it: install test dependencies, build the binaries
# the end-to-end tests start, check formatting and lints, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo fmt --all -- --check
# Licenses, banned crates, duplicate versions, sources (deny.toml). Advisories need the RustSec
# database from the network: `cargo deny check advisories` where it can be fetched.
cargo deny --locked check licenses bans sources
cargo build --workspace --bins --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
