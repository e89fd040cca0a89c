#!/usr/bin/env bash
# Throughput of the Flink job with the WASM kernel against the same zscore detector written directly in Java, in one
# JVM on one MiniCluster, over the same generated stream, on the heap state backend and on embedded RocksDB with
# incremental checkpoints; then the WASM job's end-to-end latency at half its RocksDB throughput (a benchmark, not a
# test: it reports, it does not judge).
#   benchmarks/scripts/flink-throughput.sh [EVENTS] [PARALLELISM] [ROUNDS] [LATENCY_SECONDS]
#   defaults: 1000000 events, parallelism 2, 3 rounds, 40 s of latency measurement (0: none)
#   BENCH_USERS=N: keys in the generated stream (default 10000); BENCH_JAVA_OPTS: extra JVM options (-Dbench.jobs=…)
# Results and how to read them: benchmarks/flink.md.
set -euo pipefail

events="${1:-1000000}"
parallelism="${2:-2}"
rounds="${3:-3}"
latency_seconds="${4:-40}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
flink_home="$("$repo/job-template/scripts/flink-home.sh")"
jar="$("$repo/job-template/scripts/dev-jar.sh")"
out="$repo/target/flink-bench"
rm -rf "$out/work"
mkdir -p "$out/classes" "$out/work"

echo "generating $events events over ${BENCH_USERS:-10000} keys ..." >&2
packager="$("$repo/tests/debug-build.sh")/packager"
users="${BENCH_USERS:-10000}"
input="$out/events-$events-users-$users.jsonl"
if [[ ! -f "$input" ]]; then
    "$packager" generate --seed 1 --users "$users" --events "$events" --output "$input"
fi

echo "compiling the benchmark ..." >&2
javac --release 11 -encoding UTF-8 -Xlint:all -Xlint:-serial -Xlint:-processing -Werror \
    -cp "$flink_home/lib/*:$jar" -d "$out/classes" "$repo/benchmarks/flink/FlinkThroughputBench.java"

echo "running (a warm-up pass each, then $rounds measured rounds) ..." >&2
java -Xmx2g ${BENCH_JAVA_OPTS:-} -Djava.io.tmpdir="$out" -cp "$flink_home/lib/*:$jar:$out/classes" \
    anomaly.job.FlinkThroughputBench "$input" "$parallelism" "$rounds" "$latency_seconds" "$out/work" 2> "$out/bench.log" \
    || { rc=$?; echo "the benchmark failed (exit $rc); the end of $out/bench.log:" >&2; tail -n 5 "$out/bench.log" >&2; exit "$rc"; }
