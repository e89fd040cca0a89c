package anomaly.job;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.ChainingStrategy;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;

/**
 * What differs between the Flink runtimes the job is built for. One copy per runtime (src/flink-VERSION/java);
 * `packager build --flink-version` compiles the one it builds for next to src/main/java. This copy: Flink 1.20,
 * Managed Flink's FLINK-1_20 (Java 11 bytecode).
 */
final class FlinkRuntime {
    /** The Managed Flink runtime this build runs on. */
    static final String RUNTIME = "FLINK-1_20";

    private FlinkRuntime() {}

    /** {@code input.transform(...)} with the operator chained to its input whatever the input's chaining. */
    static <IN, OUT, OP extends AbstractStreamOperator<OUT> & OneInputStreamOperator<IN, OUT>> SingleOutputStreamOperator<OUT> chained(
            DataStream<IN> input, String name, TypeInformation<OUT> type, OP operator) {
        // Flink 1.x operators carry their chaining strategy (HEAD unless told otherwise).
        operator.setChainingStrategy(ChainingStrategy.ALWAYS);
        return input.transform(name, type, operator);
    }

    /** Registers the SQL functions; Flink 1.20 has no process table functions, so the `sql` group is refused. */
    static void registerSqlFunctions(StreamTableEnvironment tableEnv, byte[] detectorConfig) {
        throw new IllegalArgumentException("the `sql` property group needs Flink 2.2 (process table functions); this jar is built for "
                + RUNTIME + ": build with `packager build --flink-version 2.2` and run it on FLINK-2_2");
    }
}
