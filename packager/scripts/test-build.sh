#!/usr/bin/env bash
# Entry script for `packager build` and `packager run --flink`: gets the Flink 2.2 and 1.20 distributions (PyPI, cached
# under .tools/), then runs the packager's build tests (jar contents, manifest, reproducibility, fake Maven repository on
# 127.0.0.1) and the MiniCluster parity tests (`packager run --flink` = `packager run`).
# Needs: java + javac (JDK 17), the wasm32-unknown-unknown target, and for the cross-built host `pip install ziglang
# cargo-zigbuild` (without them the host falls back to this machine's target and the build says so).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
FLINK_HOME="$("$repo/job-template/scripts/flink-home.sh" 2.2)"
FLINK_HOME_1_20="$("$repo/job-template/scripts/flink-home.sh" 1.20)"
export FLINK_HOME FLINK_HOME_1_20
cargo test --locked -p packager --test build -- --nocapture "$@"
