package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The JVM stays safe with the host's signal-based traps (see {@link JvmSafetyHarness}): jobs submitted again and again
 * to one MiniCluster, each in a new classloader collected afterwards, while Java code throws NullPointerExceptions and
 * hits safepoints, and kernels fault in every way and run away. The JVM survives, every library copy stays mapped
 * after its classloader is gone (pinned), and every run's output is right.
 */
class JvmSafetyTest {
    private static final int ROUNDS = 3;

    @Test
    void faulting_and_runaway_kernels_npes_safepoints_and_unloaded_classloaders_leave_the_jvm_and_the_verdicts_intact(
            @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path events = TestSupport.generate(dir, "events", 20_000, 500, 11, 0.01).file;
        TestSupport.Reference reference = TestSupport.reference(TestSupport.detectorConfig(), events, dir);
        Path faultRecords = dir.resolve("faults.jsonl");
        Files.write(faultRecords, List.of("a", "#read past the end", "b", "/divide by zero", "c", "!unreachable", "d", "~run away", "e"));

        String javaBin = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("anomaly.flinkLib") + "/*" + File.pathSeparator + System.getProperty("anomaly.testClasses");
        Path unloadLog = dir.resolve("class-unload.log");
        Process harness = new ProcessBuilder(javaBin, "-Xmx1g", "-Xlog:class+unload=info:file=" + unloadLog, "-cp", classpath,
                JvmSafetyHarness.class.getName(), System.getProperty("anomaly.jar"), System.getProperty("anomaly.testClasses"),
                events.toString(), faultRecords.toString(), TestSupport.fixture("faults.cwasm").toString(), dir.toString(),
                Integer.toString(ROUNDS))
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("harness.log").toFile())
                .start();
        try {
            boolean finished = harness.waitFor(8, TimeUnit.MINUTES);
            String output = new String(Files.readAllBytes(dir.resolve("harness.log")), StandardCharsets.UTF_8);
            assertTrue(finished, "the harness did not finish in 8 minutes:\n" + tail(output));
            assertEquals(0, harness.exitValue(), "the harness JVM failed or crashed:\n" + tail(output));
            assertTrue(output.contains("jvm safe"), tail(output));
            System.out.println(output.lines().filter(l -> l.contains("copies loaded")).findFirst().orElse(""));
        } finally {
            harness.destroyForcibly();
        }
        long nativeKernelUnloads = Files.readAllLines(unloadLog).stream().filter(l -> l.contains("anomaly.job.NativeKernel ")).count();
        assertTrue(nativeKernelUnloads >= ROUNDS, "the runs' classloaders must be collected in between (the host class was unloaded "
                + nativeKernelUnloads + " times)");

        List<String> runs = new java.util.ArrayList<>();
        for (int round = 1; round <= ROUNDS; round++) {
            runs.add("real-" + round);
        }
        runs.add("real-no-signals");
        for (String run : runs) {
            TestSupport.assertSameMultiset(reference.anomalies, TestSupport.committedLines(dir.resolve(run).resolve("anomalies")),
                    "anomalies of " + run + " and the reference");
            TestSupport.assertSameMultiset(reference.deadLetters,
                    TestSupport.canonicalDeadLetters(TestSupport.committedLines(dir.resolve(run).resolve("dead-letters"))),
                    "dead letters of " + run + " and the reference");
        }
        for (int round = 1; round <= ROUNDS; round++) {
            List<String> dead = TestSupport.committedLines(dir.resolve("faults-" + round).resolve("dead-letters"));
            assertEquals(9, dead.size(), "one dead letter per record: " + dead);
            assertEquals(5, dead.stream().filter(l -> l.equals("{\"fake\":1}")).count(), "the neighbours were parsed: " + dead);
            List<String> kernel = dead.stream().filter(l -> l.contains("\"stage\":\"kernel\"")).collect(Collectors.toList());
            for (String[] fault : new String[][] {{"#read", "out of bounds memory access"}, {"/divide", "integer divide by zero"},
                    {"!unreachable", "unreachable"}, {"~run", "time limit"}}) {
                assertTrue(kernel.stream().anyMatch(l -> l.contains("\"raw\":\"" + fault[0]) && l.contains(fault[1])),
                        "the record " + fault[0] + " must be a kernel dead letter naming `" + fault[1] + "`: " + kernel);
            }
        }
    }

    private static String tail(String output) {
        return output.length() <= 8000 ? output : output.substring(output.length() - 8000);
    }
}
