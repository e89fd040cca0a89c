package anomaly.job;

import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.sink.filesystem.OutputFileConfig;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.BasePathBucketAssigner;
import org.apache.flink.streaming.api.functions.sink.filesystem.rollingpolicies.OnCheckpointRollingPolicy;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.types.DataType;
import org.apache.flink.types.Row;

/**
 * Sources and sinks chosen by configuration, so the job never names a connector class. A group's {@code connector}
 * is either {@code file} (JSON-lines files through the DataStream file connector: exactly-once, files committed on
 * checkpoint) or the identifier of any Flink SQL connector on the classpath ({@code kinesis}, {@code filesystem},
 * {@code datagen}, {@code print}, {@code blackhole} …), used through the Table API with every other key of the group
 * passed through as a connector option. Table connectors see one column, {@code data BYTES}: use {@code format = raw}.
 */
public final class Connectors {
    /** The connector key of a source or sink group. */
    public static final String CONNECTOR = "connector";
    /** The DataStream JSON-lines file connector. */
    public static final String FILE = "file";
    /** File connector: the file or directory to read, or the directory to write. */
    public static final String PATH = "path";
    /** File source: also watch {@code path} for new files every this many ms (the source never ends). */
    public static final String MONITOR_INTERVAL_MS = "monitor_interval_ms";
    /** File source: lines longer than this are cut (the kernel then refuses them as oversized). */
    public static final String MAX_LINE_BYTES = "max_line_bytes";
    /** Just above the kernel's largest allowed max_record_bytes (16 MiB). */
    static final long DEFAULT_MAX_LINE_BYTES = (16L << 20) + 1;
    /** The one column table connectors read and write. */
    public static final String COLUMN = "data";
    /** Every key of a source group with {@code connector = file} (job-template/README.md documents each). */
    static final List<String> FILE_SOURCE_KEYS = Arrays.asList(CONNECTOR, PATH, MAX_LINE_BYTES, MONITOR_INTERVAL_MS);
    /** Every key of a sink group with {@code connector = file}. */
    static final List<String> FILE_SINK_KEYS = Arrays.asList(CONNECTOR, PATH);

    private Connectors() {}

    /** The source a property group describes ({@code source}). */
    public static RecordSource source(String groupId, Map<String, String> group) {
        String connector = connector(groupId, group);
        if (connector.equals(FILE)) {
            String path = required(groupId, group, PATH);
            long maxLine = number(groupId, group, MAX_LINE_BYTES, DEFAULT_MAX_LINE_BYTES, 1, Integer.MAX_VALUE - 16);
            Long monitor = group.containsKey(MONITOR_INTERVAL_MS) ? number(groupId, group, MONITOR_INTERVAL_MS, 0, 1, Long.MAX_VALUE) : null;
            allowOnly(groupId, group, FILE_SOURCE_KEYS);
            return fileSource(path, (int) maxLine, monitor);
        }
        Map<String, String> options = options(group);
        return (env, tables) -> {
            Table table = tables.tableEnv().from(descriptor(connector, options, DataTypes.BYTES()));
            return tables.toStream(groupId, table)
                    .map(Connectors::bytesOf)
                    .returns(PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO)
                    .name("source: " + connector + " → bytes")
                    .uid(groupId + "-table-bytes");
        };
    }

    /** The sink a property group describes ({@code anomalies}, {@code dead_letters}). */
    public static RecordSink sink(String groupId, Map<String, String> group) {
        String connector = connector(groupId, group);
        if (connector.equals(FILE)) {
            String path = required(groupId, group, PATH);
            allowOnly(groupId, group, FILE_SINK_KEYS);
            return fileSink(path);
        }
        Map<String, String> options = options(group);
        return (records, name, tables) -> {
            Table table = tables.fromStream(records, Schema.newBuilder().column("f0", DataTypes.BYTES()).build());
            tables.insert(name, descriptor(connector, options, DataTypes.BYTES()), table);
        };
    }

