package anomaly.job;

import org.apache.flink.metrics.Gauge;

/**
 * The {@code kernelNanosPerRecord} gauge: time spent inside kernel calls per record, smoothed over recent calls so a
 * reporter sees a stable value whatever its reporting interval.
 */
final class KernelTimer implements Gauge<Long> {
    private volatile long nanosPerRecord;

    void record(long nanos, int records) {
        if (records <= 0) {
            return;
        }
        long sample = nanos / records;
        long current = nanosPerRecord;
        nanosPerRecord = current == 0 ? sample : current + (sample - current) / 16;
    }

    @Override
    public Long getValue() {
        return nanosPerRecord;
    }
}
