package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/**
 * The property table in job-template/README.md is what users configure the job from, so it must list exactly the keys
 * the code reads (the file connector's, the job group's, and every kernel config key) with the defaults the code uses.
 * Connector options passed through to a Flink SQL connector are documented as examples and marked so.
 */
class PropertiesDocTest {
    private static final String PASSED_THROUGH = "(passed through)";

    /** (group, key) → default cell, from the README table. */
    private static Map<String, String> documented() throws Exception {
        List<String> lines = Files.readAllLines(TestSupport.repo().resolve("job-template/README.md"), StandardCharsets.UTF_8);
        Map<String, String> rows = new LinkedHashMap<>();
        boolean inTable = false;
        for (String line : lines) {
            if (line.startsWith("| Group | Key | Default | Meaning |")) {
                inTable = true;
                continue;
            }
            if (!inTable || line.startsWith("|---")) {
                continue;
            }
            if (!line.startsWith("|")) {
                break;
            }
            String[] cells = line.split("\\|");
            assertTrue(cells.length >= 5, "a property row needs group, key, default and meaning: " + line);
            String id = unquote(cells[1]) + "." + unquote(cells[2]);
            assertTrue(rows.put(id, unquote(cells[3])) == null, "property " + id + " is documented twice");
        }
        assertTrue(rows.size() > 20, "the README's property table was not found or is nearly empty: " + rows.keySet());
        return rows;
    }

    private static String unquote(String cell) {
        return cell.trim().replace("`", "");
    }

    @Test
    void the_readme_table_lists_every_key_the_code_reads_with_its_default() throws Exception {
        Map<String, String> documented = documented();

        Map<String, String> expected = new TreeMap<>();
        for (String key : Connectors.FILE_SOURCE_KEYS) {
            expected.put(AnomalyDetectionJob.GROUP_SOURCE + "." + key, null);
        }
        for (String group : new String[] {AnomalyDetectionJob.GROUP_ANOMALIES, AnomalyDetectionJob.GROUP_DEAD_LETTERS}) {
            for (String key : Connectors.FILE_SINK_KEYS) {
                expected.put(group + "." + key, null);
            }
        }
        expected.put(AnomalyDetectionJob.GROUP_SOURCE + "." + Connectors.MAX_LINE_BYTES, Long.toString(Connectors.DEFAULT_MAX_LINE_BYTES));

        for (String key : SqlPipeline.KEYS) {
            expected.put(SqlPipeline.GROUP + "." + key, null);
        }
        for (String key : JobSettings.KEYS) {
            expected.put(AnomalyDetectionJob.GROUP_JOB + "." + key, null);
        }
        expected.put("job." + JobSettings.STATE_TTL_HOURS, Long.toString(JobSettings.DEFAULT_STATE_TTL_HOURS));
        expected.put("job." + JobSettings.PARSE_BATCH_SIZE, Integer.toString(JobSettings.DEFAULT_PARSE_BATCH_SIZE));
        expected.put("job." + JobSettings.PARSE_BATCH_BYTES, Long.toString(JobSettings.DEFAULT_PARSE_BATCH_BYTES));
        expected.put("job." + JobSettings.PARSE_FLUSH_INTERVAL_MS, Long.toString(JobSettings.DEFAULT_PARSE_FLUSH_INTERVAL_MS));
        expected.put("job." + JobSettings.STATE_CACHE_KEYS, Integer.toString(JobSettings.DEFAULT_STATE_CACHE_KEYS));

        // The kernel itself says which keys it has and what they default to.
        JsonNode effective;
        try (NativeKernel kernel = NativeKernel.open(TestSupport.embeddedKernel(), "{}".getBytes(StandardCharsets.UTF_8))) {
            effective = new ObjectMapper().readTree(kernel.describe()).get("effectiveConfig");
        }
        assertTrue(effective != null && effective.size() > 10, "the kernel should describe its effective config: " + effective);
        for (Iterator<Map.Entry<String, JsonNode>> it = effective.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            expected.put(AnomalyDetectionJob.GROUP_DETECTOR + "." + entry.getKey(), entry.getValue().asText());
        }

        TreeSet<String> documentedKeys = new TreeSet<>();
        List<String> wrongDefaults = new ArrayList<>();
        for (Map.Entry<String, String> row : documented.entrySet()) {
            if (row.getValue().equals(PASSED_THROUGH)) {
                assertTrue(!expected.containsKey(row.getKey()), row.getKey() + " is read by the job, not passed through");
                continue;
            }
            documentedKeys.add(row.getKey());
            String want = expected.get(row.getKey());
            if (want != null && !want.equals(row.getValue())) {
                wrongDefaults.add(row.getKey() + ": README says " + row.getValue() + ", code says " + want);
            }
        }
        assertEquals(new TreeSet<>(expected.keySet()), documentedKeys, "keys in job-template/README.md vs the code");
        assertEquals(List.of(), wrongDefaults, "defaults in job-template/README.md vs the code");
    }
}