    /**
     * The table a sink group stands for in the `sql` group's statements: one column {@code data STRING} (the rows
     * written, one record each). A {@code file} group becomes Flink's {@code filesystem} SQL connector with
     * {@code format = raw}: part files under {@code path}, committed on checkpoints as the file sink's are.
     */
    public static TableDescriptor sqlSinkTable(String groupId, Map<String, String> group) {
        String connector = connector(groupId, group);
        if (connector.equals(FILE)) {
            String path = required(groupId, group, PATH);
            allowOnly(groupId, group, FILE_SINK_KEYS);
            return TableDescriptor.forConnector("filesystem")
                    .schema(Schema.newBuilder().column(COLUMN, DataTypes.STRING()).build())
                    .option(PATH, path)
                    .option("format", "raw")
                    .build();
        }
        return descriptor(connector, options(group), DataTypes.STRING());
    }

    /** JSON lines from a file or directory. */
    public static RecordSource fileSource(String path, int maxLineBytes, Long monitorIntervalMs) {
        return (env, tables) -> {
            FileSource.FileSourceBuilder<byte[]> builder =
                    FileSource.forRecordStreamFormat(new JsonLinesFormat(maxLineBytes), new Path(path));
            if (monitorIntervalMs != null) {
                builder.monitorContinuously(Duration.ofMillis(monitorIntervalMs));
            }
            return env.fromSource(builder.build(), WatermarkStrategy.noWatermarks(), "source: " + path).uid("source-file");
        };
    }

    /** JSON lines into part files under a directory, committed on each checkpoint (exactly-once). */
    public static RecordSink fileSink(String path) {
        return (records, name, tables) -> {
            FileSink<byte[]> sink = FileSink.forRowFormat(new Path(path), new LineEncoder())
                    .withBucketAssigner(new BasePathBucketAssigner<>())
                    .withRollingPolicy(OnCheckpointRollingPolicy.build())
                    .withOutputFileConfig(OutputFileConfig.builder().withPartPrefix(name).withPartSuffix(".jsonl").build())
                    .build();
            records.sinkTo(sink).name(name + ": " + path).uid(name + "-file-sink");
        };
    }

    private static byte[] bytesOf(Row row) {
        Object value = row.getField(0);
        if (value instanceof byte[]) {
            return (byte[]) value;
        }
        // A connector that ignores the declared BYTES type; hand the kernel the text as UTF-8.
        return String.valueOf(value).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    private static TableDescriptor descriptor(String connector, Map<String, String> options, DataType column) {
        TableDescriptor.Builder builder = TableDescriptor.forConnector(connector).schema(Schema.newBuilder().column(COLUMN, column).build());
        options.forEach(builder::option);
        return builder.build();
    }

    private static Map<String, String> options(Map<String, String> group) {
        Map<String, String> options = new LinkedHashMap<>(group);
        options.remove(CONNECTOR);
        return options;
    }

    private static String connector(String groupId, Map<String, String> group) {
        return required(groupId, group, CONNECTOR).trim();
    }

    private static String required(String groupId, Map<String, String> group, String key) {
        String value = group.get(key);
        if (value == null || value.trim().isEmpty()) {
            throw new IllegalArgumentException("property " + groupId + "." + key + " is missing; set it in the `" + groupId
                    + "` property group (connector = file with a path, or a Flink SQL connector such as kinesis)");
        }
        return value;
    }

    private static void allowOnly(String groupId, Map<String, String> group, List<String> keys) {
        for (String key : group.keySet()) {
            if (!keys.contains(key)) {
                throw new IllegalArgumentException("property " + groupId + "." + key + " is not an option of the file connector;"
                        + " it knows " + String.join(", ", keys));
            }
        }
    }

    private static long number(String groupId, Map<String, String> group, String key, long fallback, long min, long max) {
        String text = group.get(key);
        if (text == null) {
            return fallback;
        }
        try {
            long value = Long.parseLong(text.trim());
            if (value >= min && value <= max) {
                return value;
            }
        } catch (NumberFormatException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("property " + groupId + "." + key + " must be a whole number from " + min + " to " + max
                + ", got \"" + text + "\"");
    }
}
