#!/usr/bin/env bash
# The playground in headless Chromium: builds it (scripts/build.sh) and runs tests/playground.test.mjs against the
# packager binary. The crate's Rust tests and the `packager run --report` screenshot test run once, in the `rust`
# step of tests/run-all. Needs: Debian `chromium`, node + npm, wasm-bindgen-cli at the Cargo.lock version of
# wasm-bindgen, the wasm32-unknown-unknown target (tests/setup.sh installs them). Screenshots land in target/artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
started=$(date +%s)

debug="$(tests/debug-build.sh)"
detector-wasm/web/scripts/build.sh

cd detector-wasm/web/tests
npm ci --no-audit --no-fund --loglevel=error
PACKAGER="$debug/packager" node --test playground.test.mjs

echo "playground tests passed in $(( $(date +%s) - started )) s; screenshots in ${CARGO_TARGET_DIR:-$root/target}/artifacts/"
