package anomaly.job;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.DeploymentOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.table.api.TableDescriptor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The anomaly-detection job: raw records → kernel parse → keyBy(key) → kernel detect with keyed state → anomalies,
 * with every record the kernel refuses on a dead-letter output.
 *
 * <p>The detection logic is the Rust kernel (WebAssembly, run by the native host); this job only moves bytes and
 * keeps each key's state. Sources and sinks are constructor arguments (from the property groups in production, from
 * tests in tests); see job-template/README.md for the property groups.
 */
public final class AnomalyDetectionJob {
    public static final String GROUP_SOURCE = "source";
    public static final String GROUP_ANOMALIES = "anomalies";
    public static final String GROUP_DEAD_LETTERS = "dead_letters";
    public static final String GROUP_DETECTOR = "detector";
    public static final String GROUP_JOB = "job";

    /** Operator uids: part of every savepoint, never change them. */
    public static final String UID_PARSE = "kernel-parse";
    public static final String UID_DETECT = "kernel-detect";
    /** The Managed Flink runtime this build of the job is for (FLINK-2_2 or FLINK-1_20). */
    public static final String RUNTIME = FlinkRuntime.RUNTIME;
    private static final Logger LOG = LoggerFactory.getLogger(AnomalyDetectionJob.class);

    static final TypeInformation<Tuple2<String, byte[]>> PARSED_TYPE =
            Types.TUPLE(Types.STRING, PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);

    /** Makes the keyed detect operator ({@link DetectOperator}); tests swap in variants. */
    @FunctionalInterface
    public interface DetectFactory {
        OneInputStreamOperator<Tuple2<String, byte[]>, byte[]> create(KernelSource kernel, byte[] configJson, JobSettings settings);
    }

    private final RecordSource source;
    private final RecordSink anomalies;
    private final RecordSink deadLetters;
    private final byte[] detectorConfig;
    private final JobSettings settings;
    private final KernelSource kernel;
    private final DetectFactory detect;
    private final SqlPipeline sql;
    private final Map<String, TableDescriptor> sqlSinks;

