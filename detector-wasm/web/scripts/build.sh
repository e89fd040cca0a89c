#!/usr/bin/env bash
# Builds the playground into target/playground/ (or $PLAYGROUND_OUT): the kernel crate compiled to wasm32 with
# its wasm-bindgen front (profile `kernel`), the JS glue from wasm-bindgen-cli, the static page, and the bundled
# labeled sample. Serve the folder over http (python3 -m http.server -d target/playground) and open it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="${PLAYGROUND_OUT:-$root/target/playground}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly, or the glue does not fit the module.
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")"
have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$have" != "$want" ]; then
  echo "error: wasm-bindgen-cli $want is needed (found: ${have:-none}); install it with" >&2
  echo "  cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi

cargo build --manifest-path "$root/Cargo.toml" --locked -p detector-web --lib --target wasm32-unknown-unknown --profile kernel
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out/pkg" "$target_dir/wasm32-unknown-unknown/kernel/detector_web.wasm"
cp "$root/detector-wasm/web/static/"* "$out/"
cp "$root/packager/data/sample-transactions.jsonl" "$out/sample.jsonl"
echo "playground built in $out ($(du -sh "$out/pkg/detector_web_bg.wasm" | cut -f1) of WebAssembly)"
