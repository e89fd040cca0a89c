package anomaly.job;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * An operator that buffers its input for one kernel call over many elements ({@link ParseOperator},
 * {@link DetectOperator}). The buffer is flushed when the subclass says it is full, after {@code flushIntervalMs}
 * (a slow stream is not held back), before every checkpoint barrier and watermark (a checkpoint never covers an
 * element still in the buffer: the buffer itself is never part of one), and at end of input.
 */
abstract class KernelBatchOperator<IN, OUT> extends AbstractStreamOperator<OUT> implements OneInputStreamOperator<IN, OUT>, BoundedOneInput {
    private static final long serialVersionUID = 1L;

    private final KernelSource kernelSource;
    private final byte[] configJson;
    private final long flushIntervalMs;

    /** The operator's kernel instance, from {@link #open()} to {@link #close()}. */
    protected transient NativeKernel kernel;
    private transient boolean flushScheduled;
    private transient long[] timestamps;
    private transient boolean[] hasTimestamp;

    KernelBatchOperator(KernelSource kernelSource, byte[] configJson, long flushIntervalMs) {
        this.kernelSource = kernelSource;
        this.configJson = configJson;
        this.flushIntervalMs = flushIntervalMs;
    }

    /** Runs the kernel over the buffered elements, emits what it answered and empties the buffer (none: nothing). */
    protected abstract void flush() throws Exception;

    @Override
    public void open() throws Exception {
        super.open();
        kernel = NativeKernel.open(kernelSource, configJson);
    }

    /** Makes room for the timestamps of {@code capacity} buffered elements. */
    protected void bufferTimestamps(int capacity) {
        timestamps = new long[capacity];
        hasTimestamp = new boolean[capacity];
    }

    /** Keeps the timestamp of {@code element}, buffered at {@code index}, for what is emitted for it. */
    protected void keepTimestamp(int index, StreamRecord<?> element) {
        hasTimestamp[index] = element.hasTimestamp();
        timestamps[index] = element.hasTimestamp() ? element.getTimestamp() : 0L;
    }

    /** {@code value} as a record with the timestamp of the element buffered at {@code index}. */
    protected <T> StreamRecord<T> stamped(int index, T value) {
        return hasTimestamp[index] ? new StreamRecord<>(value, timestamps[index]) : new StreamRecord<>(value);
    }

    /** After an element was buffered: flushes now when the buffer is {@code full}, else asks for a later flush. */
    protected void buffered(boolean full) throws Exception {
        if (full) {
            flush();
        } else {
            flushLater();
        }
    }

    /** Closes the kernel instance and opens a fresh one (after the host threw: it is not known to be usable). */
    protected void replaceKernel() throws Exception {
        kernel.close();
        kernel = NativeKernel.open(kernelSource, configJson);
    }

    /** Asks for a flush {@code flushIntervalMs} from now, unless one is already asked for. */
    private void flushLater() {
        if (!flushScheduled) {
            flushScheduled = true;
            long now = getProcessingTimeService().getCurrentProcessingTime();
            getProcessingTimeService().registerTimer(now + flushIntervalMs, time -> {
                flushScheduled = false;
                flush();
            });
        }
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        flush();
        super.processWatermark(mark);
    }

    /**
     * Before every checkpoint barrier and at finish: flushes the buffer. A subclass that keeps more between calls
     * than the buffer (the detect operator's state cache) writes it to Flink state here too.
     */
    protected void flushForSnapshot() throws Exception {
        flush();
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        flushForSnapshot();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void endInput() throws Exception {
        flush();
    }

    @Override
    public void finish() throws Exception {
        flushForSnapshot();
        super.finish();
    }

    @Override
    public void close() throws Exception {
        try {
            if (kernel != null) {
                kernel.close();
                kernel = null;
            }
        } finally {
            super.close();
        }
    }
}
