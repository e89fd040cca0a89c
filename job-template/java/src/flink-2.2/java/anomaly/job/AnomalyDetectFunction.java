package anomaly.job;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ArrayNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.flink.table.annotation.ArgumentHint;
import org.apache.flink.table.annotation.ArgumentTrait;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.annotation.StateHint;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ProcessTableFunction;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeFamily;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.Row;

/**
 * {@code ANOMALY_DETECT}: the detection kernel as a Flink SQL process table function. Each row of the input table is
 * one event; the kernel parses it and scores it against the state of its partition, which Flink keeps (one
 * {@code ValueState} per PARTITION BY key: checkpoints, savepoints, rescaling and TTL work as for the job's own
 * keyed state). Parse and detect are the kernel's, exactly as in the job, with the same configuration keys:
 *
 * <pre>{@code
 * SELECT * FROM ANOMALY_DETECT(input => TABLE events PARTITION BY userId, config => '{"threshold_multiplier": 3}')
 * }</pre>
 *
 * <p>The event a row stands for: the row's {@code data} column when it has one of a binary or character type (the
 * raw record, handed to the kernel byte for byte: what the job's {@code events} table has), else the row itself as
 * a JSON object of its columns. A row is emitted for every anomaly (with {@code emit = all}, for every scored event)
 * and for every record the kernel refuses ({@code status = 'invalid'}, the reason in {@code dead_letter}); the
 * PARTITION BY columns come first. {@code verdict} is the kernel's verdict JSON, the line {@code packager run}
 * prints. A partition's state expires 30 days after its last event, as the job's {@code job.state_ttl_hours}
 * default. The state is restored by the call's {@code uid} argument, or the function name when there is none.
 */
@FunctionHint(output = @DataTypeHint(AnomalyDetectFunction.OUTPUT))
public final class AnomalyDetectFunction extends ProcessTableFunction<Row> {
    private static final long serialVersionUID = 1L;

    /** The name the job registers the function under. */
    public static final String NAME = "ANOMALY_DETECT";
    /** The columns after the PARTITION BY columns. */
    static final String OUTPUT = "ROW<is_anomaly BOOLEAN, status STRING, severity STRING, score DOUBLE, expected_low DOUBLE,"
            + " expected_high DOUBLE, observed DOUBLE, event_id STRING, event_timestamp BIGINT, reason STRING, anomaly_id STRING,"
            + " verdict STRING, dead_letter STRING>";
    /** The column holding the raw record, when the input has one. */
    static final String DATA_COLUMN = "data";

    /** Kernel configuration keys (a JSON object) that the call's {@code config} argument overrides. */
    private final byte[] defaults;

    /** The function with the kernel's own defaults (for {@code CREATE FUNCTION ... AS 'anomaly.job.AnomalyDetectFunction'}). */
    public AnomalyDetectFunction() {
        this("{}".getBytes(StandardCharsets.UTF_8));
    }

    /** The function with {@code defaults} (a JSON object of kernel keys, e.g. the job's `detector` group) as its base. */
    public AnomalyDetectFunction(byte[] defaults) {
        this.defaults = defaults.clone();
    }

    /** One partition's kernel state: the kernel's own bytes, as the job keeps them. */
    public static class KernelState {
        /** Null until the partition's first event. */
        public byte[] bytes;
    }

    private transient Map<String, NativeKernel> kernels;
    private transient NativeKernel.DetectResult result;
    private transient Parsed parsed;
    private transient ObjectMapper json;
    private transient String[] fieldNames;
    private transient int dataColumn;
    private transient Counter recordsIn;
    private transient Counter anomalies;
    private transient Counter invalidRecords;
    private transient Counter kernelErrors;

    @Override
    public void open(FunctionContext context) throws Exception {
        kernels = new HashMap<>();
        result = new NativeKernel.DetectResult();
        parsed = new Parsed();
        json = new ObjectMapper();
        MetricGroup metrics = JobMetrics.group(context.getMetricGroup());
        recordsIn = metrics.counter(JobMetrics.RECORDS_IN);
        anomalies = metrics.counter(JobMetrics.ANOMALIES);
        invalidRecords = metrics.counter(JobMetrics.INVALID_RECORDS);
        kernelErrors = metrics.counter(JobMetrics.KERNEL_ERRORS);
    }

