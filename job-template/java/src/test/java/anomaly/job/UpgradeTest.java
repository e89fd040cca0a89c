package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.util.Collector;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upgrade from Flink 1.20 to 2.2 keeps every key's baseline: the 1.20 build of the job reads the first part of a
 * stream on a Flink 1.20 MiniCluster and stops with a savepoint; the 2.2 build restores it on a Flink 2.2
 * MiniCluster, in another JVM, and reads the rest. Together they commit exactly the anomalies {@code packager run}
 * gives for the whole stream read at once. The anomalies of the second part alone from fresh baselines differ, so the
 * comparison can only pass if the state crossed over. (The 2.2 suite runs this when test.sh built the 1.20 jar too.)
 *
 * <p>The same holds for the upgrade from the job before batched detect (detect as a {@code KeyedProcessFunction}, one
 * event per kernel call) to the job now (a {@link DetectOperator}), on each Flink version, in this JVM.
 */
class UpgradeTest {
    /** A stream cut in two, with what {@code packager run} gives for the whole, the first half, and the second alone. */
    private static final class Halves {
        final Path first;
        final Path second;
        final TestSupport.Reference wholeRun;
        final TestSupport.Reference firstRun;
        final TestSupport.Reference secondFresh;

        Halves(Path dir, Map<String, String> config) throws Exception {
            List<String> all = TestSupport.lines(TestSupport.generate(dir, "all", 30_000, 200, 37, 0.01).file);
            int half = all.size() / 2;
            Path whole = dir.resolve("whole.jsonl");
            first = dir.resolve("first.jsonl");
            second = dir.resolve("second.jsonl");
            Files.write(whole, all, StandardCharsets.UTF_8);
            Files.write(first, all.subList(0, half), StandardCharsets.UTF_8);
            Files.write(second, all.subList(half, all.size()), StandardCharsets.UTF_8);
            wholeRun = TestSupport.reference(config, whole, Files.createDirectories(dir.resolve("ref-whole")));
            firstRun = TestSupport.reference(config, first, Files.createDirectories(dir.resolve("ref-first")));
            secondFresh = TestSupport.reference(config, second, Files.createDirectories(dir.resolve("ref-second")));
        }

        /** The two runs together committed what the whole stream gives, and could not have without the state. */
        void assertRestoredEveryBaseline(Path out, String what) throws Exception {
            List<String> anomalies = TestSupport.committedLines(out.resolve("anomalies"));
            TestSupport.assertSameMultiset(wholeRun.anomalies, anomalies, "anomalies of " + what + " and of the whole stream at once");
            TestSupport.assertSameMultiset(wholeRun.deadLetters, TestSupport.canonicalDeadLetters(TestSupport.committedLines(out.resolve("dead"))),
                    "dead letters of " + what + " and of the whole stream at once");
            // The control: the second half's anomalies depend on the first half's baselines.
            List<String> afterRestore = minus(wholeRun.anomalies, firstRun.anomalies);
            assertFalse(TestSupport.sameMultiset(afterRestore, secondFresh.anomalies),
                    "the second half from fresh baselines must differ, or this test could pass without the state");
            assertEquals(wholeRun.anomalies.size() - firstRun.anomalies.size(), afterRestore.size(), "the first half's anomalies start the whole run's");
        }
    }

    @Test
    void a_savepoint_of_the_job_before_batched_detect_restores_with_every_baseline(@TempDir Path dir) throws Exception {
        Map<String, String> config = TestSupport.detectorConfig();
        Halves data = new Halves(dir, config);
        Path input = Files.createDirectories(dir.resolve("input"));
        Path out = dir.resolve("out");
        Configuration cluster = UpgradeHarness.clusterConfig();

        Files.copy(data.first, input.resolve("part-1.jsonl"));
        AnomalyDetectionJob.DetectFactory perEvent = (kernel, json, settings) -> new KeyedProcessOperator<>(new PerEventDetect(kernel, json, settings.stateTtl));
        String savepoint = UpgradeHarness.runUntil(graph(input, out, config, perEvent, cluster), cluster, out.resolve("anomalies"),
                data.firstRun.anomalies.size(), null, dir.resolve("savepoints").toString());

        Files.copy(data.second, input.resolve("part-2.jsonl"));
        UpgradeHarness.runUntil(graph(input, out, config, DetectOperator::new, cluster), cluster, out.resolve("anomalies"),
                data.wholeRun.anomalies.size(), savepoint, null);
        data.assertRestoredEveryBaseline(out, "the per-event job then the batched one");
    }

    /** The job over the watched directory {@code input}, with {@code detect} as its detect step, as a job graph. */
    private static JobGraph graph(Path input, Path out, Map<String, String> config, AnomalyDetectionJob.DetectFactory detect, Configuration cluster) {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(2, cluster);
        AnomalyDetectionJob.builder()
                .source(Connectors.fileSource(input.toString(), (int) Connectors.DEFAULT_MAX_LINE_BYTES, 300L))
                .anomalies(Connectors.fileSink(out.resolve("anomalies").toString()))
                .deadLetters(Connectors.fileSink(out.resolve("dead").toString()))
                .detectorConfig(config)
                .settings(TestSupport.settings(500))
                .detect(detect)
                .build()
                .define(env);
        return env.getStreamGraph().getJobGraph();
    }

    /**
     * Detect as the job did it before batched detect (the state, uid and name it declared are the job's own), one
     * event per kernel call: the job whose savepoints the batched job must restore.
     */
    static final class PerEventDetect extends KeyedProcessFunction<String, Tuple2<String, byte[]>, byte[]> {
        private static final long serialVersionUID = 1L;
        private final KernelSource kernelSource;
        private final byte[] configJson;
        private final Duration stateTtl;
        private transient ValueState<byte[]> state;
        private transient NativeKernel kernel;
        private transient NativeKernel.DetectResult result;

