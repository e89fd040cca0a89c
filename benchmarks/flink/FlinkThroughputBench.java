package anomaly.job;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.accumulators.Histogram;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

/**
 * Throughput of the WASM job against the same zscore detector written directly in Java, on one MiniCluster in one
 * JVM, over the same JSON-lines file, on the heap state backend and on embedded RocksDB with incremental checkpoints
 * (the backend Managed Flink forces). Both jobs read the file with the job's file source, parse the JSON, key by
 * {@code userId}, keep per-key state in {@code ValueState}, emit one JSON line per anomaly into a counting sink and
 * checkpoint every {@link #CHECKPOINT_MS} ms; only the detector differs (the kernel through the native host, or the
 * Java below). Then the end-to-end latency of the WASM job as shipped, on RocksDB, at a steady rate of half the
 * throughput it just measured.
 *
 * <p>The Java detector is the kernel's zscore value check with its defaults (ln(1+x), Welford mean and variance,
 * {@code min_stddev}, clip update) except the small-sample Student-t correction, which it approximates for every n
 * with the kernel's Cornish-Fisher series; the WASM job runs {@code detector = zscore} with velocity off. Anomaly
 * counts are printed to show both did comparable work, not to prove parity (ParityTest does that for the kernel). The
 * Java job keeps its state without TTL, so the WASM job also runs with {@code state_ttl_hours = 0}
 * ({@code wasm-no-ttl}), next to the job as shipped (TTL 720 h).
 *
 * <p>{@code FlinkThroughputBench EVENTS_FILE PARALLELISM ROUNDS LATENCY_SECONDS WORK_DIR}
 */
@SuppressWarnings("try") // MiniCluster.close may throw InterruptedException; main declares Exception anyway
public final class FlinkThroughputBench {
    private static final double K = 3.0;
    private static final int MIN_EVENTS = 10;
    private static final double MIN_STDDEV = 0.05;
    /**
     * Both jobs checkpoint this often (Managed Flink: every 60 s; here a run lasts seconds);
     * {@code -Dbench.checkpoint_ms=N} changes it. With the detect operator's state cache
     * (job.state_cache_keys) a key's state reaches the backend once per interval, so the events each key has per
     * interval decide what the cache saves: 5 s here is about 100 events per key in the run (1,000,000 events over
     * 10,000 keys in 2–4 s), far more than a card holder makes in Managed Flink's 60 s.
     */
    static final long CHECKPOINT_MS = Long.getLong("bench.checkpoint_ms", 5_000);
    /** Latencies of events emitted in the first seconds of the latency run (JIT warm-up) are left out. */
    private static final long LATENCY_WARMUP_MS = 5_000;

    /**
     * The jobs compared; {@code -Dbench.jobs=wasm,java,wasm-unbatched} (through BENCH_JAVA_OPTS) picks others:
     * {@code wasm-unbatched} is the job as shipped with one event per detect call (the job before batched detect);
     * {@code wasm-default} is the job with the kernel's default detector ({@code adaptive}, its 576-byte state, velocity
     * and the population check on): what a user's job costs, not a like-for-like comparison with the Java job;
     * {@code java-576} is the Java job with its state padded to 576 bytes (72 doubles, the first 3 used), which
     * measures what the state's size alone costs on each backend; {@code wasm-no-cache} is the job as shipped with
     * {@code job.state_cache_keys = 0} (every event reads and writes the backend, as before the state cache).
     */
    private static final String[] JOBS = System.getProperty("bench.jobs", "wasm,java,wasm-no-ttl").split(",");
    private static final String[] BACKENDS = {"heap", "rocksdb"};