    /**
     * @param input the events, partitioned by their key columns
     * @param config a JSON object of kernel configuration keys (detector-wasm/src/config.rs); the defaults when omitted
     */
    public void eval(Context ctx, @StateHint(ttl = "30 d") KernelState state,
            @ArgumentHint(value = ArgumentTrait.SET_SEMANTIC_TABLE, name = "input") Row input,
            @ArgumentHint(value = ArgumentTrait.SCALAR, name = "config", isOptional = true) String config) throws Exception {
        if (fieldNames == null) {
            describeInput(ctx);
        }
        recordsIn.inc();
        byte[] record = record(input);
        NativeKernel kernel = kernel(config);
        try {
            parsed.clear();
            kernel.parse(new byte[][] {record}, 1, parsed);
            if (parsed.deadLetter != null) {
                invalidRecords.inc();
                collect(deadLetterRow(parsed.deadLetter));
                return;
            }
            kernel.detect(state.bytes, parsed.event, result);
        } catch (KernelException e) {
            // Traps are survived inside the host; this is anything else: the record is set aside on a fresh instance.
            kernelErrors.inc();
            replaceKernel(config);
            collect(deadLetterRow(NativeKernel.deadLetter("kernel failed: " + e.getMessage(), record, false)));
            return;
        }
        if (result.deadLetter) {
            // The partition's state is unusable for this kernel; it is kept for a kernel that can read it.
            kernelErrors.inc();
            collect(deadLetterRow(result.payload));
            return;
        }
        state.bytes = result.state;
        if (result.isAnomaly()) {
            anomalies.inc();
        }
        if (result.payload != null) {
            collect(verdictRow(result.isAnomaly(), result.payload));
        }
    }

    @Override
    public void close() throws Exception {
        if (kernels != null) {
            kernels.values().forEach(NativeKernel::close);
            kernels.clear();
        }
    }

    /** The configured kernel; one per distinct config text (a query has one, unless it calls the function twice). */
    private NativeKernel kernel(String config) throws IOException {
        String key = config == null ? "" : config;
        NativeKernel kernel = kernels.get(key);
        if (kernel == null) {
            byte[] effective = merged(config);
            try {
                kernel = NativeKernel.open(KernelSource.embedded().load(), effective);
            } catch (KernelException e) {
                throw new IllegalArgumentException(NAME + ": the kernel refuses the configuration " + new String(effective, StandardCharsets.UTF_8)
                        + " (the config argument over the detector defaults): " + e.getMessage(), e);
            }
            kernels.put(key, kernel);
        }
        return kernel;
    }

    /** The defaults with the keys of the config argument (a JSON object) put over them. */
    private byte[] merged(String config) throws IOException {
        ObjectNode base = (ObjectNode) json.readTree(defaults);
        if (config != null && !config.trim().isEmpty()) {
            JsonNode given;
            try {
                given = json.readTree(config);
            } catch (IOException e) {
                throw new IllegalArgumentException(NAME + ": the config argument is not JSON (" + e.getMessage() + "); pass an object of"
                        + " kernel keys, e.g. config => '{\"threshold_multiplier\": 3}'", e);
            }
            if (given == null || !given.isObject()) {
                throw new IllegalArgumentException(NAME + ": the config argument must be a JSON object of kernel keys, got " + config);
            }
            base.setAll((ObjectNode) given);
        }
        return json.writeValueAsBytes(base);
    }

    private void replaceKernel(String config) throws IOException {
        NativeKernel old = kernels.remove(config == null ? "" : config);
        if (old != null) {
            old.close();
        }
        kernel(config);
    }

