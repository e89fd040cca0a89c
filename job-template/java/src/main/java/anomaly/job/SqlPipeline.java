package anomaly.job;

import static org.apache.flink.table.api.Expressions.$;
import static org.apache.flink.table.api.Expressions.callSql;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.table.expressions.Expression;

/**
 * The `sql` property group: instead of the fixed pipeline, the job runs the user's SQL (the migration path from
 * Kinesis Data Analytics SQL). The statements see:
 *
 * <ul>
 *   <li>{@code events}: the source, one row per record: {@code data BYTES} (the raw record) and one STRING column
 *       per key field of the {@code detector} group ({@code userId} by default), read from the record's JSON;
 *   <li>{@code anomalies} and {@code dead_letters}: the sinks of those groups, one column {@code data STRING};
 *   <li>{@code ANOMALY_DETECT}: the kernel as a process table function; the {@code detector} group is its default
 *       configuration, the call's {@code config} argument overrides keys of it.
 * </ul>
 *
 * <p>{@code INSERT} statements become the job (all of them, as one statement set); a bare query ({@code SELECT ...})
 * is written to {@code anomalies}; any other statement ({@code CREATE TEMPORARY VIEW ...}) runs first.
 */
final class SqlPipeline implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The property group. */
    static final String GROUP = "sql";
    /** The SQL text: one or more statements separated by semicolons. */
    static final String STATEMENT = "statement";
    static final List<String> KEYS = Arrays.asList(STATEMENT);
    /** The tables the statements use. */
    static final String EVENTS = "events";

    private final String script;

    private SqlPipeline(String script) {
        this.script = script;
    }

    /** Reads the `sql` group; unknown keys are refused, the statements checked for what can be checked before the job. */
    static SqlPipeline from(Map<String, String> group) {
        for (String key : group.keySet()) {
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException("unknown property sql." + key + "; the sql group knows " + String.join(", ", KEYS));
            }
        }
        String script = group.get(STATEMENT);
        if (script == null || script.trim().isEmpty()) {
            throw new IllegalArgumentException("property sql.statement is missing; set it to the SQL the job runs, e.g. INSERT INTO anomalies"
                    + " SELECT verdict FROM ANOMALY_DETECT(input => TABLE events PARTITION BY userId) WHERE is_anomaly");
        }
        SqlPipeline pipeline = new SqlPipeline(script);
        if (pipeline.statements().stream().noneMatch(s -> s.kind != SqlScript.Kind.OTHER)) {
            throw new IllegalArgumentException("property sql.statement writes nothing: it needs an INSERT INTO anomalies ... (or a"
                    + " SELECT, whose rows go to anomalies)");
        }
        return pipeline;
    }

    /** A pipeline running {@code script}. */
    static SqlPipeline of(String script) {
        return from(Map.of(STATEMENT, script));
    }

    List<SqlScript.Statement> statements() {
        return SqlScript.parse(script);
    }

    /**
     * Defines the SQL job on {@code env}: the source as {@code events}, the sinks as tables, the function, then the
     * statements.
     *
     * @param keyFields the kernel's key fields (columns of {@code events})
     * @param sinks table name → the table a sink group stands for
     */
    void define(StreamExecutionEnvironment env, TableBridge tables, DataStream<byte[]> source, List<String> keyFields,
            Map<String, TableDescriptor> sinks, byte[] detectorConfig) {
        StreamTableEnvironment tableEnv = tables.tableEnv();
        FlinkRuntime.registerSqlFunctions(tableEnv, detectorConfig);
        Table raw = tables.fromStream(source, Schema.newBuilder().column("f0", DataTypes.BYTES()).build());
        List<Expression> columns = new ArrayList<>();
        columns.add($("f0").as("data"));
        for (String field : keyFields) {
            // Bracket notation, so a field name with a dot is one field, as the kernel reads it.
            String path = "$['" + field.replace("\\", "\\\\").replace("'", "\\'") + "']";
            columns.add(callSql("JSON_VALUE(CAST(f0 AS STRING), '" + path.replace("'", "''") + "')").as(field));
        }
        tableEnv.createTemporaryView(EVENTS, raw.select(columns.toArray(new Expression[0])));
        sinks.forEach(tableEnv::createTemporaryTable);

        int index = 0;
        for (SqlScript.Statement statement : statements()) {
            index++;
            switch (statement.kind) {
                case INSERT:
                    String target = statement.target();
                    tables.insertSql(target != null ? target : "sql-" + index, statement.text);
                    break;
                case QUERY:
                    tables.insert(AnomalyDetectionJob.GROUP_ANOMALIES, AnomalyDetectionJob.GROUP_ANOMALIES, tableEnv.sqlQuery(statement.text));
                    break;
                default:
                    tableEnv.executeSql(statement.text);
            }
        }
    }
}