        PerEventDetect(KernelSource kernelSource, byte[] configJson, Duration stateTtl) {
            this.kernelSource = kernelSource;
            this.configJson = configJson;
            this.stateTtl = stateTtl;
        }

        @Override
        public void open(OpenContext context) throws Exception {
            state = getRuntimeContext().getState(DetectOperator.stateDescriptor(stateTtl));
            kernel = NativeKernel.open(kernelSource, configJson);
            result = new NativeKernel.DetectResult();
        }

        @Override
        public void processElement(Tuple2<String, byte[]> event, Context ctx, Collector<byte[]> out) throws Exception {
            kernel.detect(state.value(), event.f1, result);
            if (result.deadLetter) {
                ctx.output(DeadLetters.TAG, result.payload);
                return;
            }
            state.update(result.state);
            if (result.payload != null) {
                out.collect(result.payload);
            }
        }

        @Override
        public void close() throws Exception {
            if (kernel != null) {
                kernel.close();
            }
            super.close();
        }
    }
    @Test
    void a_savepoint_of_the_1_20_job_restores_on_2_2_with_every_baseline(@TempDir Path dir) throws Exception {
        String fromJar = System.getProperty("anomaly.upgrade.fromJar");
        Assumptions.assumeTrue(TestSupport.flinkVersion().equals("2.2"), "the upgrade runs in the 2.2 suite (it restores on 2.2)");
        Assumptions.assumeTrue(fromJar != null, "needs the 1.20 build next to this 2.2 one (job-template/scripts/test.sh without --flink-version)");
        Map<String, String> config = TestSupport.detectorConfig();
        Halves data = new Halves(dir, config);

        Path input = Files.createDirectories(dir.resolve("input"));
        Path out = dir.resolve("out");
        Path properties = dir.resolve("properties.json");
        Files.write(properties, ("[{\"PropertyGroupId\":\"source\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + input
                + "\",\"monitor_interval_ms\":\"300\"}},"
                + "{\"PropertyGroupId\":\"anomalies\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + out.resolve("anomalies") + "\"}},"
                + "{\"PropertyGroupId\":\"dead_letters\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + out.resolve("dead") + "\"}},"
                + "{\"PropertyGroupId\":\"detector\",\"PropertyMap\":{\"threshold_multiplier\":\"3.0\",\"min_events\":\"10\",\"velocity\":\"true\",\"population_events\":\"0\"}},"
                + "{\"PropertyGroupId\":\"job\",\"PropertyMap\":{\"checkpoint_interval_ms\":\"500\"}}]").getBytes(StandardCharsets.UTF_8));

        // Flink 1.20: the first half, then a savepoint.
        Files.copy(data.first, input.resolve("part-1.jsonl"));
        String log = harness(dir, "flink-1.20", System.getProperty("anomaly.upgrade.fromFlinkLib"),
                System.getProperty("anomaly.upgrade.fromTestClasses"), "savepoint", fromJar, properties, out,
                data.firstRun.anomalies.size(), dir.resolve("savepoints").toString());
        String savepoint = log.lines().filter(l -> l.startsWith("savepoint: ")).map(l -> l.substring("savepoint: ".length()))
                .findFirst().orElseThrow(() -> new AssertionError("the 1.20 half printed no savepoint:\n" + log));

        // Flink 2.2, in a new JVM: restore, then the second half arrives.
        Files.copy(data.second, input.resolve("part-2.jsonl"));
        harness(dir, "flink-2.2", System.getProperty("anomaly.flinkLib"), System.getProperty("anomaly.testClasses"), "restore",
                System.getProperty("anomaly.jar"), properties, out, data.wholeRun.anomalies.size(), savepoint);
        data.assertRestoredEveryBaseline(out, "1.20 then 2.2");
    }

    /** Runs {@link UpgradeHarness} on {@code flinkLib} with {@code testClasses}; returns its output, failing with it on error. */
    private static String harness(Path dir, String name, String flinkLib, String testClasses, String mode, String jar, Path properties,
            Path out, int expected, String savepoint) throws Exception {
        String javaBin = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Path logFile = dir.resolve(name + ".log");
        List<String> command = new ArrayList<>(List.of(javaBin, "-Xmx1g", "-Djava.io.tmpdir=" + Files.createDirectories(dir.resolve(name + "-tmp")),
                "-cp", flinkLib + "/*" + File.pathSeparator + testClasses, UpgradeHarness.class.getName(), mode, jar, properties.toString(),
                out.resolve("anomalies").toString(), Integer.toString(expected), savepoint));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
        try {
            boolean finished = process.waitFor(5, TimeUnit.MINUTES);
            String log = Files.readString(logFile);
            assertTrue(finished, name + " did not finish in 5 minutes:\n" + tail(log));
            assertEquals(0, process.exitValue(), name + " failed:\n" + tail(log));
            return log;
        } finally {
            process.destroyForcibly();
        }
    }

    private static List<String> minus(List<String> all, List<String> some) {
        Map<String, Integer> left = new TreeMap<>(TestSupport.multiset(all));
        for (String line : some) {
            left.merge(line, -1, Integer::sum);
        }
        List<String> rest = new ArrayList<>();
        left.forEach((line, n) -> {
            for (int i = 0; i < n; i++) {
                rest.add(line);
            }
        });
        return rest;
    }

    private static String tail(String log) {
        List<String> lines = log.lines().collect(java.util.stream.Collectors.toList());
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    }
}
