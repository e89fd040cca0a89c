package anomaly.job;

import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Raw records → (key, event blob) through the kernel's parser, many records per native call.
 *
 * <p>Records are buffered up to {@code batchSize} records or {@code batchBytes} bytes and parsed together (and flushed
 * as every {@link KernelBatchOperator} is: after {@code flushIntervalMs}, before checkpoint barriers and watermarks,
 * at end of input; the operator holds no state). Records the kernel refuses go to the dead-letter side output as the
 * kernel renders them.
 */
final class ParseOperator extends KernelBatchOperator<byte[], Tuple2<String, byte[]>> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ParseOperator.class);

    private final int batchSize;
    private final long batchBytes;

    private transient byte[][] records;
    private transient int count;
    private transient long bytes;
    private transient Counter recordsIn;
    private transient Counter invalidRecords;
    private transient Counter kernelErrors;
    private transient KernelTimer timer;
    private transient NativeKernel.ParseResults emitter;

    ParseOperator(KernelSource kernelSource, byte[] configJson, int batchSize, long batchBytes, long flushIntervalMs) {
        super(kernelSource, configJson, flushIntervalMs);
        this.batchSize = batchSize;
        this.batchBytes = batchBytes;
    }

    @Override
    public void open() throws Exception {
        super.open();
        LOG.info("kernel for parsing: {}", kernel.describe());
        records = new byte[batchSize][];
        bufferTimestamps(batchSize);
        MetricGroup metrics = JobMetrics.group(getMetricGroup());
        recordsIn = metrics.counter(JobMetrics.RECORDS_IN);
        invalidRecords = metrics.counter(JobMetrics.INVALID_RECORDS);
        kernelErrors = metrics.counter(JobMetrics.KERNEL_ERRORS);
        timer = metrics.gauge(JobMetrics.KERNEL_NANOS_PER_RECORD, new KernelTimer());
        emitter = new NativeKernel.ParseResults() {
            @Override
            public void event(int index, String key, byte[] event) {
                Tuple2<String, byte[]> value = Tuple2.of(key, event);
                output.collect(stamped(index, value));
            }

            @Override
            public void deadLetter(int index, byte[] json) {
                emitDeadLetter(json);
            }
        };
    }

    @Override
    public void processElement(StreamRecord<byte[]> element) throws Exception {
        byte[] record = element.getValue();
        records[count] = record;
        keepTimestamp(count, element);
        count++;
        bytes += record.length;
        recordsIn.inc();
        buffered(count == batchSize || bytes >= batchBytes);
    }

    @Override
    protected void flush() throws Exception {
        if (count == 0) {
            return;
        }
        long start = System.nanoTime();
        try {
            kernel.parse(records, count, emitter);
        } catch (KernelException e) {
            LOG.warn("kernel failed on a batch of {} records ({}); retrying them one by one on a fresh instance", count, e.getMessage());
            reparseOneByOne();
        }
        timer.record(System.nanoTime() - start, count);
        java.util.Arrays.fill(records, 0, count, null);
        count = 0;
        bytes = 0;
    }

    /** After the host threw (not a trap: those it survives itself), isolates the record at fault. */
    private void reparseOneByOne() throws Exception {
        replaceKernel();
        byte[][] one = new byte[1][];
        for (int i = 0; i < count; i++) {
            one[0] = records[i];
            final int index = i;
            try {
                kernel.parse(one, 1, new NativeKernel.ParseResults() {
                    @Override
                    public void event(int ignored, String key, byte[] event) {
                        emitter.event(index, key, event);
                    }

                    @Override
                    public void deadLetter(int ignored, byte[] json) {
                        emitter.deadLetter(index, json);
                    }
                });
            } catch (KernelException e) {
                emitDeadLetter(NativeKernel.deadLetter("kernel failed while parsing: " + e.getMessage(), records[i], false));
                replaceKernel();
            }
        }
    }

    private void emitDeadLetter(byte[] json) {
        if (DeadLetters.isInvalidRecord(json)) {
            invalidRecords.inc();
        } else {
            kernelErrors.inc();
        }
        output.collect(DeadLetters.TAG, new StreamRecord<>(json));
    }
}
