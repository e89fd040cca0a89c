package anomaly.job;

import java.nio.file.Paths;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The job as {@link JvmSafetyHarness} submits it, each time in a new classloader: the shipped job built from a
 * properties file, with Java code that throws and catches NullPointerExceptions chained onto the threads that run the
 * kernel (before parse and after detect), and optionally a test kernel instead of the jar's.
 *
 * <p>{@code JvmSafetyJob --properties FILE [--kernel FILE.cwasm]}
 */
public final class JvmSafetyJob {
    private JvmSafetyJob() {}

    public static void main(String[] args) throws Exception {
        String properties = null;
        String kernel = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (args[i].equals("--properties")) {
                properties = args[i + 1];
            } else if (args[i].equals("--kernel")) {
                kernel = args[i + 1];
            } else {
                throw new IllegalArgumentException("unexpected argument " + args[i]);
            }
        }
        ApplicationProperties props = ApplicationProperties.fromFile(Paths.get(properties));
        RecordSource source = Connectors.source(AnomalyDetectionJob.GROUP_SOURCE, props.group(AnomalyDetectionJob.GROUP_SOURCE));
        RecordSink anomalies = Connectors.sink(AnomalyDetectionJob.GROUP_ANOMALIES, props.group(AnomalyDetectionJob.GROUP_ANOMALIES));
        AnomalyDetectionJob.Builder builder = AnomalyDetectionJob.fromProperties(props)
                // The parse operator chains to this map, the anomalies sink's map to detect: the NPEs are thrown on the
                // very threads that run WebAssembly (and so carry wasmtime's signal stack).
                .source((env, tables) -> source.create(env, tables).map(new NpeStorm()).returns(PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO))
                .anomalies((records, name, tables) -> anomalies.write(
                        records.map(new NpeStorm()).returns(PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO), name, tables));
        if (kernel != null) {
            builder.kernel(KernelSource.file(kernel));
        }
        AnomalyDetectionJob job = builder.build();
        job.validate();
        job.run(StreamExecutionEnvironment.getExecutionEnvironment(), "jvm-safety");
    }

    /** Passes each record on after throwing and catching NullPointerExceptions, as careless user code does. */
    static final class NpeStorm implements MapFunction<byte[], byte[]> {
        private static final long serialVersionUID = 1L;
        private transient Object[] maybe;
        private transient long caught;

        @Override
        public byte[] map(byte[] record) {
            if (maybe == null) {
                maybe = new Object[] {"x", null};
            }
            for (int i = 0; i < 4; i++) {
                try {
                    caught += maybe[(record.length + i) & 1].hashCode() == 0 ? 0 : 1;
                } catch (NullPointerException e) {
                    caught++;
                }
            }
            return record;
        }
    }
}
