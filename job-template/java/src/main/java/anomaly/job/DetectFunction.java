package anomaly.job;

import java.time.Duration;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scores each event against its key's state through the kernel. The state is the kernel's own bytes, kept in Flink
 * keyed state ({@code ValueState<byte[]>}), so checkpoints, savepoints, rescaling and TTL work the Flink way; the
 * kernel keeps no per-key data between calls (only the population check's 24-byte summary of the values this subtask
 * has seen, which a restart re-learns: detector-wasm/README.md). Emits the verdict JSON the kernel renders (anomalies, or every event with
 * {@code detector.emit = all}); dead letters go to the side output.
 */
public class DetectFunction extends KeyedProcessFunction<String, Tuple2<String, byte[]>, byte[]> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(DetectFunction.class);
    /** The state's name: part of every savepoint, never rename it. */
    static final String STATE_NAME = "kernel-state";
    /** One call in this many is timed for the gauge (a clock read costs about as much as a small kernel call). */
    private static final int TIMING_SAMPLE = 64;

    private final KernelSource kernelSource;
    private final byte[] configJson;
    private final Duration stateTtl;

    private transient ValueState<byte[]> state;
    private transient NativeKernel kernel;
    private transient NativeKernel.DetectResult result;
    private transient Counter anomalies;
    private transient Counter kernelErrors;
    private transient Counter stateResets;
    private transient KernelTimer timer;
    private transient int untimed;

    /** @param stateTtl how long an idle key's state is kept; zero keeps it forever */
    public DetectFunction(KernelSource kernelSource, byte[] configJson, Duration stateTtl) {
        this.kernelSource = kernelSource;
        this.configJson = configJson;
        this.stateTtl = stateTtl;
    }

    @Override
    public void open(OpenContext context) throws Exception {
        ValueStateDescriptor<byte[]> descriptor =
                new ValueStateDescriptor<>(STATE_NAME, PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);
        if (!stateTtl.isZero()) {
            // Idle keys are removed in the background: on RocksDB (what Managed Flink runs) by the compaction filter,
            // Flink's default; on the heap backend by visiting entries as state is accessed. Flink's default visits 5
            // per access, which made the heap job spend more CPU iterating the state table than detecting
            // (benchmarks/flink.md); one per access still reaches every key once per as many accesses as there are
            // keys, far inside any TTL counted in hours.
            descriptor.enableTimeToLive(StateTtlConfig.newBuilder(stateTtl)
                    .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                    .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                    .cleanupIncrementally(1, false)
                    .build());
        }
        state = getRuntimeContext().getState(descriptor);
        kernel = NativeKernel.open(kernelSource, configJson);
        LOG.info("kernel for detection: {}", kernel.describe());
        result = new NativeKernel.DetectResult();
        MetricGroup metrics = JobMetrics.group(getRuntimeContext().getMetricGroup());
        anomalies = metrics.counter(JobMetrics.ANOMALIES);
        kernelErrors = metrics.counter(JobMetrics.KERNEL_ERRORS);
        stateResets = metrics.counter(JobMetrics.STATE_RESETS);
        timer = metrics.gauge(JobMetrics.KERNEL_NANOS_PER_RECORD, new KernelTimer());
    }

    @Override
    public void processElement(Tuple2<String, byte[]> event, Context ctx, Collector<byte[]> out) throws Exception {
        byte[] current = readState(ctx.getCurrentKey());
        boolean timed = ++untimed == TIMING_SAMPLE;
        long start = timed ? System.nanoTime() : 0L;
        try {
            kernel.detect(current, event.f1, result);
        } catch (KernelException e) {
            // Traps are survived inside the host; this is anything else. Retry once on a fresh instance.
            LOG.warn("kernel failed on an event of key {} ({}); retrying on a fresh instance", ctx.getCurrentKey(), e.getMessage());
            replaceKernel();
            try {
                kernel.detect(current, event.f1, result);
            } catch (KernelException again) {
                kernelErrors.inc();
                ctx.output(DeadLetters.TAG, NativeKernel.deadLetter("kernel failed while detecting: " + again.getMessage(), event.f1, true));
                replaceKernel();
                return;
            }
        }
        if (timed) {
            timer.record(System.nanoTime() - start, 1);
            untimed = 0;
        }
        if (result.deadLetter) {
            // The key's state was written by a newer kernel; it is kept for a kernel that can read it.
            kernelErrors.inc();
            ctx.output(DeadLetters.TAG, result.payload);
            return;
        }
        writeState(ctx.getCurrentKey(), result.state);
        if ((result.flags & NativeKernel.FLAG_STATE_RESET) != 0) {
            LOG.warn("key {} had stored state the kernel could not read; it started afresh", ctx.getCurrentKey());
            stateResets.inc();
        }
        if (result.isAnomaly()) {
            anomalies.inc();
        }
        if (result.payload != null) {
            out.collect(result.payload);
        }
    }

    private void replaceKernel() throws Exception {
        kernel.close();
        kernel = NativeKernel.open(kernelSource, configJson);
    }

    /** The key's kernel state, or null for a new key. */
    protected byte[] readState(String key) throws Exception {
        return state.value();
    }

    protected void writeState(String key, byte[] newState) throws Exception {
        state.update(newState);
    }

    @Override
    public void close() throws Exception {
        if (kernel != null) {
            kernel.close();
            kernel = null;
        }
        super.close();
    }
}
