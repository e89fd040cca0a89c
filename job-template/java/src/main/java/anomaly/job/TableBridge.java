package anomaly.job;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.flink.api.dag.Transformation;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.transformations.PartitionTransformation;
import org.apache.flink.streaming.api.transformations.SideOutputTransformation;
import org.apache.flink.streaming.api.transformations.UnionTransformation;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.TableDescriptor;
import org.apache.flink.table.api.bridge.java.StreamStatementSet;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * The Table API side of one job, created only when a table connector or the `sql` group is used (the planner costs
 * seconds to start). Table sinks and SQL inserts are collected into one statement set and attached to the DataStream
 * job, so the whole pipeline runs as a single Flink job.
 *
 * <p><b>Savepoint-stable uids without configuration.</b> The planner gives its operators no uids (Flink's default
 * {@code table.exec.uid.generation = PLAN_ONLY}), so their state (a Kinesis source's shard positions, a sink's
 * buffered requests) would be restored only as long as Flink's topology hash happens to match. The job may not set
 * {@code table.exec.uid.generation} itself: Managed Flink rejects any configuration a job changes in code. Instead,
 * once translated, every operator the planner made gets a uid from where it sits: the property group (or SQL
 * insert) it serves, the kind of operator (the first word of its name) and a counter, e.g.
 * {@code source-table-source}, {@code anomalies-table-sink}. Process table functions keep the uid Flink gives them
 * (their {@code uid} argument, else the function name).
 */
public final class TableBridge {
    private final StreamExecutionEnvironment env;
    private StreamTableEnvironment tableEnv;
    private StreamStatementSet inserts;
    /** What each insert of {@link #inserts} serves, in the order they were added: the prefix of its uids. */
    private final List<String> insertNames = new ArrayList<>();
    /** Transformations of the DataStream job handed to the planner: the walk that names planner operators stops there. */
    private final Set<Integer> boundary = new HashSet<>();

    TableBridge(StreamExecutionEnvironment env) {
        this.env = env;
    }

    /** The table environment, created on first use. */
    public StreamTableEnvironment tableEnv() {
        if (tableEnv == null) {
            tableEnv = StreamTableEnvironment.create(env);
        }
        return tableEnv;
    }

    /** The rows of {@code table} as a DataStream; the planner's operators get uids named after {@code name}. */
    public DataStream<Row> toStream(String name, Table table) {
        DataStream<Row> stream = tableEnv().toDataStream(table);
        nameUids(stream.getTransformation(), name);
        return stream;
    }

    /** A table over {@code stream}, which keeps its own uids. */
    public <T> Table fromStream(DataStream<T> stream, Schema schema) {
        collect(stream.getTransformation(), boundary);
        return tableEnv().fromDataStream(stream, schema);
    }

    /** Adds an insert of {@code table} into {@code sink} to the job; {@code name} (the property group) names its uids. */
    public void insert(String name, TableDescriptor sink, Table table) {
        collect(statementSet(), name).add(table.insertInto(sink));
    }

    /** Adds an insert of {@code table} into the registered table {@code target}. */
    public void insert(String name, String target, Table table) {
        collect(statementSet(), name).add(table.insertInto(target));
    }

    /** Adds an {@code INSERT INTO ...} statement to the job; {@code name} names its uids. */
    public void insertSql(String name, String statement) {
        collect(statementSet(), name).addInsertSql(statement);
    }

    private StreamStatementSet statementSet() {
        if (inserts == null) {
            inserts = tableEnv().createStatementSet();
        }
        return inserts;
    }

    private StreamStatementSet collect(StreamStatementSet set, String name) {
        insertNames.add(name);
        return set;
    }

    /** Attaches every table insert to the DataStream job; call once, after the whole pipeline is defined. */
    void attach() {
        if (inserts == null) {
            return;
        }
        int before = env.getTransformations().size();
        inserts.attachAsDataStream();
        inserts = null;
        List<Transformation<?>> added = env.getTransformations().subList(before, env.getTransformations().size());
        for (int i = 0; i < added.size(); i++) {
            // One sink per insert, in the order they were added; a planner that merged or split them still gets unique uids.
            String name = added.size() == insertNames.size() ? insertNames.get(i) : "table-insert-" + (i + 1);
            nameUids(added.get(i), name);
        }
        insertNames.clear();
    }

    /** Gives every operator the planner made under {@code root} a uid: {@code <name>-table-<kind>[-<n>]}. */
    private void nameUids(Transformation<?> root, String name) {
        Map<String, Integer> counts = new HashMap<>();
        Set<Integer> seen = new HashSet<>();
        List<Transformation<?>> pending = new ArrayList<>(List.of(root));
        while (!pending.isEmpty()) {
            Transformation<?> t = pending.remove(0);
            if (!seen.add(t.getId()) || boundary.contains(t.getId())) {
                continue;
            }
            if (t.getUid() == null && !isVirtual(t)) {
                String kind = kind(t.getName());
                int n = counts.merge(kind, 1, Integer::sum);
                t.setUid(name + "-table-" + kind + (n == 1 ? "" : "-" + n));
            }
            pending.addAll(t.getInputs());
        }
    }

    /** Transformations that become no operator of their own (and so carry no state and take no uid). */
    private static boolean isVirtual(Transformation<?> t) {
        return t instanceof UnionTransformation || t instanceof SideOutputTransformation || t instanceof PartitionTransformation;
    }

    /** The operator's kind: the first word of its name, lowercase ({@code Source: *anonymous_kinesis$1*} → source). */
    static String kind(String operatorName) {
        StringBuilder kind = new StringBuilder();
        for (char c : operatorName.toCharArray()) {
            if (!Character.isLetterOrDigit(c)) {
                if (kind.length() > 0) {
                    break;
                }
                continue;
            }
            kind.append(Character.toLowerCase(c));
        }
        return kind.length() == 0 ? "operator" : kind.toString().toLowerCase(Locale.ROOT);
    }

    private static void collect(Transformation<?> t, Set<Integer> into) {
        if (into.add(t.getId())) {
            for (Transformation<?> input : t.getInputs()) {
                collect(input, into);
            }
        }
    }
}
