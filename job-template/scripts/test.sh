#!/usr/bin/env bash
# Builds what the Flink job's tests need and runs the Java tests (JUnit 5 console launcher from Debian's junit5
# package) on local MiniClusters, once per Flink version the job is built for (2.2 and 1.20: each against its own
# Flink jars, from PyPI apache-flink-libraries, and its own build of the job); the 2.2 suite also runs the 1.20 → 2.2
# upgrade (a savepoint taken on 1.20, restored on 2.2). The host crate's Rust tests (JNI boundary included) run once,
# in the `rust` step of tests/run-all (`cargo test --workspace --all-features`).
#
#   job-template/scripts/test.sh                                    both versions (in parallel), the upgrade in 2.2's
#   job-template/scripts/test.sh --flink-version 1.20 [JUNIT_ARGS]  one version, e.g. --select-class anomaly.job.ParityTest
#
# JOB_TESTS_PARALLEL=0 runs the versions one after the other (their output then streams instead of coming at the end).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
junit=/usr/share/java/junit-platform-console-standalone.jar
if [[ ! -f "$junit" ]]; then
    echo "$junit is missing: run tests/setup.sh (it installs Debian's junit5, the JUnit console launcher)" >&2
    exit 1
fi

versions=(2.2 1.20)
if [[ "${1:-}" == --flink-version ]]; then
    versions=("${2:?--flink-version needs 2.2 or 1.20}")
    shift 2
fi
parallel="${JOB_TESTS_PARALLEL:-1}"
((${#versions[@]} > 1)) || parallel=0

echo "building packager (the generator and the reference, packager run) and the test kernels ..." >&2
debug="$("$repo/tests/debug-build.sh")"
fixtures="$repo/target/job-tests/fixtures"
rm -rf "$fixtures"
mkdir -p "$fixtures"
for wat in "$repo"/job-template/java/src/test/resources/fixtures/*.wat; do
    "$debug/examples/precompile" "$fixtures/$(basename "${wat%.wat}").cwasm" "$wat"
done

declare -A flink_home jar out
for v in "${versions[@]}"; do
    flink_home[$v]="$("$repo/job-template/scripts/flink-home.sh" "$v")"
    jar[$v]="$("$repo/job-template/scripts/dev-jar.sh" "$v")"
    out[$v]="$repo/target/job-tests/flink-$v"
    release=17
    [[ "$v" == 1.20 ]] && release=11
    echo "compiling the Java tests for Flink $v (javac --release $release) ..." >&2
    rm -rf "${out[$v]}"
    mkdir -p "${out[$v]}/classes"
    find "$repo/job-template/java/src/test/java" -name '*.java' > "${out[$v]}/sources.txt"
    javac --release "$release" -encoding UTF-8 -Xlint:all -Xlint:-serial -Xlint:-processing -Werror \
        -cp "${flink_home[$v]}/lib/*:${jar[$v]}:$junit" -d "${out[$v]}/classes" @"${out[$v]}/sources.txt"
done

# runs the suite of version $1 with extra JVM properties $2..., JUnit arguments from the command line
suite() {
    local v="$1"
    shift
    java -Xmx3g \
        -Danomaly.repo="$repo" \
        -Danomaly.fixtures="$fixtures" \
        -Danomaly.packager="$debug/packager" \
        -Danomaly.jar="${jar[$v]}" \
        -Danomaly.flinkLib="${flink_home[$v]}/lib" \
        -Danomaly.flinkVersion="$v" \
        -Danomaly.testClasses="${out[$v]}/classes" \
        -Djava.io.tmpdir="${out[$v]}" \
        "$@" \
        -cp "$junit:${flink_home[$v]}/lib/*:${jar[$v]}:${out[$v]}/classes" \
        org.junit.platform.console.ConsoleLauncher \
        --disable-banner --details=tree --fail-if-no-tests \
        "${junit_args[@]}"
}
junit_args=("${@:---scan-class-path=}")
[[ "${junit_args[0]}" == --scan-class-path= ]] && junit_args=()

# The upgrade test runs in the 2.2 suite when the 1.20 build is there: its first half runs in a JVM of its own on 1.20.
upgrade=()
if [[ -n "${jar[1.20]:-}" && -n "${jar[2.2]:-}" ]]; then
    upgrade=(-Danomaly.upgrade.fromJar="${jar[1.20]}" -Danomaly.upgrade.fromFlinkLib="${flink_home[1.20]}/lib"
        -Danomaly.upgrade.fromTestClasses="${out[1.20]}/classes")
fi

status=0
if [[ "$parallel" == 1 ]]; then
    declare -A pid
    for v in "${versions[@]}"; do
        extra=()
        [[ "$v" == 2.2 ]] && extra=("${upgrade[@]}")
        # Each suite scans its own classes directory.
        ( (( ${#junit_args[@]} )) || junit_args=(--scan-class-path="${out[$v]}/classes"); suite "$v" "${extra[@]}" ) \
            >"${out[$v]}/junit.log" 2>&1 &
        pid[$v]=$!
    done
    for v in "${versions[@]}"; do
        rc=0
        wait "${pid[$v]}" || rc=$?
        echo "=== Flink $v: the job's tests (exit $rc)" >&2
        cat "${out[$v]}/junit.log"
        ((rc == 0)) || status=1
    done
else
    for v in "${versions[@]}"; do
        extra=()
        [[ "$v" == 2.2 ]] && extra=("${upgrade[@]}")
        echo "=== Flink $v: the job's tests" >&2
        rc=0
        ( (( ${#junit_args[@]} )) || junit_args=(--scan-class-path="${out[$v]}/classes"); suite "$v" "${extra[@]}" ) || rc=$?
        ((rc == 0)) || status=1
    done
fi
exit "$status"
