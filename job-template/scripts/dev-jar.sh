#!/usr/bin/env bash
# Builds target/packager/anomaly-detector.jar for local runs and tests: the Flink job's classes, the JNI host library
# (runtime-only wasmtime) and the kernel precompiled to .cwasm with the host's engine config. Stand-in for
# `packager build --local`, which produces the same layout (see job-template/README.md). Not for Managed Flink: that
# build needs the host linked against glibc 2.17 (cargo zigbuild) and the Kinesis connector in the jar.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
flink_home="$("$repo/job-template/scripts/flink-home.sh")"
stage="$repo/target/packager/dev-jar"
jar="$repo/target/packager/anomaly-detector.jar"
rm -rf "$stage"
mkdir -p "$stage/jar/native/linux-x86_64" "$stage/jar/kernel"

echo "building the JNI host library (release, --features jni) ..." >&2
cargo build --quiet --locked --release -p anomaly-host --features jni --lib
cp target/release/libanomaly_host.so "$stage/jar/native/linux-x86_64/libanomaly_host.so"

echo "building the kernel and precompiling it to .cwasm ..." >&2
cargo run --quiet --locked -p anomaly-host --example precompile -- "$stage/jar/kernel/kernel.cwasm"

echo "compiling the job (javac --release 11) ..." >&2
find "$repo/job-template/java/src/main/java" -name '*.java' > "$stage/sources.txt"
javac --release 11 -encoding UTF-8 -Xlint:all -Xlint:-serial -Xlint:-processing -Werror \
    -cp "$flink_home/lib/*" -d "$stage/jar" @"$stage/sources.txt"

# The build manifest (`packager build` writes the same file): what this jar carries, for support and for the job's log.
mkdir -p "$stage/jar/META-INF/anomaly-detector"
cat > "$stage/jar/META-INF/anomaly-detector/build.json" <<JSON
{
  "builder": "job-template/scripts/dev-jar.sh",
  "flinkVersion": "1.20.3",
  "target": "linux-x86_64",
  "kernelSha256": "$(sha256sum "$stage/jar/kernel/kernel.cwasm" | cut -d' ' -f1)",
  "hostSha256": "$(sha256sum "$stage/jar/native/linux-x86_64/libanomaly_host.so" | cut -d' ' -f1)",
  "gitCommit": "$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
}
JSON

rm -f "$jar"
jar --create --file "$jar" --main-class anomaly.job.AnomalyDetectionJob -C "$stage/jar" .
echo "$jar"
