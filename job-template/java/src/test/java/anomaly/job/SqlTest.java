package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SQL form of the detector: the `sql` group runs the user's statements over the source as table {@code events},
 * with {@code ANOMALY_DETECT} (a process table function over the same kernel, state per PARTITION BY key in Flink
 * state). Over the same stream and configuration it gives exactly the anomalies and dead letters
 * {@code packager run} gives; typed columns instead of the raw record give the same verdicts; on Flink 1.20 (no
 * process table functions) the group is refused with the way out.
 */
class SqlTest {
    /** Both sinks fed from one call of the function, through a view (the planner reuses the one operator). */
    static final String STATEMENTS = "CREATE TEMPORARY VIEW verdicts AS\n"
            + "  SELECT * FROM ANOMALY_DETECT(input => TABLE events PARTITION BY userId);\n"
            + "INSERT INTO anomalies SELECT verdict FROM verdicts WHERE is_anomaly; -- one anomaly per line\n"
            + "INSERT INTO dead_letters SELECT dead_letter FROM verdicts WHERE dead_letter IS NOT NULL";

    @Test
    void anomaly_detect_over_events_gives_what_packager_run_gives(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(TestSupport.sqlSupported(), "process table functions need Flink 2.1+");
        TestSupport.Generated generated = TestSupport.generate(dir, "events", 20_000, 300, 17, 0.01);
        Map<String, String> config = TestSupport.detectorConfig();
        TestSupport.Reference reference = TestSupport.reference(config, generated.file, dir);

        Path out = dir.resolve("out");
        AnomalyDetectionJob.fromProperties(ApplicationProperties.fromJson(properties(generated.file, out, config, STATEMENTS)))
                .build()
                .run(TestSupport.env(2, 0), "sql");

        assertTrue(reference.anomalies.size() > 100, "the stream should raise anomalies, got " + reference.anomalies.size());
        TestSupport.assertMatchesReference(reference, out.resolve("anomalies"), out.resolve("dead"), "ANOMALY_DETECT");
    }

    @Test
    void typed_columns_and_a_config_argument_give_the_same_verdicts_as_the_raw_record(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(TestSupport.sqlSupported(), "process table functions need Flink 2.1+");
        TestSupport.Generated generated = TestSupport.generate(dir, "events", 8_000, 100, 23, 0.0);
        // The config argument overrides the detector group's threshold: the reference runs with the override.
        Map<String, String> config = TestSupport.detectorConfig();
        Map<String, String> overridden = new TreeMap<>(config);
        overridden.put("threshold_multiplier", "2.5");
        TestSupport.Reference reference = TestSupport.reference(overridden, generated.file, dir);

        // A table of typed columns, as a JSON-format source would give; the function turns each row back into JSON.
        String statements = "CREATE TEMPORARY VIEW typed AS SELECT userId,\n"
                + "  CAST(JSON_VALUE(CAST(data AS STRING), '$.amount') AS DOUBLE) AS amount,\n"
                + "  CAST(JSON_VALUE(CAST(data AS STRING), '$.timestamp') AS BIGINT) AS `timestamp`,\n"
                + "  JSON_VALUE(CAST(data AS STRING), '$.transactionId') AS transactionId,\n"
                + "  JSON_VALUE(CAST(data AS STRING), '$.merchantId') AS merchantId,\n"
                + "  JSON_VALUE(CAST(data AS STRING), '$.label') AS label\n"
                + "  FROM events;\n"
                + "SELECT verdict FROM ANOMALY_DETECT(input => TABLE typed PARTITION BY userId, config => '{\"threshold_multiplier\": 2.5}')"
                + " WHERE is_anomaly";
        Path out = dir.resolve("out");
        AnomalyDetectionJob.fromProperties(ApplicationProperties.fromJson(properties(generated.file, out, config, statements)))
                .build()
                .run(TestSupport.env(2, 0), "sql-typed");

        List<String> anomalies = TestSupport.committedLines(out.resolve("anomalies"));
        assertTrue(reference.anomalies.size() > 50, "the stream should raise anomalies, got " + reference.anomalies.size());
        TestSupport.assertSameMultiset(reference.anomalies, anomalies, "anomalies of ANOMALY_DETECT over typed columns and packager run");
        ObjectMapper json = new ObjectMapper();
        List<Double> thresholds = anomalies.stream().map(l -> {
            try {
                return json.readTree(l).path("detector").path("thresholdMultiplier").asDouble();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }).distinct().collect(Collectors.toList());
        assertEquals(List.of(2.5), thresholds, "the config argument overrides the detector group");
    }

    @Test
    void the_sql_group_is_refused_on_flink_1_20_with_the_way_out(@TempDir Path dir) throws Exception {
        Assumptions.assumeFalse(TestSupport.sqlSupported(), "this build has process table functions");
        Path events = TestSupport.generate(dir, "events", 100, 5, 1, 0.0).file;
        AnomalyDetectionJob job = AnomalyDetectionJob.fromProperties(
                ApplicationProperties.fromJson(properties(events, dir.resolve("out"), TestSupport.detectorConfig(), STATEMENTS))).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> job.run(TestSupport.env(1, 0), "sql-1.20"));
        assertTrue(e.getMessage().contains("Flink 2.2") && e.getMessage().contains("--flink-version 2.2"), e.getMessage());
    }

