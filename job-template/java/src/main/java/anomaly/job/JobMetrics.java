package anomaly.job;

import org.apache.flink.metrics.MetricGroup;

/** Metric names the CloudWatch dashboard uses; Managed Flink forwards the {@code kinesisanalytics} group. */
final class JobMetrics {
    static final String GROUP = "kinesisanalytics";
    static final String RECORDS_IN = "recordsIn";
    static final String ANOMALIES = "anomalies";
    static final String INVALID_RECORDS = "invalidRecords";
    static final String KERNEL_ERRORS = "kernelErrors";
    static final String STATE_RESETS = "stateResets";
    static final String KERNEL_NANOS_PER_RECORD = "kernelNanosPerRecord";
    static final String STATE_CACHE_HIT_PERCENT = "stateCacheHitPercent";

    private JobMetrics() {}

    static MetricGroup group(MetricGroup operatorGroup) {
        return operatorGroup.addGroup(GROUP);
    }
}
