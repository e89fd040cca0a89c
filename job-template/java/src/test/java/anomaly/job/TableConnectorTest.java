package anomaly.job;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generic table-connector path (the one Kinesis takes on Managed Flink) works with connectors available here:
 * the SQL {@code filesystem} connector with {@code format = raw} gives what {@code packager run} gives, and {@code datagen}
 * into {@code blackhole} runs to the end.
 */
class TableConnectorTest {
    @Test
    void filesystem_raw_through_the_table_api_matches_the_reference(@TempDir Path dir) throws Exception {
        Path events = TestSupport.generate(dir, "events", 10_000, 100, 5, 0.02).file;
        Map<String, String> config = TestSupport.detectorConfig();
        TestSupport.Reference reference = TestSupport.reference(config, events, dir);

        Path out = dir.resolve("out");
        String properties = "[" + group("source", "filesystem", "\"path\":\"" + events + "\",\"format\":\"raw\"") + ","
                + group("anomalies", "filesystem", "\"path\":\"" + out.resolve("anomalies") + "\",\"format\":\"raw\"") + ","
                + group("dead_letters", "filesystem", "\"path\":\"" + out.resolve("dead") + "\",\"format\":\"raw\"") + ","
                + "{\"PropertyGroupId\":\"detector\",\"PropertyMap\":{\"threshold_multiplier\":\"3.0\",\"min_events\":\"10\",\"velocity\":\"true\"}},"
                + "{\"PropertyGroupId\":\"job\",\"PropertyMap\":{\"checkpoint_interval_ms\":\"1000\"}}]";
        AnomalyDetectionJob.fromProperties(ApplicationProperties.fromJson(properties)).build().run(TestSupport.env(2, 0), "table-path");

        TestSupport.assertSameMultiset(reference.anomalies, TestSupport.committedLines(out.resolve("anomalies")),
                "anomalies through the table path and the reference");
        TestSupport.assertSameMultiset(reference.deadLetters, TestSupport.canonicalDeadLetters(TestSupport.committedLines(out.resolve("dead"))),
                "dead letters through the table path and the reference");
    }

    @Test
    void datagen_into_blackhole_runs_to_the_end() throws Exception {
        String properties = "[" + group("source", "datagen", "\"number-of-rows\":\"2000\"") + ","
                + group("anomalies", "blackhole", "") + "," + group("dead_letters", "blackhole", "") + "]";
        AnomalyDetectionJob.fromProperties(ApplicationProperties.fromJson(properties)).build().run(TestSupport.env(2, 0), "datagen");
    }

    private static String group(String id, String connector, String options) {
        return "{\"PropertyGroupId\":\"" + id + "\",\"PropertyMap\":{\"connector\":\"" + connector + "\"" + (options.isEmpty() ? "" : "," + options)
                + "}}";
    }
}
