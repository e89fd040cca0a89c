package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job jar submitted three times to one MiniCluster in one JVM (see {@link RestartHarness}): the native host is
 * loaded from three classloaders, the first run is cancelled, garbage is collected in between, every run is correct
 * and the JVM survives.
 */
class RestartInOneJvmTest {
    @Test
    void the_jar_runs_cancelled_and_again_in_one_jvm_with_new_classloaders(@TempDir Path dir) throws Exception {
        Path events = TestSupport.generate(dir, "events", 20_000, 500, 11, 0.01).file;
        TestSupport.Reference reference = TestSupport.reference(TestSupport.detectorConfig(), events, dir);

        String javaBin = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("anomaly.flinkLib") + "/*" + File.pathSeparator + System.getProperty("anomaly.testClasses");
        Process harness = new ProcessBuilder(javaBin, "-Xmx1g", "-cp", classpath, RestartHarness.class.getName(),
                System.getProperty("anomaly.jar"), events.toString(), dir.toString(), Integer.toString(reference.anomalies.size()))
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("harness.log").toFile())
                .start();
        try {
            boolean finished = harness.waitFor(5, TimeUnit.MINUTES);
            String output = new String(Files.readAllBytes(dir.resolve("harness.log")), StandardCharsets.UTF_8);
            assertTrue(finished, "the harness did not finish in 5 minutes:\n" + output);
            assertEquals(0, harness.exitValue(), "the harness JVM failed or crashed:\n" + output);
            assertTrue(output.contains("restarts survived"), output);
            System.out.println(output.lines().filter(l -> l.contains("copies loaded")).findFirst().orElse(""));
        } finally {
            harness.destroyForcibly();
        }
        for (String run : new String[] {"run1", "run2", "run3"}) {
            TestSupport.assertSameMultiset(reference.anomalies, TestSupport.committedLines(dir.resolve(run).resolve("anomalies")),
                    "anomalies of " + run + " and the reference");
            TestSupport.assertSameMultiset(reference.deadLetters,
                    TestSupport.canonicalDeadLetters(TestSupport.committedLines(dir.resolve(run).resolve("dead-letters"))),
                    "dead letters of " + run + " and the reference");
        }
    }
}
