#!/usr/bin/env bash
# Builds the workspace's debug binaries (packager, alerter) and examples (precompile) with the package selection and
# features of the `rust` step of tests/run-all (`cargo test --workspace --all-features`), and prints the directory
# they are in. Cargo then reuses that step's compiled dependencies: `cargo build -p packager` resolves features for
# packager alone and compiles a second copy of wasmtime, cranelift and the AWS SDK (with `-p anomaly-host` a third),
# about 1 GB more of target/ — enough to fill a CI machine's disk. Every test script that needs a debug binary of
# the workspace builds it through here.
#
#   dir="$(tests/debug-build.sh)" && "$dir/packager" run
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --quiet --locked --manifest-path "$repo/Cargo.toml" --workspace --all-features --bins --examples
echo "${CARGO_TARGET_DIR:-$repo/target}/debug"
