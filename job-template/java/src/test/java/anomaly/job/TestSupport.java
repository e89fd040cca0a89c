package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/** What the job tests share: paths test.sh hands over, local environments, the generator and the reference, output readers. */
final class TestSupport {
    private TestSupport() {}

    /** The repository root (test.sh sets {@code anomaly.repo}). */
    static Path repo() {
        return Paths.get(System.getProperty("anomaly.repo", ".")).toAbsolutePath();
    }

    /** The Flink version the job and these tests are built for (test.sh sets {@code anomaly.flinkVersion}). */
    static String flinkVersion() {
        return System.getProperty("anomaly.flinkVersion", "2.2");
    }

    /** Whether this build has the SQL form (process table functions came with Flink 2.1). */
    static boolean sqlSupported() {
        return !flinkVersion().startsWith("1.");
    }

    /** Precompiled test kernels built by test.sh from src/test/resources/fixtures/*.wat. */
    static Path fixture(String name) {
        return Paths.get(System.getProperty("anomaly.fixtures", "target/job-tests/fixtures")).resolve(name);
    }

    /** The kernel as shipped in the job jar. */
    static byte[] embeddedKernel() throws IOException {
        return KernelSource.embedded().load();
    }

    /** A local MiniCluster environment at {@code parallelism}, with no restarts unless {@code restarts} > 0. */
    static StreamExecutionEnvironment env(int parallelism, int restarts) {
        return StreamExecutionEnvironment.createLocalEnvironment(parallelism, config(restarts));
    }

    /** {@link #env(int, int)} without restarts, on embedded RocksDB (the state backend Managed Flink runs). */
    static StreamExecutionEnvironment rocksDbEnv(int parallelism) {
        Configuration config = config(0);
        config.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        return StreamExecutionEnvironment.createLocalEnvironment(parallelism, config);
    }

