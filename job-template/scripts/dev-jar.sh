#!/usr/bin/env bash
# Builds the job jar for local runs and the job's tests with `packager build --local`: the Flink job's classes, the
# JNI host library and the kernel precompiled to .cwasm — the production layout, less the Kinesis connector (and
# less the alerter zip, which the job's tests do not need). Prints the jar's path.
#
#   job-template/scripts/dev-jar.sh [VERSION]     VERSION: 2.2 (default) or 1.20 → target/packager/flink-VERSION/
set -euo pipefail

version="${1:-2.2}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
FLINK_HOME="$("$repo/job-template/scripts/flink-home.sh" "$version")"
export FLINK_HOME
out="$repo/target/packager/flink-$version"
"$("$repo/tests/debug-build.sh")/packager" build --local --no-alerter --flink-version "$version" --out-dir "$out" >&2
echo "$out/anomaly-detector.jar"
