package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A failure mid-stream, recovered from the last checkpoint by the restart strategy, changes nothing in the committed
 * output. The negative control keeps the detector state in a plain field instead of Flink state: the same comparison
 * must then see a difference, which proves it can fail.
 */
class FailureRecoveryTest {
    static final int EVENTS = 60_000;
    static final int KEYS = 300;
    /** Failures injected so far (the MiniCluster runs in this JVM). */
    static final AtomicInteger FAILURES = new AtomicInteger();

    @Test
    void a_failure_recovered_from_a_checkpoint_gives_the_clean_output_and_field_state_would_not(@TempDir Path dir) throws Exception {
        Path events = TestSupport.generate(dir, "events", EVENTS, KEYS, 7, 0.01).file;
        Map<String, String> config = TestSupport.detectorConfig();

        Path clean = dir.resolve("clean");
        TestSupport.fileJob(events, clean, config, TestSupport.settings(1_000)).build().run(TestSupport.env(2, 0), "clean");
        List<String> cleanAnomalies = TestSupport.committedLines(clean.resolve("anomalies"));
        List<String> cleanDead = TestSupport.committedLines(clean.resolve("dead-letters"));
        assertTrue(cleanAnomalies.size() > 100, "the clean run should raise anomalies, got " + cleanAnomalies.size());

        Path recovered = dir.resolve("recovered");
        runWithOneFailure(events, recovered, config, DetectOperator::new);
        TestSupport.assertSameMultiset(cleanAnomalies, TestSupport.committedLines(recovered.resolve("anomalies")),
                "anomalies of the clean and the recovered run");
        TestSupport.assertSameMultiset(cleanDead, TestSupport.committedLines(recovered.resolve("dead-letters")),
                "dead letters of the clean and the recovered run");

        Path control = dir.resolve("field-state");
        runWithOneFailure(events, control, config, FieldStateDetectOperator::new);
        assertFalse(TestSupport.sameMultiset(cleanAnomalies, TestSupport.committedLines(control.resolve("anomalies"))),
                "keeping detector state outside Flink state must change the output after a failure; if it does not, the"
                        + " comparison above proves nothing");
    }

    private static void runWithOneFailure(Path events, Path out, Map<String, String> config, AnomalyDetectionJob.DetectFactory detect)
            throws Exception {
        int before = FAILURES.get();
        AnomalyDetectionJob.Builder job = TestSupport.fileJob(events, out, config, TestSupport.settings(250)).detect(detect);
        RecordSource file = Connectors.fileSource(events.toString(), (int) Connectors.DEFAULT_MAX_LINE_BYTES, null);
        job.source((env, tables) -> file.create(env, tables)
                .map(new FailOnceAfterCheckpoint(EVENTS / 2))
                .returns(PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO)
                .name("throttle and fail once"));
        job.build().run(TestSupport.env(2, 3), "failure-injected");
        assertTrue(FAILURES.get() == before + 1, "the injected failure must have happened exactly once");
    }

    /**
     * Slows the stream so checkpoints complete while it flows, and throws once, in the first attempt, after a
     * checkpoint completed and {@code failAfter} records passed.
     */
    static final class FailOnceAfterCheckpoint extends RichMapFunction<byte[], byte[]> implements CheckpointListener {
        private static final long serialVersionUID = 1L;
        private final int failAfter;
        private transient int seen;
        private transient boolean checkpointed;
        private transient boolean firstAttempt;

        FailOnceAfterCheckpoint(int failAfter) {
            this.failAfter = failAfter;
        }

        @Override
        public void open(OpenContext context) {
            firstAttempt = getRuntimeContext().getTaskInfo().getAttemptNumber() == 0;
        }

        @Override
        public byte[] map(byte[] record) throws Exception {
            if (++seen % 20 == 0) {
                Thread.sleep(1);
            }
            if (firstAttempt && checkpointed && seen >= failAfter) {
                firstAttempt = false;
                FAILURES.incrementAndGet();
                throw new RuntimeException("injected failure after " + seen + " records");
            }
            return record;
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            checkpointed = true;
        }
    }

    /** The negative control: detector state in a field of the operator, which a restart loses. */
    static final class FieldStateDetectOperator extends DetectOperator {
        private static final long serialVersionUID = 1L;
        private transient Map<Object, byte[]> states;

        FieldStateDetectOperator(KernelSource kernel, byte[] configJson, JobSettings settings) {
            super(kernel, configJson, settings);
        }

        @Override
        protected byte[] readState(Object key) {
            if (states == null) {
                states = new HashMap<>();
            }
            return states.get(key);
        }

        @Override
        protected void writeState(Object key, byte[] state) {
            states.put(key, state);
        }
    }
}
