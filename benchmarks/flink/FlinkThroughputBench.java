package anomaly.job;

import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

/**
 * Throughput of the WASM job against the same zscore detector written directly in Java, on one MiniCluster in one
 * JVM, over the same JSON-lines file. Both read the file with the job's file source, parse the JSON, key by
 * {@code userId}, keep per-key state in {@code ValueState} and emit one JSON line per anomaly into a counting sink;
 * only the detector differs (the kernel through the native host, or the Java below).
 *
 * <p>The Java detector is the kernel's zscore value check with its defaults (ln(1+x), Welford mean and variance,
 * {@code min_stddev}, clip update) except the small-sample Student-t correction, which it approximates for every n
 * with the kernel's Cornish-Fisher series; velocity is off on both sides. Anomaly counts are printed to show both did
 * comparable work, not to prove parity (ParityTest does that for the kernel). The Java job keeps its state without
 * TTL, so the WASM job also runs a third time with {@code state_ttl_hours = 0}: the like-for-like comparison, next to
 * the job as shipped.
 *
 * <p>{@code FlinkThroughputBench EVENTS_FILE PARALLELISM [ROUNDS]}
 */
@SuppressWarnings("try") // MiniCluster.close may throw InterruptedException; main declares Exception anyway
public final class FlinkThroughputBench {
    private static final double K = 3.0;
    private static final int MIN_EVENTS = 10;
    private static final double MIN_STDDEV = 0.05;

    private static final String[] JOBS = {"wasm", "java", "wasm-no-ttl"};

    public static void main(String[] args) throws Exception {
        String events = args[0];
        int parallelism = Integer.parseInt(args[1]);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        long lines = java.nio.file.Files.lines(Paths.get(events)).count();

        Configuration config = new Configuration();
        config.set(TaskManagerOptions.NUM_TASK_SLOTS, parallelism * 2);
        MiniClusterConfiguration cluster = new MiniClusterConfiguration.Builder()
                .setConfiguration(config)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(parallelism * 2)
                .build();
        try (MiniCluster miniCluster = new MiniCluster(cluster)) {
            miniCluster.start();
            // One warm-up pass each (JIT, class loading, the host library), then `rounds` measured rounds with the
            // jobs interleaved, so a noisy moment on a shared machine hits one round of each rather than one job.
            for (String job : JOBS) {
                run(miniCluster, job, events, parallelism);
            }
            Map<String, java.util.List<Result>> results = new TreeMap<>();
            for (int round = 0; round < rounds; round++) {
                for (String job : JOBS) {
                    results.computeIfAbsent(job, k -> new java.util.ArrayList<>()).add(run(miniCluster, job, events, parallelism));
                }
            }
            System.out.printf("lines: %d, parallelism: %d, measured rounds: %d (medians)%n", lines, parallelism, rounds);
            Map<String, Result> median = new TreeMap<>();
            for (String job : JOBS) {
                median.put(job, median(results.get(job)));
                report(job, median.get(job), lines);
            }
            Result java = median.get("java");
            for (String job : new String[] {"wasm", "wasm-no-ttl"}) {
                // wasm-no-ttl keeps its state without TTL, as the Java job does: the like-for-like ratio.
                Result wasm = median.get(job);
                System.out.printf("ratio %s/java: %.2f wall, %.2f CPU%n", job, (double) java.millis / wasm.millis,
                        (double) java.cpuMillis / wasm.cpuMillis);
            }
        }
    }

    /** The median wall time and the median CPU time of the rounds (each taken on its own). */
    private static Result median(java.util.List<Result> rounds) {
        long[] millis = rounds.stream().mapToLong(r -> r.millis).sorted().toArray();
        long[] cpu = rounds.stream().mapToLong(r -> r.cpuMillis).sorted().toArray();
        if (rounds.stream().anyMatch(r -> r.anomalies != rounds.get(0).anomalies)) {
            throw new IllegalStateException("the rounds of one job found different numbers of anomalies");
        }
        return new Result(millis[millis.length / 2], cpu[cpu.length / 2], rounds.get(0).anomalies);
    }

    private static void report(String name, Result r, long lines) {
        System.out.printf("%s job: %.0f events/s wall (%d ms), %.0f events per CPU-second (%d ms CPU), %d anomalies%n", name,
                lines * 1000.0 / r.millis, r.millis, lines * 1000.0 / r.cpuMillis, r.cpuMillis, r.anomalies);
    }

    static final class Result {
        final long millis;
        /** CPU time of the whole JVM during the job: robust to other processes competing for the cores. */
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

    private static Result run(MiniCluster miniCluster, String which, String events, int parallelism) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        RecordSource source = Connectors.fileSource(events, (int) Connectors.DEFAULT_MAX_LINE_BYTES, null);
        if (which.startsWith("wasm")) {
            Map<String, String> detector = new TreeMap<>();
            detector.put("velocity", "false");
            // As shipped (state TTL on), or with state kept forever like the Java job's.
            Map<String, String> job = which.equals("wasm-no-ttl") ? Map.of(JobSettings.STATE_TTL_HOURS, "0") : Map.of();
            AnomalyDetectionJob.builder()
                    .source(source)
                    .anomalies((records, name, tables) -> count(records))
                    .deadLetters((records, name, tables) -> records.sinkTo(new DiscardingSink<>()))
                    .detectorConfig(detector)
                    .settings(JobSettings.from(job))
                    .build()
                    .define(env);
        } else {
            DataStream<Tuple2<String, double[]>> parsed = source.create(env, null)
                    .flatMap(FlinkThroughputBench::parse)
                    .returns(Types.TUPLE(Types.STRING, PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
            count(parsed.keyBy(e -> e.f0, Types.STRING).process(new JavaZscore(), PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
        }
        long cpu = processCpuNanos();
        long start = System.nanoTime();
        JobExecutionResult result = miniCluster.executeJobBlocking(env.getStreamGraph().getJobGraph());
        long millis = (System.nanoTime() - start) / 1_000_000;
        long cpuMillis = (processCpuNanos() - cpu) / 1_000_000;
        Long anomalies = result.getAccumulatorResult("anomalies");
        return new Result(millis, cpuMillis, anomalies == null ? 0 : anomalies);
    }

    private static void count(DataStream<byte[]> records) {
        records.map(new Count()).sinkTo(new DiscardingSink<>());
    }

    static final class Count extends RichMapFunction<byte[], byte[]> {
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
        private transient ValueState<double[]> state;

        @Override
        public void open(OpenContext context) {
            state = getRuntimeContext().getState(new ValueStateDescriptor<>("zscore", PrimitiveArrayTypeInfo.DOUBLE_PRIMITIVE_ARRAY_TYPE_INFO));
        }

        @Override
        public void processElement(Tuple2<String, double[]> event, Context ctx, Collector<byte[]> out) throws Exception {
            double[] s = state.value();
            if (s == null) {
                s = new double[3]; // n, mean, spread
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
