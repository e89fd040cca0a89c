package anomaly.job;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.ChainingStrategy;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.SimpleOperatorFactory;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;

/**
 * What differs between the Flink runtimes the job is built for. One copy per runtime (src/flink-VERSION/java);
 * `packager build --flink-version` compiles the one it builds for next to src/main/java. This copy: Flink 2.2,
 * Managed Flink's FLINK-2_2 (Java 17 bytecode).
 */
final class FlinkRuntime {
    /** The Managed Flink runtime this build runs on. */
    static final String RUNTIME = "FLINK-2_2";

    private FlinkRuntime() {}

    /** {@code input.transform(...)} with the operator chained to its input whatever the input's chaining. */
    static <IN, OUT, OP extends AbstractStreamOperator<OUT> & OneInputStreamOperator<IN, OUT>> SingleOutputStreamOperator<OUT> chained(
            DataStream<IN> input, String name, TypeInformation<OUT> type, OP operator) {
        return input.transform(name, type, new ChainedFactory<IN, OUT>(operator));
    }

    /** Flink 2 keeps the chaining strategy on an operator's factory, no longer on the operator. */
    private static final class ChainedFactory<IN, OUT> extends SimpleOperatorFactory<OUT> implements OneInputStreamOperatorFactory<IN, OUT> {
        private static final long serialVersionUID = 1L;

        ChainedFactory(OneInputStreamOperator<IN, OUT> operator) {
            super(operator);
            setChainingStrategy(ChainingStrategy.ALWAYS);
        }
    }

    /** Registers the SQL functions ({@code ANOMALY_DETECT}, with the `detector` group as its defaults) for the `sql` group. */
    static void registerSqlFunctions(StreamTableEnvironment tableEnv, byte[] detectorConfig) {
        tableEnv.createTemporarySystemFunction(AnomalyDetectFunction.NAME, new AnomalyDetectFunction(detectorConfig));
    }
}