    /** A MiniCluster's configuration with no restarts unless {@code restarts} > 0. */
    private static Configuration config(int restarts) {
        Configuration config = new Configuration();
        if (restarts > 0) {
            config.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
            config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, restarts);
            config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(200));
        } else {
            config.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        }
        return config;
    }

    /** The detector group the tests run with (strings, as Managed Flink stores them). */
    static Map<String, String> detectorConfig() {
        Map<String, String> config = new TreeMap<>();
        config.put("threshold_multiplier", "3.0");
        config.put("min_events", "10");
        config.put("velocity", "true");
        // The population check judges a new key against the values its subtask has seen, so at parallelism > 1 its
        // verdicts depend on how keys are spread; off here, so these tests hold every verdict to packager run's at any
        // parallelism (it never changes a key's state). ParityTest checks it on, at parallelism 1.
        config.put("population_events", "0");
        return config;
    }

    /** Job settings with a short checkpoint interval. */
    static JobSettings settings(long checkpointIntervalMs) {
        return JobSettings.from(Map.of(JobSettings.CHECKPOINT_INTERVAL_MS, Long.toString(checkpointIntervalMs)));
    }

    /** Every line of every committed part file under {@code dir} (in-progress and pending files start with a dot). */
    static List<String> committedLines(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return Collections.emptyList();
        }
        List<String> lines = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path file : files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith("."))
                    .sorted().collect(Collectors.toList())) {
                lines.addAll(Files.readAllLines(file, StandardCharsets.UTF_8));
            }
        }
        return lines;
    }

    /** Lines of one file. */
    static List<String> lines(Path file) throws IOException {
        return Files.readAllLines(file, StandardCharsets.UTF_8);
    }

    /** A multiset: each distinct line with how often it occurs. */
    static Map<String, Integer> multiset(List<String> lines) {
        Map<String, Integer> counts = new TreeMap<>();
        for (String line : lines) {
            counts.merge(line, 1, Integer::sum);
        }
        return counts;
    }

    /** Asserts two multisets of lines are equal, naming a few differences when not. */
    static void assertSameMultiset(List<String> expected, List<String> actual, String what) {
        Map<String, Integer> e = multiset(expected);
        Map<String, Integer> a = multiset(actual);
        if (e.equals(a)) {
            return;
        }
        List<String> diff = new ArrayList<>();
        for (Map.Entry<String, Integer> entry : e.entrySet()) {
            int got = a.getOrDefault(entry.getKey(), 0);
            if (got != entry.getValue() && diff.size() < 3) {
                diff.add("expected " + entry.getValue() + "× got " + got + "×: " + abbreviate(entry.getKey()));
            }
        }
        for (Map.Entry<String, Integer> entry : a.entrySet()) {
            if (!e.containsKey(entry.getKey()) && diff.size() < 6) {
                diff.add("unexpected " + entry.getValue() + "×: " + abbreviate(entry.getKey()));
            }
        }
        assertEquals(expected.size() + " lines", actual.size() + " lines",
                what + " differ as multisets (" + expected.size() + " expected, " + actual.size() + " got); e.g. " + diff);
        throw new AssertionError(what + " differ as multisets though the counts match; e.g. " + diff);
    }

    /** Asserts that a job committed the reference's anomalies and dead letters (those without line numbers). */
    static void assertMatchesReference(Reference reference, Path anomalies, Path deadLetters, String what) throws IOException {
        assertSameMultiset(reference.anomalies, committedLines(anomalies), "anomalies of " + what + " and packager run");
        assertSameMultiset(reference.deadLetters, canonicalDeadLetters(committedLines(deadLetters)), "dead letters of " + what + " and packager run");
    }

    /** Whether two multisets of lines are equal. */
    static boolean sameMultiset(List<String> a, List<String> b) {
        return multiset(a).equals(multiset(b));
    }

    static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "…";
    }

    /** The packager binary test.sh builds ({@code packager generate} and {@code packager run}). */
    static String packager() {
        return System.getProperty("anomaly.packager", repo().resolve("target/debug/packager").toString());
    }

    /** Runs a command in {@code workDir}, failing with its output when it fails; returns its standard output. */
    static String run(Path workDir, String name, List<String> command) throws Exception {
        Path stdout = workDir.resolve(name + ".out");
        Path stderr = workDir.resolve(name + ".err");
        Process process = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectOutput(stdout.toFile())
                .redirectError(stderr.toFile())
                .start();
        boolean finished = process.waitFor(10, TimeUnit.MINUTES);
        if (!finished) {
            process.destroyForcibly();
        }
        if (!finished || process.exitValue() != 0) {
            throw new AssertionError(name + " failed: " + command + "\n" + Files.readString(stderr));
        }
        return Files.readString(stdout);
    }

    /** What {@code packager generate} wrote. */
    static final class Generated {
        final Path file;
        /** Valid events (the generator's --events). */
        final long events;
        /** Malformed or mistyped lines it added on top. */
        final long invalid;

        Generated(Path file, long events, long invalid) {
            this.file = file;
            this.events = events;
            this.invalid = invalid;
        }
    }

    /** A seeded, labeled event stream from {@code packager generate}, with {@code invalidRate} bad lines on top. */
    static Generated generate(Path workDir, String name, long events, int users, long seed, double invalidRate) throws Exception {
        Path file = workDir.resolve(name + ".jsonl");
        run(workDir, "generate-" + name, List.of(packager(), "generate", "--events", Long.toString(events), "--users", Integer.toString(users),
                "--seed", Long.toString(seed), "--invalid-rate", Double.toString(invalidRate), "--output", file.toString()));
        long lines;
        try (Stream<String> all = Files.lines(file, StandardCharsets.UTF_8)) {
            lines = all.count();
        }
        return new Generated(file, events, lines - events);
    }

    /**
     * The reference: {@code packager run FILE --emit anomalies} with the same detector keys, i.e. the kernel run outside
     * Flink with one state per key. Its anomalies are the kernel's verdict lines; its dead letters carry an extra
     * {@code line} number, so they are compared in {@link #canonicalDeadLetters} form.
     */
    static Reference reference(Map<String, String> detectorConfig, Path events, Path workDir) throws Exception {
        Path dead = workDir.resolve("reference-dead-letters.jsonl");
        List<String> command = new ArrayList<>(List.of(packager(), "run", events.toString(), "--emit", "anomalies", "--output", "json",
                "--dead-letters", dead.toString()));
        for (Map.Entry<String, String> key : detectorConfig.entrySet()) {
            command.add("--set");
            command.add(key.getKey() + "=" + key.getValue());
        }
        String anomalies = run(workDir, "reference", command);
        List<String> lines = anomalies.isEmpty() ? Collections.emptyList() : Arrays.asList(anomalies.split("\n"));
        return new Reference(lines, canonicalDeadLetters(lines(dead)));
    }

    /** Dead letters with sorted keys and without {@code packager run}'s {@code line} (a stream has no line numbers). */
    static List<String> canonicalDeadLetters(List<String> deadLetters) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> out = new ArrayList<>(deadLetters.size());
        for (String letter : deadLetters) {
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = new TreeMap<>(json.readValue(letter, Map.class));
            fields.remove("line");
            out.add(json.writeValueAsString(fields));
        }
        return out;
    }

    /** What the reference produced. */
    static final class Reference {
        final List<String> anomalies;
        final List<String> deadLetters;

        Reference(List<String> anomalies, List<String> deadLetters) {
            this.anomalies = anomalies;
            this.deadLetters = deadLetters;
        }
    }

    /** A job over JSON-lines files, as the property groups would configure it. */
    static AnomalyDetectionJob.Builder fileJob(Path events, Path out, Map<String, String> detectorConfig, JobSettings settings) {
        return AnomalyDetectionJob.builder()
                .source(Connectors.fileSource(events.toString(), (int) Connectors.DEFAULT_MAX_LINE_BYTES, null))
                .anomalies(Connectors.fileSink(out.resolve("anomalies").toString()))
                .deadLetters(Connectors.fileSink(out.resolve("dead-letters").toString()))
                .detectorConfig(detectorConfig)
                .settings(settings);
    }
}
