#!/usr/bin/env bash
# Builds the playground into target/playground/ (or $PLAYGROUND_OUT): the kernel crate compiled to wasm32 with
# its small string ABI (src/bindings.rs, profile `kernel`), the static page with its JS side of that ABI
# (static/kernel.js), and the bundled labeled sample. Serve the folder over http
# (python3 -m http.server -d target/playground) and open it. Needs only cargo and the wasm32-unknown-unknown target.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${PLAYGROUND_OUT:-$root/target/playground}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

cargo build --manifest-path "$root/Cargo.toml" --locked -p detector-web --lib --target wasm32-unknown-unknown --profile kernel
rm -rf "$out"
mkdir -p "$out"
cp "$target_dir/wasm32-unknown-unknown/kernel/detector_web.wasm" "$out/"
cp "$root/detector-wasm/web/static/"* "$out/"
cp "$root/packager/data/sample-transactions.jsonl" "$out/sample.jsonl"
echo "playground built in $out ($(du -sh "$out/detector_web.wasm" | cut -f1) of WebAssembly)"
