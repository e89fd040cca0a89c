package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job on a MiniCluster (parallelism 2) gives exactly what the kernel gives outside Flink for the same input and
 * configuration.
 *
 * <p>Compared as multisets of whole JSON lines: both sides run the same kernel, so each verdict must be byte-identical
 * (that also checks each key's state evolved in the same order, which the verdict's baseline shows), while the order
 * across keys depends on parallelism and is not part of the contract.
 */
class ParityTest {
    static final int EVENTS = 120_000;
    static final int KEYS = 2_000;

    @Test
    void job_at_parallelism_2_matches_the_reference_on_a_generated_stream(@TempDir Path dir) throws Exception {
        Path events = dir.resolve("events.jsonl");
        EventGenerator generator = new EventGenerator(42, KEYS, 0.01);
        generator.write(events, EVENTS);
        Map<String, String> config = TestSupport.detectorConfig();

        TestSupport.Reference reference = TestSupport.reference(config, events, dir);
        Path out = dir.resolve("job");
        TestSupport.fileJob(events, out, config, TestSupport.settings(1_000)).build().run(TestSupport.env(2, 0), "parity");

        List<String> anomalies = TestSupport.committedLines(out.resolve("anomalies"));
        List<String> dead = TestSupport.committedLines(out.resolve("dead-letters"));
        assertTrue(reference.anomalies.size() > 500, "the generated stream should raise many anomalies, got " + reference.anomalies.size());
        assertTrue(reference.deadLetters.size() == generator.bad(), "every bad record is a dead letter: " + reference.deadLetters.size()
                + " dead letters for " + generator.bad() + " bad records");
        TestSupport.assertSameMultiset(reference.anomalies, anomalies, "anomalies of the job and the reference");
        TestSupport.assertSameMultiset(reference.deadLetters, dead, "dead letters of the job and the reference");
    }
}