    @Test
    void statements_are_split_on_their_own_semicolons_only() {
        List<SqlScript.Statement> statements = SqlScript.parse("-- a comment; not a statement\n"
                + "CREATE TEMPORARY VIEW v AS SELECT ';' AS s, `a;b` FROM events /* ; */;\n\n"
                + "insert into `anomalies` SELECT 'it''s; fine' FROM v;\n;  \n"
                + "SELECT 1");
        assertEquals(List.of(SqlScript.Kind.OTHER, SqlScript.Kind.INSERT, SqlScript.Kind.QUERY),
                statements.stream().map(s -> s.kind).collect(Collectors.toList()));
        assertTrue(statements.get(0).text.contains("';' AS s, `a;b`"), statements.get(0).text);
        assertEquals("anomalies", statements.get(1).target());
        assertTrue(statements.get(1).text.endsWith("'it''s; fine' FROM v"), statements.get(1).text);
        IllegalArgumentException open = assertThrows(IllegalArgumentException.class, () -> SqlScript.parse("SELECT 'oops"));
        assertTrue(open.getMessage().contains("never closed"), open.getMessage());
        IllegalArgumentException nothing = assertThrows(IllegalArgumentException.class,
                () -> SqlPipeline.of("CREATE TEMPORARY VIEW v AS SELECT * FROM events"));
        assertTrue(nothing.getMessage().contains("writes nothing"), nothing.getMessage());
    }

    /** File source, file sinks (the filesystem SQL connector in the SQL form), the detector group and the SQL. */
    static String properties(Path events, Path out, Map<String, String> detector, String sql) throws Exception {
        return properties(events, out, detector, sql, Map.of("checkpoint_interval_ms", "1000"));
    }

    /** The same with this `job` group (none when empty). */
    static String properties(Path events, Path out, Map<String, String> detector, String sql, Map<String, String> job) throws Exception {
        ObjectMapper json = new ObjectMapper();
        return "[" + group("source", Map.of("connector", "file", "path", events.toString())) + ","
                + group("anomalies", Map.of("connector", "file", "path", out.resolve("anomalies").toString())) + ","
                + group("dead_letters", Map.of("connector", "file", "path", out.resolve("dead").toString())) + ","
                + group("detector", detector) + ","
                + (job.isEmpty() ? "" : group("job", job) + ",")
                + "{\"PropertyGroupId\":\"sql\",\"PropertyMap\":{\"statement\":" + json.writeValueAsString(sql) + "}}]";
    }

    private static String group(String id, Map<String, String> map) throws Exception {
        return "{\"PropertyGroupId\":\"" + id + "\",\"PropertyMap\":" + new ObjectMapper().writeValueAsString(map) + "}";
    }
}
