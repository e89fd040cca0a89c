package anomaly.job;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Scores each event against its key's state through the kernel, many keys' events per native call. The state is the
 * kernel's own bytes, kept in Flink keyed state ({@code ValueState<byte[]>} "kernel-state"), so checkpoints,
 * savepoints, rescaling and TTL work the Flink way; the kernel keeps no per-key data between calls (only the
 * population check's 24-byte summary of the values this subtask has seen, which a restart re-learns:
 * detector-wasm/README.md). Emits the verdict JSON the kernel renders (anomalies, or every event with
 * {@code detector.emit = all}) with the event's timestamp; dead letters go to the side output.
 *
 * <p>Events are buffered, each with its key's state read on arrival, up to {@code batchSize} events and as long as
 * no key comes twice (a key's second event must see the state its first one leaves, so it flushes the batch first),
 * then detected in one call and every key's new state written back; and flushed as every {@link KernelBatchOperator}
 * is: after {@code flushIntervalMs}, before checkpoint barriers (so a checkpoint never covers an event whose state is
 * not yet written) and watermarks, at end of input. Per key, events are detected in the order they arrived.
 */
public class DetectOperator extends KernelBatchOperator<Tuple2<String, byte[]>, byte[]> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(DetectOperator.class);
    /** The state's name: part of every savepoint, never rename it. */
    static final String STATE_NAME = "kernel-state";

    private final Duration stateTtl;
    private final int batchSize;
    private final int stateCacheKeys;

    private transient ValueState<byte[]> state;
    private transient Object[] keys;
    private transient byte[][] states;
    private transient byte[][] events;
    private transient NativeKernel.DetectResult[] results;
    private transient Set<Object> pendingKeys;
    private transient int count;
    private transient Counter anomalies;
    private transient Counter kernelErrors;
    private transient Counter stateResets;
    private transient KernelTimer timer;
    /** Null: {@code job.state_cache_keys = 0}, every read and write goes to the backend. */
    private transient StateCache cache;

    /**
     * @param stateTtl how long an idle key's state is kept; zero keeps it forever
     * @param batchSize events detected per native call, at most ({@code job.parse_batch_size})
     * @param flushIntervalMs how long a partial batch waits, at most ({@code job.parse_flush_interval_ms})
     * @param stateCacheKeys keys whose state is kept between checkpoints, saving backend reads and writes
     *     ({@code job.state_cache_keys}, see {@link StateCache}); zero: none
     */
    public DetectOperator(KernelSource kernelSource, byte[] configJson, Duration stateTtl, int batchSize, long flushIntervalMs,
            int stateCacheKeys) {
        super(kernelSource, configJson, flushIntervalMs);
        this.stateTtl = stateTtl;
        this.batchSize = batchSize;
        this.stateCacheKeys = stateCacheKeys;
    }

    /** The operator with the job's TTL, batch size, flush interval and state cache. */
    public DetectOperator(KernelSource kernelSource, byte[] configJson, JobSettings settings) {
        this(kernelSource, configJson, settings.stateTtl, settings.parseBatchSize, settings.parseFlushIntervalMs, settings.stateCacheKeys);
    }

    /**
     * The key's state as every release of the job has declared it (name, type, TTL): a savepoint restores only into
     * the same declaration.
     *
     * @param stateTtl how long an idle key's state is kept; zero keeps it forever
     */
    static ValueStateDescriptor<byte[]> stateDescriptor(Duration stateTtl) {
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
        return descriptor;
    }

    @Override
    public void open() throws Exception {
        super.open();
        state = getPartitionedState(stateDescriptor(stateTtl));
        // Empty at every open: Flink opens a new operator instance on every restore, failover and rescale.
        cache = stateCacheKeys == 0 ? null : new StateCache(stateCacheKeys, stateTtl);
        LOG.info("kernel for detection: {}", kernel.describe());
        keys = new Object[batchSize];
        states = new byte[batchSize][];
        events = new byte[batchSize][];
        bufferTimestamps(batchSize);
        results = new NativeKernel.DetectResult[batchSize];
        for (int i = 0; i < batchSize; i++) {
            results[i] = new NativeKernel.DetectResult();
        }
        pendingKeys = new HashSet<>();
        MetricGroup metrics = JobMetrics.group(getMetricGroup());
        anomalies = metrics.counter(JobMetrics.ANOMALIES);
        kernelErrors = metrics.counter(JobMetrics.KERNEL_ERRORS);
        stateResets = metrics.counter(JobMetrics.STATE_RESETS);
        timer = metrics.gauge(JobMetrics.KERNEL_NANOS_PER_RECORD, new KernelTimer());
        if (cache != null) {
            StateCache c = cache;
            metrics.gauge(JobMetrics.STATE_CACHE_HIT_PERCENT, () -> {
                long reads = c.hits() + c.misses();
                return reads == 0 ? 0.0 : 100.0 * c.hits() / reads;
            });
        }
    }

    @Override
    public void processElement(StreamRecord<Tuple2<String, byte[]>> element) throws Exception {
        Object key = getCurrentKey();
        if (!pendingKeys.add(key)) {
            flush();
            setCurrentKey(key);
            pendingKeys.add(key);
        }
        keys[count] = key;
        states[count] = readState(key);
        events[count] = element.getValue().f1;
        keepTimestamp(count, element);
        count++;
        buffered(count == batchSize);
    }

    @Override
    protected void flush() throws Exception {
        if (count == 0) {
            return;
        }
        long start = System.nanoTime();
        boolean detected;
        try {
            kernel.detect(states, events, count, results);
            detected = true;
        } catch (KernelException e) {
            // Traps are survived inside the host; this is anything else. Retry event by event on a fresh instance.
            LOG.warn("kernel failed on a batch of {} events ({}); retrying them one by one on a fresh instance", count, e.getMessage());
            detected = false;
        }
        timer.record(System.nanoTime() - start, count);
        if (detected) {
            for (int i = 0; i < count; i++) {
                emit(i);
            }
        } else {
            redetectOneByOne();
        }
        Arrays.fill(keys, 0, count, null);
        Arrays.fill(states, 0, count, null);
        Arrays.fill(events, 0, count, null);
        for (int i = 0; i < count; i++) {
            results[i].state = null;
            results[i].payload = null;
        }
        pendingKeys.clear();
        count = 0;
    }

    /** After the host threw (not a trap: those it survives itself), isolates the event at fault. */
    private void redetectOneByOne() throws Exception {
        replaceKernel();
        for (int i = 0; i < count; i++) {
            try {
                kernel.detect(states[i], events[i], results[i]);
            } catch (KernelException again) {
                kernelErrors.inc();
                output.collect(DeadLetters.TAG, stamped(i, NativeKernel.deadLetter("kernel failed while detecting: " + again.getMessage(), events[i], true)));
                replaceKernel();
                continue;
            }
            emit(i);
        }
    }

    /** Writes the new state of event {@code i}'s key and emits its verdict or dead letter. */
    private void emit(int i) throws Exception {
        NativeKernel.DetectResult result = results[i];
        if (result.deadLetter) {
            // The key's state was written by a newer kernel (it is kept for a kernel that can read it), or the event
            // blob could not be read: either way the state stays as it was.
            kernelErrors.inc();
            output.collect(DeadLetters.TAG, stamped(i, result.payload));
            return;
        }
        setCurrentKey(keys[i]);
        writeState(keys[i], result.state);
        if ((result.flags & NativeKernel.FLAG_STATE_RESET) != 0) {
            LOG.warn("key {} had stored state the kernel could not read; it started afresh", keys[i]);
            stateResets.inc();
        }
        if (result.isAnomaly()) {
            anomalies.inc();
        }
        if (result.payload != null) {
            output.collect(stamped(i, result.payload));
        }
    }

    @Override
    protected void flushForSnapshot() throws Exception {
        // The batch first (its states go into the cache), then the cache into the backend: Flink snapshots it next.
        super.flushForSnapshot();
        writeBackCache();
    }

    /** Writes every state the cache holds that the backend does not have yet. */
    private void writeBackCache() throws Exception {
        if (cache != null) {
            Object current = getCurrentKey();
            cache.writeBack(now(), this::writeToBackend);
            if (current != null) {
                setCurrentKey(current);
            }
        }
    }

    private void writeToBackend(Object key, byte[] newState) throws Exception {
        setCurrentKey(key);
        state.update(newState);
    }

    /** The time the cache ages its entries by (only read when there is a TTL). */
    private long now() {
        return cache.ages() ? System.currentTimeMillis() : 0L;
    }

    /** The current key's kernel state, or null for a new key. */
    protected byte[] readState(Object key) throws Exception {
        if (cache != null) {
            byte[] cached = cache.get(key, now());
            if (cached != null) {
                return cached;
            }
        }
        return state.value();
    }

    /** Stores the current key's new kernel state (in the cache, when there is one, until the next checkpoint). */
    protected void writeState(Object key, byte[] newState) throws Exception {
        if (cache == null || !cache.put(key, newState, now())) {
            state.update(newState);
        }
    }
}
