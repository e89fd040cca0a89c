#!/usr/bin/env bash
# Builds target/packager/anomaly-detector.jar for local runs and the job's tests with `packager build --local`: the
# Flink job's classes, the JNI host library and the kernel precompiled to .cwasm — the production layout, less the
# Kinesis connector (and less the alerter zip, which the job's tests do not need). Prints the jar's path.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
FLINK_HOME="$("$repo/job-template/scripts/flink-home.sh")"
export FLINK_HOME
cargo run --quiet --locked -p packager -- build --local --no-alerter >&2
echo "$repo/target/packager/anomaly-detector.jar"
