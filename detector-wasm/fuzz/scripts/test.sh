#!/usr/bin/env bash
# Fuzzes the kernel's parser, detectors and ABI framing with cargo-fuzz (libFuzzer + AddressSanitizer).
#   detector-wasm/fuzz/scripts/test.sh [SECONDS_PER_TARGET]      (default 60)
# Runs on the pinned stable toolchain: RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo-fuzz passes, since no
# nightly can be fetched on these machines. A crash fails the script, prints the end of the log and leaves the
# input under artifacts/.
set -euo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"
# shellcheck source=tests/tools.env
source "$repo/tests/tools.env"
command -v cargo-fuzz >/dev/null || {
    echo "cargo-fuzz is missing: run tests/setup.sh (it installs cargo-fuzz $CARGO_FUZZ_VERSION)" >&2
    exit 1
}
export RUSTC_BOOTSTRAP=1
for target in stream abi_framing; do
    corpus="$repo/target/fuzz-corpus/$target"
    mkdir -p "$corpus"
    echo "fuzzing $target for ${seconds}s ..." >&2
    log="$corpus.log"
    if ! cargo fuzz run --fuzz-dir "$here" "$target" "$corpus" "$here/seeds" -- \
        -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz target $target failed; the input that broke it is under $here/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(Done |stat::number_of_executed_units|stat::peak_rss_mb)' "$log" >&2 || true
done
echo "fuzzing clean" >&2