    private void describeInput(Context ctx) {
        LogicalType type = ctx.tableSemanticsFor("input").dataType().getLogicalType();
        List<String> names = type instanceof RowType ? ((RowType) type).getFieldNames() : List.of();
        fieldNames = names.toArray(new String[0]);
        dataColumn = -1;
        if (type instanceof RowType) {
            int index = names.indexOf(DATA_COLUMN);
            if (index >= 0) {
                LogicalType data = ((RowType) type).getTypeAt(index);
                if (data.is(LogicalTypeFamily.BINARY_STRING) || data.is(LogicalTypeFamily.CHARACTER_STRING)) {
                    dataColumn = index;
                }
            }
        }
    }

    /** The event's bytes: the raw record in {@code data}, else the row's columns as a JSON object. */
    private byte[] record(Row input) throws IOException {
        if (dataColumn >= 0) {
            Object data = input.getField(dataColumn);
            if (data instanceof byte[]) {
                return (byte[]) data;
            }
            return data == null ? new byte[0] : data.toString().getBytes(StandardCharsets.UTF_8);
        }
        ObjectNode object = JsonNodeFactory.instance.objectNode();
        for (int i = 0; i < fieldNames.length && i < input.getArity(); i++) {
            object.set(fieldNames[i], toJson(input.getField(i)));
        }
        return json.writeValueAsBytes(object);
    }

    /** A column value as JSON: numbers, strings, booleans as themselves; times as epoch milliseconds; rows as objects. */
    private static JsonNode toJson(Object value) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (value == null) {
            return f.nullNode();
        } else if (value instanceof Boolean) {
            return f.booleanNode((Boolean) value);
        } else if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
            return f.numberNode(((Number) value).longValue());
        } else if (value instanceof java.math.BigDecimal) {
            return f.numberNode((java.math.BigDecimal) value);
        } else if (value instanceof Number) {
            return f.numberNode(((Number) value).doubleValue());
        } else if (value instanceof Instant) {
            return f.numberNode(((Instant) value).toEpochMilli());
        } else if (value instanceof LocalDateTime) {
            return f.numberNode(((LocalDateTime) value).toInstant(ZoneOffset.UTC).toEpochMilli());
        } else if (value instanceof Row) {
            Row row = (Row) value;
            ObjectNode object = f.objectNode();
            java.util.Set<String> names = row.getFieldNames(true);
            if (names != null) {
                for (String name : names) {
                    object.set(name, toJson(row.getField(name)));
                }
            } else {
                for (int i = 0; i < row.getArity(); i++) {
                    object.set("f" + i, toJson(row.getField(i)));
                }
            }
            return object;
        } else if (value instanceof Object[]) {
            ArrayNode array = f.arrayNode();
            for (Object item : (Object[]) value) {
                array.add(toJson(item));
            }
            return array;
        }
        return f.textNode(value.toString());
    }

    private Row verdictRow(boolean isAnomaly, byte[] verdictJson) throws IOException {
        JsonNode v = json.readTree(verdictJson);
        return Row.of(isAnomaly, text(v, "status"), text(v, "severity"), number(v, "score"), number(v, "expectedLow"),
                number(v, "expectedHigh"), number(v, "value"), text(v, "eventId"),
                v.path("timestamp").isNumber() ? v.path("timestamp").asLong() : null, text(v, "reason"), text(v, "anomalyId"),
                new String(verdictJson, StandardCharsets.UTF_8), null);
    }

    private Row deadLetterRow(byte[] deadLetterJson) throws IOException {
        JsonNode d = json.readTree(deadLetterJson);
        return Row.of(false, "invalid", null, null, null, null, null, null, null, text(d, "reason"), null, null,
                new String(deadLetterJson, StandardCharsets.UTF_8));
    }

    private static String text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? null : value.asText();
    }

    private static Double number(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || !value.isNumber() ? null : value.asDouble();
    }

    /** What one parse call gave: the event blob or the dead letter. */
    private static final class Parsed implements NativeKernel.ParseResults {
        byte[] event;
        byte[] deadLetter;

        void clear() {
            event = null;
            deadLetter = null;
        }

        @Override
        public void event(int index, String key, byte[] eventBlob) {
            event = eventBlob;
        }

        @Override
        public void deadLetter(int index, byte[] json) {
            deadLetter = json;
        }
    }
}