    private AnomalyDetectionJob(Builder b) {
        this.source = Objects.requireNonNull(b.source, "source");
        this.sql = b.sql;
        this.sqlSinks = b.sqlSinks;
        this.anomalies = sql != null ? b.anomalies : Objects.requireNonNull(b.anomalies, "anomalies sink");
        this.deadLetters = sql != null ? b.deadLetters : Objects.requireNonNull(b.deadLetters, "dead-letter sink");
        this.detectorConfig = configJson(b.detectorConfig);
        this.settings = b.settings;
        this.kernel = b.kernel != null ? b.kernel : KernelSource.embedded(b.settings.signalTraps);
        this.detect = b.detect;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The job the property groups describe: the fixed pipeline, or the user's SQL when there is a `sql` group. */
    public static Builder fromProperties(ApplicationProperties properties) {
        Builder builder = builder()
                .source(Connectors.source(GROUP_SOURCE, properties.group(GROUP_SOURCE)))
                .detectorConfig(properties.group(GROUP_DETECTOR))
                .settings(JobSettings.from(properties.group(GROUP_JOB)));
        if (properties.has(SqlPipeline.GROUP)) {
            Map<String, TableDescriptor> sinks = new LinkedHashMap<>();
            sinks.put(GROUP_ANOMALIES, Connectors.sqlSinkTable(GROUP_ANOMALIES, properties.group(GROUP_ANOMALIES)));
            if (properties.has(GROUP_DEAD_LETTERS)) {
                sinks.put(GROUP_DEAD_LETTERS, Connectors.sqlSinkTable(GROUP_DEAD_LETTERS, properties.group(GROUP_DEAD_LETTERS)));
            }
            return builder.sql(SqlPipeline.from(properties.group(SqlPipeline.GROUP)), sinks);
        }
        return builder
                .anomalies(Connectors.sink(GROUP_ANOMALIES, properties.group(GROUP_ANOMALIES)))
                .deadLetters(Connectors.sink(GROUP_DEAD_LETTERS, properties.group(GROUP_DEAD_LETTERS)));
    }

    /** Builds a job; every part but the source and the two sinks has a default. */
    public static final class Builder {
        private RecordSource source;
        private RecordSink anomalies;
        private RecordSink deadLetters;
        private Map<String, String> detectorConfig = Map.of();
        private JobSettings settings = JobSettings.defaults();
        /** Null: the jar's kernel for the engine {@code job.signal_traps} selects. */
        private KernelSource kernel;
        private DetectFactory detect = DetectOperator::new;
        private SqlPipeline sql;
        private Map<String, TableDescriptor> sqlSinks = Map.of();

        public Builder source(RecordSource source) {
            this.source = source;
            return this;
        }

        public Builder anomalies(RecordSink sink) {
            this.anomalies = sink;
            return this;
        }

        public Builder deadLetters(RecordSink sink) {
            this.deadLetters = sink;
            return this;
        }

        /** The {@code detector} group: kernel config keys to string values, handed to the kernel as a JSON object. */
        public Builder detectorConfig(Map<String, String> config) {
            this.detectorConfig = config;
            return this;
        }

        public Builder settings(JobSettings settings) {
            this.settings = settings;
            return this;
        }

        public Builder kernel(KernelSource kernel) {
            this.kernel = kernel;
            return this;
        }

        public Builder detect(DetectFactory detect) {
            this.detect = detect;
            return this;
        }

        /**
         * Runs {@code sql} instead of the fixed pipeline, over the source as table {@code events} and into
         * {@code sinks} (table name → table; the anomalies and dead-letter sinks are then unused).
         */
        public Builder sql(SqlPipeline sql, Map<String, TableDescriptor> sinks) {
            this.sql = sql;
            this.sqlSinks = sinks;
            return this;
        }

        public AnomalyDetectionJob build() {
            return new AnomalyDetectionJob(this);
        }
    }

    /**
     * Loads the kernel once with the configuration, so a bad key fails the submission with the kernel's message
     * instead of failing every task after deployment.
     */
    public String validate() throws IOException {
        try (NativeKernel k = NativeKernel.open(kernel, detectorConfig)) {
            return k.describe();
        }
    }

    /** Defines the pipeline on {@code env}. */
    public void define(StreamExecutionEnvironment env) {
        configure(env);
        TableBridge tables = new TableBridge(env);

        DataStream<byte[]> raw = source.create(env, tables);
        if (sql != null) {
            sql.define(env, tables, raw, keyFields(), sqlSinks, detectorConfig);
            tables.attach();
            return;
        }
        // Chained to the source: the raw bytes never cross a network buffer before parsing.
        SingleOutputStreamOperator<Tuple2<String, byte[]>> parsed = FlinkRuntime
                .chained(raw, "kernel parse", PARSED_TYPE, new ParseOperator(kernel, detectorConfig, settings.parseBatchSize,
                        settings.parseBatchBytes, settings.parseFlushIntervalMs))
                .uid(UID_PARSE);
        SingleOutputStreamOperator<byte[]> verdicts = parsed
                .keyBy(new KeyOf())
                .transform("kernel detect", PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO, detect.create(kernel, detectorConfig, settings))
                .uid(UID_DETECT);
        DataStream<byte[]> dead = parsed.getSideOutput(DeadLetters.TAG).union(verdicts.getSideOutput(DeadLetters.TAG));

        anomalies.write(verdicts, GROUP_ANOMALIES, tables);
        deadLetters.write(dead, GROUP_DEAD_LETTERS, tables);
        tables.attach();
    }

    /**
     * Applies the `job` group's parallelism and checkpointing. A cluster that forbids programmatic configuration
     * (Managed Flink: `execution.program-config.enabled: false`) fails any job that changes either, so there they
     * are refused up front with the setting that does the same from outside; and the cluster's checkpointing is
     * left as it is.
     */
    private void configure(StreamExecutionEnvironment env) {
        boolean locked = !env.getConfiguration().get(DeploymentOptions.PROGRAM_CONFIG_ENABLED);
        String service = "this cluster forbids configuration changes made by the job (Managed Flink, "
                + "execution.program-config.enabled: false); ";
        if (settings.parallelism != null) {
            if (locked) {
                throw new IllegalArgumentException("property job.parallelism cannot be applied: " + service
                        + "remove it and set the application's parallelism (packager deploy --parallelism, Terraform flink_parallelism)");
            }
            env.setParallelism(settings.parallelism);
        }
        if (settings.checkpointIntervalMs != null) {
            if (locked) {
                throw new IllegalArgumentException("property job.checkpoint_interval_ms cannot be applied: " + service
                        + "remove it and set the application's checkpoint interval (packager deploy --checkpoint-interval-ms,"
                        + " Terraform flink_checkpoint_interval_ms)");
            }
            env.enableCheckpointing(settings.checkpointIntervalMs);
        } else if (!env.getCheckpointConfig().isCheckpointingEnabled()) {
            if (locked) {
                LOG.warn("checkpointing is off on this cluster: the file sinks commit nothing until it is turned on"
                        + " (Managed Flink: the application's checkpoint configuration)");
            } else {
                // File sinks commit on checkpoints; Managed Flink configures its own, local runs get this.
                env.enableCheckpointing(JobSettings.DEFAULT_CHECKPOINT_INTERVAL_MS);
            }
        }
    }

    /** The kernel's key fields for this configuration (the columns of the SQL form's `events`). */
    private List<String> keyFields() {
        try (NativeKernel k = NativeKernel.open(kernel.load(), detectorConfig)) {
            JsonNode keyField = new ObjectMapper().readTree(k.describe()).path("effectiveConfig").path("key_field");
            List<String> fields = new ArrayList<>();
            if (keyField.isArray()) {
                keyField.forEach(f -> fields.add(f.asText()));
            } else {
                for (String f : keyField.asText().split(",")) {
                    if (!f.trim().isEmpty()) {
                        fields.add(f.trim());
                    }
                }
            }
            return fields;
        } catch (IOException e) {
            throw new IllegalStateException("cannot load the kernel to read its key fields: " + e.getMessage(), e);
        }
    }

    /** Defines the pipeline and runs it to the end. */
    public JobExecutionResult run(StreamExecutionEnvironment env, String name) throws Exception {
        define(env);
        return env.execute(name);
    }

    /** The key of a parsed event. */
    static final class KeyOf implements KeySelector<Tuple2<String, byte[]>, String> {
        private static final long serialVersionUID = 1L;

        @Override
        public String getKey(Tuple2<String, byte[]> event) {
            return event.f0;
        }
    }

    static byte[] configJson(Map<String, String> config) {
        try {
            return new ObjectMapper().writeValueAsString(config).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot write the detector config as JSON: " + e.getMessage(), e);
        }
    }

    /**
     * {@code AnomalyDetectionJob [--properties FILE] [--from-savepoint PATH] [--conf KEY=VALUE]...}: without
     * {@code --properties}, the Managed Flink property file; {@code --from-savepoint} restores a savepoint or a retained
     * checkpoint and {@code --conf} sets Flink configuration (both for local runs; Managed Flink configures its own).
     */
    public static void main(String[] args) throws Exception {
        String propertiesFile = null;
        Configuration config = new Configuration();
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            if (args[i].equals("--properties") && value != null) {
                propertiesFile = value;
            } else if (args[i].equals("--from-savepoint") && value != null) {
                config.set(StateRecoveryOptions.SAVEPOINT_PATH, value);
            } else if (args[i].equals("--conf") && value != null && value.indexOf('=') > 0) {
                config.setString(value.substring(0, value.indexOf('=')), value.substring(value.indexOf('=') + 1));
            } else {
                System.err.println("error: unexpected argument `" + args[i] + "`");
                System.err.println("usage: AnomalyDetectionJob [--properties FILE] [--from-savepoint PATH] [--conf KEY=VALUE]...");
                System.exit(2);
            }
            i++;
        }
        ApplicationProperties properties =
                propertiesFile == null ? ApplicationProperties.managed() : ApplicationProperties.fromFile(Paths.get(propertiesFile));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(config);
        AnomalyDetectionJob job = fromProperties(properties).build();
        job.validate();
        job.run(env, "anomaly-detection");
    }
}
