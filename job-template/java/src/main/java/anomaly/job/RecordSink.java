package anomaly.job;

import org.apache.flink.streaming.api.datastream.DataStream;

/** Where JSON lines (verdicts, dead letters) go. Tests inject their own. */
@FunctionalInterface
public interface RecordSink {
    /** @param name the property group the sink serves ({@code anomalies}, {@code dead_letters}); also its uid prefix */
    void write(DataStream<byte[]> records, String name, TableBridge tables);
}