    public static void main(String[] args) throws Exception {
        String events = args[0];
        int parallelism = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        int latencySeconds = Integer.parseInt(args[3]);
        Path work = Paths.get(args[4]);
        List<String> jobs = Arrays.asList(JOBS);
        if (latencySeconds > 0 && !jobs.contains("wasm")) {
            throw new IllegalArgumentException("the latency run measures the wasm job at half its RocksDB rate: add wasm to "
                    + "-Dbench.jobs (now " + String.join(",", JOBS) + "), or pass 0 as LATENCY_SECONDS");
        }
        long lines = Files.lines(Paths.get(events)).count();

        Configuration config = new Configuration();
        config.set(TaskManagerOptions.NUM_TASK_SLOTS, parallelism * 2);
        MiniClusterConfiguration cluster = new MiniClusterConfiguration.Builder()
                .setConfiguration(config)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(parallelism * 2)
                .build();
        try (MiniCluster miniCluster = new MiniCluster(cluster)) {
            miniCluster.start();
            // One warm-up pass of each job on each backend (JIT, class loading, the host library, RocksDB's), then
            // `rounds` measured rounds with everything interleaved, so a noisy moment on a shared machine hits one
            // round of each rather than one job.
            for (String backend : BACKENDS) {
                for (String job : JOBS) {
                    run(miniCluster, job, backend, events, parallelism, work);
                }
                if (backend.equals("rocksdb") && !rocksDbLoaded()) {
                    throw new IllegalStateException("the rocksdb runs did not load RocksDB: the state backend setting was ignored");
                }
            }
            Map<String, List<Result>> results = new TreeMap<>();
            for (int round = 0; round < rounds; round++) {
                for (String backend : BACKENDS) {
                    for (String job : JOBS) {
                        results.computeIfAbsent(job + " (" + backend + ")", k -> new ArrayList<>())
                                .add(run(miniCluster, job, backend, events, parallelism, work));
                    }
                }
            }
            System.out.printf("lines: %d, parallelism: %d, measured rounds: %d (medians), checkpoints every %d ms%n", lines, parallelism,
                    rounds, CHECKPOINT_MS);
            Map<String, Result> median = new TreeMap<>();
            for (String backend : BACKENDS) {
                for (String job : JOBS) {
                    String name = job + " (" + backend + ")";
                    median.put(name, median(results.get(name)));
                    report(name, median.get(name), lines);
                }
            }
            // Ratios are taken against the Java job; a run without it (e.g. under a profiler) reports each job alone.
            for (String job : JOBS) {
                if (!job.startsWith("wasm") || !jobs.contains("java")) {
                    continue;
                }
                for (String backend : new String[] {"rocksdb", "heap"}) {
                    // wasm-no-ttl keeps its state without TTL, as the Java job does: the like-for-like ratio.
                    Result java = median.get("java (" + backend + ")");
                    Result wasm = median.get(job + " (" + backend + ")");
                    System.out.printf("ratio %s/java (%s): %.2f wall, %.2f CPU%n", job, backend, (double) java.millis / wasm.millis,
                            (double) java.cpuMillis / wasm.cpuMillis);
                }
            }
            if (latencySeconds > 0) {
                long rate = lines * 1000 / median.get("wasm (rocksdb)").millis / 2;
                latency(miniCluster, events, parallelism, rate, latencySeconds, work);
            }
        }
    }

    /** The median wall time and the median CPU time of the rounds (each taken on its own). */
    private static Result median(List<Result> rounds) {
        long[] millis = rounds.stream().mapToLong(r -> r.millis).sorted().toArray();
        long[] cpu = rounds.stream().mapToLong(r -> r.cpuMillis).sorted().toArray();
        if (rounds.stream().anyMatch(r -> r.anomalies != rounds.get(0).anomalies)) {
            throw new IllegalStateException("the rounds of one job found different numbers of anomalies");
        }
        return new Result(millis[millis.length / 2], cpu[cpu.length / 2], rounds.get(0).anomalies);
    }

    private static void report(String name, Result r, long lines) {
        System.out.printf("%s: %.0f events/s wall (%d ms), %.0f events per CPU-second (%d ms CPU), %d anomalies%n", name,
                lines * 1000.0 / r.millis, r.millis, lines * 1000.0 / r.cpuMillis, r.cpuMillis, r.anomalies);
    }

    static final class Result {
        final long millis;
        /** CPU time of the whole JVM during the job (RocksDB's threads included): robust to other processes on the cores. */
        final long cpuMillis;
        final long anomalies;

