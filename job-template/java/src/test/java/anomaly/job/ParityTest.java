package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job on a MiniCluster (parallelism 2) gives exactly the anomalies {@code packager run} gives for the same input
 * (from {@code packager generate}: many keys, labeled spikes and bursts, some bad lines) and configuration.
 *
 * <p>Compared as multisets of whole verdict lines: both sides run the same kernel, so each verdict must be
 * byte-identical, which also checks that each key's state evolved through the same events in the same order (the
 * verdict carries the baseline it was judged against), while the order across keys depends on parallelism and is
 * not part of the contract. Comparing only (anomalyId, score) would miss a wrong baseline that happens to cross the
 * threshold the same way. Dead letters are compared too, without packager run's line numbers.
 */
class ParityTest {
    static final int EVENTS = 120_000;
    static final int KEYS = 2_000;

    @Test
    void job_at_parallelism_2_matches_the_reference_on_a_generated_stream(@TempDir Path dir) throws Exception {
        TestSupport.Generated generated = TestSupport.generate(dir, "events", EVENTS, KEYS, 42, 0.01);
        Path events = generated.file;
        Map<String, String> config = TestSupport.detectorConfig();

        TestSupport.Reference reference = TestSupport.reference(config, events, dir);
        Path out = dir.resolve("job");
        TestSupport.fileJob(events, out, config, TestSupport.settings(1_000)).build().run(TestSupport.env(2, 0), "parity");

        List<String> anomalies = TestSupport.committedLines(out.resolve("anomalies"));
        List<String> dead = TestSupport.committedLines(out.resolve("dead-letters"));
        assertTrue(reference.anomalies.size() > 500, "the generated stream should raise many anomalies, got " + reference.anomalies.size());
        assertTrue(generated.invalid > 500 && reference.deadLetters.size() == generated.invalid, "every bad line is a dead letter: "
                + reference.deadLetters.size() + " dead letters for " + generated.invalid + " bad lines");
        TestSupport.assertSameMultiset(reference.anomalies, anomalies, "anomalies of the job and packager run");
        TestSupport.assertSameMultiset(reference.deadLetters, TestSupport.canonicalDeadLetters(dead), "dead letters of the job and packager run");
    }

    /**
     * On RocksDB, with a state cache smaller than the keys (512 slots for about 1,000 keys per subtask: keys share
     * slots, so reads alternate between the cache and the backend, and writes between the cache and the backend at
     * once), every verdict is still packager run's: a read the cache answers gives the bytes the backend would.
     */
    @Test
    void job_on_rocksdb_with_a_small_state_cache_matches_the_reference(@TempDir Path dir) throws Exception {
        TestSupport.Generated generated = TestSupport.generate(dir, "events", 40_000, KEYS, 11, 0.0);
        Map<String, String> config = TestSupport.detectorConfig();

        TestSupport.Reference reference = TestSupport.reference(config, generated.file, dir);
        Path out = dir.resolve("job");
        JobSettings settings = JobSettings.from(Map.of(JobSettings.CHECKPOINT_INTERVAL_MS, "1000", JobSettings.STATE_CACHE_KEYS, "512"));
        TestSupport.fileJob(generated.file, out, config, settings).build().run(TestSupport.rocksDbEnv(2), "rocksdb-cache");

        assertTrue(reference.anomalies.size() > 100, "the generated stream should raise many anomalies, got " + reference.anomalies.size());
        TestSupport.assertSameMultiset(reference.anomalies, TestSupport.committedLines(out.resolve("anomalies")),
                "anomalies of the job and packager run");
    }

    /**
     * With the kernel's defaults, the population check on: a new key's first purchases are also judged against every
     * value the subtask has seen, in the order it saw them. One subtask sees the file in order, as packager run does, so
     * the verdicts — the population's alarms ({@code stream_outlier}) included — are the same lines.
     */
    @Test
    void job_at_parallelism_1_matches_the_reference_with_the_population_check(@TempDir Path dir) throws Exception {
        TestSupport.Generated generated = TestSupport.generate(dir, "events", 40_000, 1_500, 7, 0.0);
        Map<String, String> config = new TreeMap<>();
        config.put("population_events", "30");

        TestSupport.Reference reference = TestSupport.reference(config, generated.file, dir);
        Path out = dir.resolve("job");
        TestSupport.fileJob(generated.file, out, config, TestSupport.settings(1_000)).build().run(TestSupport.env(1, 0), "population");

        long outliers = reference.anomalies.stream().filter(line -> line.contains("\"pattern\":\"stream_outlier\"")).count();
        assertTrue(outliers >= 3, "the stream should make the population check alarm, got " + outliers);
        TestSupport.assertSameMultiset(reference.anomalies, TestSupport.committedLines(out.resolve("anomalies")),
                "anomalies of the job and packager run");
    }
}
