package anomaly.job;

import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/** Where raw records come from; one record = one event's bytes. Tests inject their own. */
@FunctionalInterface
public interface RecordSource {
    DataStream<byte[]> create(StreamExecutionEnvironment env, TableBridge tables);
}