        Result(long millis, long cpuMillis, long anomalies) {
            this.millis = millis;
            this.cpuMillis = cpuMillis;
            this.anomalies = anomalies;
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Whether RocksDB's JNI library is loaded into this JVM (it is once a job ran on the RocksDB backend). */
    private static boolean rocksDbLoaded() throws java.io.IOException {
        return Files.readAllLines(Paths.get("/proc/self/maps")).stream().anyMatch(l -> l.contains("librocksdbjni"));
    }

    /** A job environment on `backend`: heap, or embedded RocksDB with incremental checkpoints (as Managed Flink runs). */
    private static StreamExecutionEnvironment env(String backend, int parallelism, Path work) {
        Configuration config = new Configuration();
        config.set(StateBackendOptions.STATE_BACKEND, backend.equals("rocksdb") ? "rocksdb" : "hashmap");
        config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, backend.equals("rocksdb"));
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, work.resolve("checkpoints").toUri().toString());
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(config);
        env.setParallelism(parallelism);
        env.enableCheckpointing(CHECKPOINT_MS);
        return env;
    }

    private static Result run(MiniCluster miniCluster, String which, String backend, String events, int parallelism, Path work)
            throws Exception {
        StreamExecutionEnvironment env = env(backend, parallelism, work);
        RecordSource source = Connectors.fileSource(events, (int) Connectors.DEFAULT_MAX_LINE_BYTES, null);
        if (which.startsWith("wasm")) {
            AnomalyDetectionJob.Builder job = wasmJob(source, jobSettings(which), records -> count(records));
            if (which.equals("wasm-default")) {
                job.detectorConfig(Map.of());
            }
            if (which.equals("wasm-unbatched")) {
                job.detect((kernel, config, settings) -> new DetectOperator(kernel, config, settings.stateTtl, 1, settings.parseFlushIntervalMs, settings.stateCacheKeys));
            }
            job.build().define(env);
        } else {
            DataStream<Tuple2<String, double[]>> parsed = source.create(env, null)
                    .flatMap(FlinkThroughputBench::parse)
                    .returns(Types.TUPLE(Types.STRING, PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
            count(parsed.keyBy(e -> e.f0, Types.STRING).process(new JavaZscore(which.equals("java-576") ? 72 : 3), PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
        }
        long cpu = processCpuNanos();
        long start = System.nanoTime();
        JobExecutionResult result = miniCluster.executeJobBlocking(env.getStreamGraph().getJobGraph());
        long millis = (System.nanoTime() - start) / 1_000_000;
        long cpuMillis = (processCpuNanos() - cpu) / 1_000_000;
        Long anomalies = result.getAccumulatorResult("anomalies");
        return new Result(millis, cpuMillis, anomalies == null ? 0 : anomalies);
    }

    /**
     * The `job` group of a WASM job: as shipped, or with state kept forever (`wasm-no-ttl`), or without the state
     * cache (`wasm-no-cache`).
     */
    private static Map<String, String> jobSettings(String which) {
        switch (which) {
            case "wasm-no-ttl":
                return Map.of(JobSettings.STATE_TTL_HOURS, "0");
            case "wasm-no-cache":
                return Map.of(JobSettings.STATE_CACHE_KEYS, "0");
            default:
                return Map.of();
        }
    }

    /** The WASM job with the `job` group `job`, zscore with velocity off, anomalies to `anomalies`. */
    private static AnomalyDetectionJob.Builder wasmJob(RecordSource source, Map<String, String> job, java.util.function.Consumer<DataStream<byte[]>> anomalies) {
        Map<String, String> detector = new TreeMap<>();
        detector.put("detector", "zscore");
        detector.put("velocity", "false");
        // What the Java detector does (the zscore defaults before `adaptive`): high side only, 10 events of warm-up.
        detector.put("direction", "high");
        detector.put("min_events", String.valueOf(MIN_EVENTS));
        // The Java detector has no population check (a young key judged against the whole stream too): without this
        // line the WASM job found 5,274 anomalies against the Java job's 5,011 and did more work per event.
        detector.put("population_events", "0");
        return AnomalyDetectionJob.builder()
                .source(source)
                .anomalies((records, name, tables) -> anomalies.accept(records))
                .deadLetters((records, name, tables) -> records.sinkTo(new DiscardingSink<>()))
                .detectorConfig(detector)
                .settings(JobSettings.from(job));
    }

    /**
     * The WASM job as shipped on RocksDB, fed at a steady `rate` (events/s, all source subtasks together) for
     * `seconds` by a generator that stamps each event with the time it was emitted; at the sink, each anomaly's
     * latency is now minus that stamp. Prints the percentiles of the anomalies of events emitted after the warm-up.
     */
    private static void latency(MiniCluster miniCluster, String events, int parallelism, long rate, int seconds, Path work) throws Exception {
        StreamExecutionEnvironment env = env("rocksdb", parallelism, work);
        long count = rate * seconds;
        DataGeneratorSource<byte[]> generator =
                new DataGeneratorSource<>(new Lines(events), count, RateLimiterStrategy.perSecond(rate), PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);
        long measureFrom = System.currentTimeMillis() + LATENCY_WARMUP_MS;
        RecordSource source = (e, tables) -> e.fromSource(generator,
                WatermarkStrategy.<byte[]>noWatermarks().withTimestampAssigner((record, previous) -> System.currentTimeMillis()), "steady rate");
        wasmJob(source, Map.of(), records -> records.process(new Latency(measureFrom)).sinkTo(new DiscardingSink<>())).build().define(env);
        JobExecutionResult result = miniCluster.executeJobBlocking(env.getStreamGraph().getJobGraph());
        TreeMap<Integer, Integer> histogram = result.getAccumulatorResult("latency-ms");
        long n = histogram.values().stream().mapToLong(Integer::longValue).sum();
        System.out.printf("latency wasm (rocksdb) at %d events/s for %d s, anomalies of events after the first %d s: p50 %d ms, "
                + "p99 %d ms, max %d ms (%d anomalies)%n", rate, seconds, LATENCY_WARMUP_MS / 1000, percentile(histogram, n, 0.50),
                percentile(histogram, n, 0.99), histogram.isEmpty() ? -1 : histogram.lastKey(), n);
    }

    private static int percentile(TreeMap<Integer, Integer> histogram, long n, double p) {
        long seen = 0;
        for (Map.Entry<Integer, Integer> bucket : histogram.entrySet()) {
            seen += bucket.getValue();
            if (seen >= Math.ceil(p * n)) {
                return bucket.getKey();
            }
        }
        return -1;
    }

    /** The i-th event is line i (mod the file's length) of the events file, read once per JVM. */
    static final class Lines implements GeneratorFunction<Long, byte[]> {
        private static final long serialVersionUID = 1L;
        private static byte[][] cache;
        private final String path;
        private transient byte[][] lines;

        Lines(String path) {
            this.path = path;
        }

        @Override
        public void open(org.apache.flink.api.connector.source.SourceReaderContext context) throws Exception {
            synchronized (Lines.class) {
                if (cache == null) {
                    cache = Files.readAllLines(Paths.get(path)).stream().map(l -> l.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
                }
                lines = cache;
            }
        }

        @Override
        public byte[] map(Long index) {
            return lines[(int) (index % lines.length)];
        }
    }

    /** Records each anomaly's latency (now minus the event's emission stamp) in milliseconds. */
    static final class Latency extends ProcessFunction<byte[], byte[]> {
        private static final long serialVersionUID = 1L;
        private final long measureFrom;
        private transient Histogram histogram;

        Latency(long measureFrom) {
            this.measureFrom = measureFrom;
        }

        @Override
        public void open(OpenContext context) {
            histogram = new Histogram();
            getRuntimeContext().addAccumulator("latency-ms", histogram);
        }

        @Override
        public void processElement(byte[] value, Context ctx, Collector<byte[]> out) {
            Long emitted = ctx.timestamp();
            if (emitted != null && emitted >= measureFrom) {
                histogram.add((int) (System.currentTimeMillis() - emitted));
            }
        }
    }

    private static void count(DataStream<byte[]> records) {
        records.map(new Count()).sinkTo(new DiscardingSink<>());
    }

    static final class Count extends org.apache.flink.api.common.functions.RichMapFunction<byte[], byte[]> {
        private static final long serialVersionUID = 1L;
        private transient LongCounter counter;

        @Override
        public void open(OpenContext context) {
            counter = new LongCounter();
            getRuntimeContext().addAccumulator("anomalies", counter);
        }

        @Override
        public byte[] map(byte[] value) {
            counter.add(1);
            return value;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** userId, amount and timestamp from one JSON line; lines without them are dropped (the dead-letter path). */
    static void parse(byte[] line, Collector<Tuple2<String, double[]>> out) {
        try {
            JsonNode node = JSON.readTree(line);
            JsonNode user = node.get("userId");
            JsonNode amount = node.get("amount");
            JsonNode timestamp = node.get("timestamp");
            if (user == null || !user.isTextual() || amount == null || !amount.isNumber() || amount.asDouble() < 0
                    || timestamp == null || !timestamp.isIntegralNumber()) {
                return;
            }
            JsonNode id = node.get("transactionId");
            out.collect(Tuple2.of(user.asText(), new double[] {amount.asDouble(), timestamp.asLong(), id == null ? 0 : id.asText().hashCode()}));
        } catch (java.io.IOException e) {
            // malformed: dropped, as the WASM job dead-letters it
        }
    }

    /** Welford zscore on ln(1+x) with clip update, as the kernel's zscore detector with velocity off. */
    static final class JavaZscore extends KeyedProcessFunction<String, Tuple2<String, double[]>, byte[]> {
        private static final long serialVersionUID = 1L;
        /** Doubles of state: 3 (n, mean, spread), more to measure a larger state. */
        private final int stateDoubles;
        private transient ValueState<double[]> state;

        JavaZscore(int stateDoubles) {
            this.stateDoubles = stateDoubles;
        }

        @Override
        public void open(OpenContext context) {
            state = getRuntimeContext().getState(new ValueStateDescriptor<>("zscore", PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
        }

        @Override
        public void processElement(Tuple2<String, double[]> event, Context ctx, Collector<byte[]> out) throws Exception {
            double[] s = state.value();
            if (s == null) {
                s = new double[stateDoubles]; // n, mean, spread (and padding)
            }
            double y = Math.log1p(event.f1[0]);
            double learn = y;
            if (s[0] >= MIN_EVENTS) {
                double n = s[0];
                double sd = Math.max(Math.sqrt(s[2] / (n - 1)), MIN_STDDEV);
                double kEff = cornishFisher(K, n - 1) * Math.sqrt(1 + 1 / n);
                double z = (y - s[1]) / sd;
                double score = z * K / kEff;
                double lo = s[1] - kEff * sd;
                double hi = s[1] + kEff * sd;
                if (score > K) {
                    learn = Math.min(Math.max(y, lo), hi);
                    ObjectNode verdict = JSON.createObjectNode();
                    verdict.put("status", "anomaly");
                    verdict.put("key", event.f0);
                    verdict.put("timestamp", (long) event.f1[1]);
                    verdict.put("value", event.f1[0]);
                    verdict.put("score", score);
                    verdict.put("expectedLow", Math.expm1(lo));
                    verdict.put("expectedHigh", Math.expm1(hi));
                    ObjectNode baseline = verdict.putObject("baseline");
                    baseline.put("mean", s[1]);
                    baseline.put("stddev", sd);
                    baseline.put("count", (long) n);
                    out.collect(JSON.writeValueAsString(verdict).getBytes(StandardCharsets.UTF_8));
                }
            }
            s[0] += 1;
            double d = learn - s[1];
            s[1] += d / s[0];
            s[2] += d * (learn - s[1]);
            state.update(s);
        }

        private static double cornishFisher(double z, double nu) {
            double z2 = z * z;
            double z3 = z2 * z;
            double z5 = z3 * z2;
            double z7 = z5 * z2;
            return z + (z3 + z) / 4 / nu + (5 * z5 + 16 * z3 + 3 * z) / 96 / (nu * nu)
                    + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384 / (nu * nu * nu);
        }
    }
}
