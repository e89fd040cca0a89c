#!/usr/bin/env bash
# Builds what the Flink job's tests need and runs them: the Java tests (JUnit 5 console launcher from Debian's junit5
# package) against the dev jar on a local MiniCluster. The host crate's Rust tests (JNI boundary included) run once,
# in the `rust` step of tests/run-all (`cargo test --workspace --all-features`).
#   job-template/scripts/test.sh [JUNIT_ARGS...]   e.g.  --select-class anomaly.job.ParityTest
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
junit=/usr/share/java/junit-platform-console-standalone.jar
if [[ ! -f "$junit" ]]; then
    echo "$junit is missing: run tests/setup.sh (it installs Debian's junit5, the JUnit console launcher)" >&2
    exit 1
fi

flink_home="$("$repo/job-template/scripts/flink-home.sh")"
jar="$("$repo/job-template/scripts/dev-jar.sh")"
out="$repo/target/job-tests"
rm -rf "$out"
mkdir -p "$out/classes" "$out/fixtures"

echo "building packager (the generator and the reference, packager run) and the test kernels ..." >&2
cargo build --quiet --locked -p packager
cargo build --quiet --locked -p anomaly-host --example precompile
for wat in "$repo"/job-template/java/src/test/resources/fixtures/*.wat; do
    "$repo/target/debug/examples/precompile" "$out/fixtures/$(basename "${wat%.wat}").cwasm" "$wat"
done

echo "compiling the Java tests ..." >&2
find "$repo/job-template/java/src/test/java" -name '*.java' > "$out/sources.txt"
javac --release 11 -encoding UTF-8 -Xlint:all -Xlint:-serial -Xlint:-processing -Werror \
    -cp "$flink_home/lib/*:$jar:$junit" -d "$out/classes" @"$out/sources.txt"

echo "running the Java tests ..." >&2
java -Xmx4g \
    -Danomaly.repo="$repo" \
    -Danomaly.fixtures="$out/fixtures" \
    -Danomaly.packager="$repo/target/debug/packager" \
    -Danomaly.jar="$jar" \
    -Danomaly.flinkLib="$flink_home/lib" \
    -Danomaly.testClasses="$out/classes" \
    -Djava.io.tmpdir="$out" \
    -cp "$junit:$flink_home/lib/*:$jar:$out/classes" \
    org.junit.platform.console.ConsoleLauncher \
    --disable-banner --details=tree --fail-if-no-tests \
    "${@:---scan-class-path=$out/classes}"
