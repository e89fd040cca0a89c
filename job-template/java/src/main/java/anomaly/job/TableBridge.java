package anomaly.job;

import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.bridge.java.StreamStatementSet;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;

/**
 * The Table API side of one job, created only when a table connector is configured (the planner costs seconds to
 * start). Table sinks are collected into one statement set and attached to the DataStream job, so the whole pipeline
 * runs as a single Flink job.
 */
public final class TableBridge {
    private final StreamExecutionEnvironment env;
    private StreamTableEnvironment tableEnv;
    private StreamStatementSet inserts;

    TableBridge(StreamExecutionEnvironment env) {
        this.env = env;
    }

    /** The table environment, created on first use. */
    public StreamTableEnvironment tableEnv() {
        if (tableEnv == null) {
            tableEnv = StreamTableEnvironment.create(env);
            // Planner-generated operators (the Kinesis source and its shard offsets) get uids too, so a savepoint
            // restores them as long as the pipeline keeps its shape.
            tableEnv.getConfig().set("table.exec.uid.generation", "ALWAYS");
        }
        return tableEnv;
    }

    /** Adds an insert of {@code table} into {@code sink} to the job. */
    public void insert(TableDescriptor sink, Table table) {
        if (inserts == null) {
            inserts = tableEnv().createStatementSet();
        }
        inserts.add(table.insertInto(sink));
    }

    /** Attaches every table insert to the DataStream job; call once, after the whole pipeline is defined. */
    void attach() {
        if (inserts != null) {
            inserts.attachAsDataStream();
            inserts = null;
        }
    }
}
