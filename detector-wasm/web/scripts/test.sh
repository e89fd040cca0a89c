#!/usr/bin/env bash
# CI entry for issue 5: the `packager run --report` tests and the playground tests, both in headless Chromium.
# Needs: Debian `chromium`, node + npm, wasm-bindgen-cli at the Cargo.lock version of wasm-bindgen, the
# wasm32-unknown-unknown target. Screenshots land in target/artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
started=$(date +%s)

# The report: rendered for a generated labeled stream, every anomaly and label checked, screenshot taken.
cargo test --locked -p packager --test report
# The playground's Rust side natively (replay, CSV, export), then the browser build.
cargo test --locked -p detector-web
cargo build --locked -p packager
detector-wasm/web/build.sh

cd detector-wasm/web/tests
npm ci --no-audit --no-fund --loglevel=error
PACKAGER="${CARGO_TARGET_DIR:-$root/target}/debug/packager" node --test playground.test.mjs

echo "report and playground tests passed in $(( $(date +%s) - started )) s; screenshots in ${CARGO_TARGET_DIR:-$root/target}/artifacts/"
