package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.flink.client.deployment.executors.LocalExecutor;
import org.apache.flink.client.program.StreamContextEnvironment;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.DeploymentOptions;
import org.apache.flink.core.execution.DefaultExecutorServiceLoader;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.ExceptionUtils;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job started the way Managed Flink starts it: {@code main} runs on a context environment made from the cluster's
 * configuration, which forbids the job to change any configuration in code except the options AWS lists
 * (`execution.program-config.enabled: false` with those options as wildcards; on FLINK-2_2 a change fails the
 * start). The table-connector path (Kinesis's) and the SQL form run there and give the reference output, and the only
 * changes they make are the ones Flink's planner makes for every Table API job, so the job sets nothing it may not;
 * `job.parallelism` is refused before Flink would, with the setting that replaces it; and the control: the same
 * cluster refuses a job that sets a table option in code, as the Table bridge used to ({@code table.exec.uid.generation}).
 */
class ServiceConfigurationTest {
    /** What a job may still set in code on Managed Flink 2.2 (AWS docs: "Programmatic Flink configuration properties"). */
    static final List<String> ALLOWED = Arrays.asList("execution.runtime-mode", "pipeline.auto-generate-uids",
            "pipeline.auto-watermark-interval", "pipeline.cached-files", "pipeline.classpaths", "pipeline.closure-cleaner-level",
            "pipeline.force-avro", "pipeline.force-kryo", "pipeline.generic-types", "pipeline.global-job-parameters", "pipeline.jars",
            "pipeline.jobvertex-parallelism-overrides", "pipeline.max-parallelism", "pipeline.name", "pipeline.object-reuse",
            "pipeline.operator-chaining.chain-operators-with-different-max-parallelism", "pipeline.operator-chaining.enabled",
            "pipeline.serialization-config", "pipeline.vertex-description-mode", "pipeline.vertex-name-include-index-prefix",
            "pipeline.watermark-alignment.allow-unaligned-source-splits", "execution.checkpointing.interval-during-backlog",
            "execution.checkpointing.unaligned", "taskmanager.network.adaptive-partitioner.enabled",
            "taskmanager.network.adaptive-partitioner.max-traverse-size");

    /**
     * What Flink's own planner writes into the job's configuration whenever a job uses the Table API (the query's start
     * time and database, and mini-batching off). Every Table API or SQL job writes these, so the service, which runs
     * such jobs, must allow them (AWS's list has a Table API/SQL section these may belong to): the tests allow them
     * and check that they are all the job changes.
     */
    static final List<String> PLANNER_WRITES = Arrays.asList("__table.query-start.current-database__", "__table.query-start.epoch-time__",
            "__table.query-start.local-time__", "table.exec.mini-batch.enabled");

    /** A cluster configured as Managed Flink configures one (checkpoints more often, to keep the test short). */
    static Configuration service() {
        List<String> allowed = new ArrayList<>(ALLOWED);
        allowed.addAll(PLANNER_WRITES);
        return service(allowed);
    }

    /** The same with only {@code allowed} settable in code. */
    static Configuration service(List<String> allowed) {
        Configuration c = new Configuration();
        c.set(DeploymentOptions.TARGET, LocalExecutor.NAME);
        c.set(DeploymentOptions.ATTACHED, true);
        c.set(DeploymentOptions.PROGRAM_CONFIG_ENABLED, false);
        c.set(DeploymentOptions.PROGRAM_CONFIG_WILDCARDS, allowed);
        c.set(CoreOptions.DEFAULT_PARALLELISM, 2);
        c.setString("execution.checkpointing.interval", "1 s");
        c.setString("execution.checkpointing.min-pause", "500 ms");
        c.setString("state.backend.type", "rocksdb");
        c.setString("restart-strategy.type", "none");
        return c;
    }

    /** Runs {@code body} with the service's context environment in place, as the service runs a job's main. */
    static void asService(Configuration cluster, ThrowingRunnable body) throws Exception {
        StreamContextEnvironment.setAsContext(new DefaultExecutorServiceLoader(), cluster, Thread.currentThread().getContextClassLoader(),
                true, true);
        try {
            body.run();
        } finally {
            StreamContextEnvironment.unsetAsContext();
        }
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void the_table_connector_path_runs_on_the_locked_configuration_and_gives_the_reference(@TempDir Path dir) throws Exception {
        Path events = TestSupport.generate(dir, "events", 6_000, 80, 29, 0.02).file;
        TestSupport.Reference reference = TestSupport.reference(TestSupport.detectorConfig(), events, dir);
        Path out = dir.resolve("out");
        Path properties = write(dir, "[" + table("source", events) + "," + table("anomalies", out.resolve("anomalies")) + ","
                + table("dead_letters", out.resolve("dead")) + "," + detector() + "]");

        // With only what AWS lists allowed, what is refused is what the planner writes, nothing the job set.
        Exception refused = assertThrows(Exception.class,
                () -> asService(service(ALLOWED), () -> AnomalyDetectionJob.main(new String[] {"--properties", properties.toString()})));
        assertOnlyPlannerWrites(refused);

        asService(service(), () -> AnomalyDetectionJob.main(new String[] {"--properties", properties.toString()}));

        TestSupport.assertMatchesReference(reference, out.resolve("anomalies"), out.resolve("dead"), "the job started as the service starts it");
    }

    @Test
    void the_sql_form_runs_on_the_locked_configuration_and_gives_the_reference(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(TestSupport.sqlSupported(), "process table functions need Flink 2.1+");
        Path events = TestSupport.generate(dir, "events", 6_000, 80, 31, 0.02).file;
        TestSupport.Reference reference = TestSupport.reference(TestSupport.detectorConfig(), events, dir);
        Path out = dir.resolve("out");
        // No job group: on the service the cluster checkpoints.
        Path properties = write(dir, SqlTest.properties(events, out, TestSupport.detectorConfig(), SqlTest.STATEMENTS, Map.of()));
        Exception refused = assertThrows(Exception.class,
                () -> asService(service(ALLOWED), () -> AnomalyDetectionJob.main(new String[] {"--properties", properties.toString()})));
        assertOnlyPlannerWrites(refused);

        asService(service(), () -> AnomalyDetectionJob.main(new String[] {"--properties", properties.toString()}));

        TestSupport.assertMatchesReference(reference, out.resolve("anomalies"), out.resolve("dead"), "the SQL form started as the service starts it");
    }

    @Test
    void job_parallelism_is_refused_there_with_the_application_setting_that_replaces_it(@TempDir Path dir) throws Exception {
        Path events = TestSupport.generate(dir, "events", 100, 5, 1, 0.0).file;
        Path properties = write(dir, "[" + file("source", events) + "," + file("anomalies", dir.resolve("a")) + "," + file("dead_letters", dir.resolve("d"))
                + ",{\"PropertyGroupId\":\"job\",\"PropertyMap\":{\"parallelism\":\"2\"}}]");
        Exception e = assertThrows(Exception.class,
                () -> asService(service(), () -> AnomalyDetectionJob.main(new String[] {"--properties", properties.toString()})));
        String message = ExceptionUtils.stringifyException(e);
        assertTrue(message.contains("job.parallelism") && message.contains("packager deploy --parallelism"), message);
    }

    @Test
    void control_the_locked_configuration_refuses_a_table_option_set_in_code(@TempDir Path dir) throws Exception {
        Path events = TestSupport.generate(dir, "events", 100, 5, 1, 0.0).file;
        RecordSource file = Connectors.fileSource(events.toString(), (int) Connectors.DEFAULT_MAX_LINE_BYTES, null);
        AnomalyDetectionJob job = AnomalyDetectionJob.builder()
                .source((env, tables) -> {
                    // What the Table bridge did before: savepoint-stable uids for planner operators, set in code.
                    tables.tableEnv().getConfig().set("table.exec.uid.generation", "ALWAYS");
                    return file.create(env, tables);
                })
                .anomalies(Connectors.sink("anomalies", Map.of("connector", "blackhole")))
                .deadLetters(Connectors.sink("dead_letters", Map.of("connector", "blackhole")))
                .build();
        Exception e = assertThrows(Exception.class,
                () -> asService(service(), () -> job.run(StreamExecutionEnvironment.getExecutionEnvironment(), "control")));
        String message = ExceptionUtils.stringifyException(e);
        assertTrue(message.contains("Not allowed configuration change") && message.contains("table.exec.uid.generation"), message);
    }

    /** The refusal lists changes, and every one of them is one the planner writes. */
    private static void assertOnlyPlannerWrites(Exception refused) {
        String message = ExceptionUtils.stringifyException(refused);
        List<String> changes = message.lines().map(String::trim).filter(l -> l.startsWith("- ")).collect(Collectors.toList());
        assertTrue(message.contains("Not allowed configuration change") && !changes.isEmpty(), message);
        for (String change : changes) {
            assertTrue(PLANNER_WRITES.stream().anyMatch(change::contains), "the job changed configuration itself: " + change);
        }
    }

    private static Path write(Path dir, String json) throws Exception {
        Path file = dir.resolve("application_properties.json");
        Files.write(file, json.getBytes(StandardCharsets.UTF_8));
        return file;
    }

    private static String table(String id, Path path) {
        return "{\"PropertyGroupId\":\"" + id + "\",\"PropertyMap\":{\"connector\":\"filesystem\",\"path\":\"" + path + "\",\"format\":\"raw\"}}";
    }

    private static String file(String id, Path path) {
        return "{\"PropertyGroupId\":\"" + id + "\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + path + "\"}}";
    }

    private static String detector() {
        return "{\"PropertyGroupId\":\"detector\",\"PropertyMap\":{\"threshold_multiplier\":\"3.0\",\"min_events\":\"10\",\"velocity\":\"true\"}}";
    }
}
