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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upgrade from Flink 1.20 to 2.2 keeps every key's baseline: the 1.20 build of the job reads the first part of a
 * stream on a Flink 1.20 MiniCluster and stops with a savepoint; the 2.2 build restores it on a Flink 2.2
 * MiniCluster, in another JVM, and reads the rest. Together they commit exactly the anomalies {@code packager run}
 * gives for the whole stream read at once. The anomalies of the second part alone from fresh baselines differ, so the
 * comparison can only pass if the state crossed over. (The 2.2 suite runs this when test.sh built the 1.20 jar too.)
 */
class UpgradeTest {
    @Test
    void a_savepoint_of_the_1_20_job_restores_on_2_2_with_every_baseline(@TempDir Path dir) throws Exception {
        String fromJar = System.getProperty("anomaly.upgrade.fromJar");
        Assumptions.assumeTrue(TestSupport.flinkVersion().equals("2.2"), "the upgrade runs in the 2.2 suite (it restores on 2.2)");
        Assumptions.assumeTrue(fromJar != null, "needs the 1.20 build next to this 2.2 one (job-template/scripts/test.sh without --flink-version)");
        Map<String, String> config = TestSupport.detectorConfig();
        List<String> all = TestSupport.lines(TestSupport.generate(dir, "all", 30_000, 200, 37, 0.01).file);
        int half = all.size() / 2;
        Path whole = dir.resolve("whole.jsonl");
        Path first = dir.resolve("first.jsonl");
        Path second = dir.resolve("second.jsonl");
        Files.write(whole, all, StandardCharsets.UTF_8);
        Files.write(first, all.subList(0, half), StandardCharsets.UTF_8);
        Files.write(second, all.subList(half, all.size()), StandardCharsets.UTF_8);
        TestSupport.Reference wholeRun = TestSupport.reference(config, whole, Files.createDirectories(dir.resolve("ref-whole")));
        TestSupport.Reference firstRun = TestSupport.reference(config, first, Files.createDirectories(dir.resolve("ref-first")));
        TestSupport.Reference secondFresh = TestSupport.reference(config, second, Files.createDirectories(dir.resolve("ref-second")));

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
        Files.copy(first, input.resolve("part-1.jsonl"));
        String log = harness(dir, "flink-1.20", System.getProperty("anomaly.upgrade.fromFlinkLib"),
                System.getProperty("anomaly.upgrade.fromTestClasses"), "savepoint", fromJar, properties, out,
                firstRun.anomalies.size(), dir.resolve("savepoints").toString());
        String savepoint = log.lines().filter(l -> l.startsWith("savepoint: ")).map(l -> l.substring("savepoint: ".length()))
                .findFirst().orElseThrow(() -> new AssertionError("the 1.20 half printed no savepoint:\n" + log));

        // Flink 2.2, in a new JVM: restore, then the second half arrives.
        Files.copy(second, input.resolve("part-2.jsonl"));
        harness(dir, "flink-2.2", System.getProperty("anomaly.flinkLib"), System.getProperty("anomaly.testClasses"), "restore",
                System.getProperty("anomaly.jar"), properties, out, wholeRun.anomalies.size(), savepoint);

        List<String> anomalies = TestSupport.committedLines(out.resolve("anomalies"));
        TestSupport.assertSameMultiset(wholeRun.anomalies, anomalies, "anomalies of 1.20 then 2.2 and of the whole stream at once");
        TestSupport.assertSameMultiset(wholeRun.deadLetters, TestSupport.canonicalDeadLetters(TestSupport.committedLines(out.resolve("dead"))),
                "dead letters of 1.20 then 2.2 and of the whole stream at once");
        // The control: the second half's anomalies depend on the first half's baselines.
        List<String> afterRestore = minus(wholeRun.anomalies, firstRun.anomalies);
        assertFalse(TestSupport.sameMultiset(afterRestore, secondFresh.anomalies),
                "the second half from fresh baselines must differ, or this test could pass without the state");
        assertEquals(wholeRun.anomalies.size() - firstRun.anomalies.size(), afterRestore.size(), "the first half's anomalies start the whole run's");
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
