package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile records mixed into a stream land in the dead-letter output with a reason, every good record is still scored
 * (with {@code emit = all} each yields exactly one verdict), and the job runs to the end. Blank lines and CRLF line
 * ends in files are not records, as in {@code packager run}.
 */
class BadInputTest {
    static final int GOOD = 5_000;

    static List<byte[]> hostileRecords() {
        List<byte[]> bad = new ArrayList<>();
        bad.add(utf8("{\"userId\":\"u1\",\"amount\":"));
        bad.add(utf8("{\"userId\":\"u1\",\"amount\":\"12.50\",\"timestamp\":1700000000000}"));
        bad.add(utf8("{\"userId\":{\"id\":1},\"amount\":1,\"timestamp\":1700000000000}"));
        bad.add(utf8("{\"userId\":\"u1\",\"amount\":1,\"timestamp\":true}"));
        bad.add(utf8("{\"userId\":\"u1\",\"amount\":1e999,\"timestamp\":1700000000000}"));
        bad.add(utf8("{\"userId\":\"" + "k".repeat(300) + "\",\"amount\":1,\"timestamp\":1700000000000}"));
        bad.add(new byte[] {'{', '"', 'u', 's', 'e', 'r', 'I', 'd', '"', ':', '"', (byte) 0xc3, (byte) 0x28, '"', ',', '"', 'a', '"', ':', '1', '}'});
        bad.add(new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1, 2, 3});
        bad.add(utf8("{\"userId\":\"u1\",\"x\":" + "[".repeat(100_000) + "]".repeat(100_000) + ",\"amount\":1}"));
        bad.add(utf8("{\"userId\":\"u1\",\"padding\":\"" + "p".repeat(2 << 20) + "\",\"amount\":1,\"timestamp\":1700000000000}"));
        bad.add(utf8("\u000b"));
        bad.add(utf8("null"));
        bad.add(utf8("\"just a string\""));
        bad.add(utf8("42"));
        bad.add(utf8("{\"userId\":\"u1\",\"amount\":1,\"timestamp\":1700000000000} {\"second\":1}"));
        bad.add(utf8("{\"userId\":\"u\\u0000\",\"amount\":1,\"amount\":2,\"timestamp\":1700000000000}"));
        bad.add(new byte[] {'{', 0, 0, 0, '}'});
        return bad;
    }

    @Test
    void hostile_records_become_dead_letters_and_every_good_record_is_scored(@TempDir Path dir) throws Exception {
        List<byte[]> bad = hostileRecords();
        List<String> good = TestSupport.lines(TestSupport.generate(dir, "good", GOOD, 200, 3, 0.0).file);
        assertEquals(GOOD, good.size());
        Path events = dir.resolve("events.jsonl");
        int hostile = 0;
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(events))) {
            for (int i = 0; i < GOOD; i++) {
                out.write(utf8(good.get(i)));
                out.write(i % 2 == 0 ? "\n".getBytes(StandardCharsets.UTF_8) : "\r\n".getBytes(StandardCharsets.UTF_8));
                if (i % 300 == 0) {
                    out.write(bad.get(hostile++ % bad.size()));
                    out.write(utf8("\n  \t\n"));
                }
            }
        }
        assertTrue(hostile >= bad.size(), "every hostile record appears at least once");
        Path out = dir.resolve("out");
        String properties = "[{\"PropertyGroupId\":\"source\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + events + "\"}},"
                + "{\"PropertyGroupId\":\"anomalies\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + out.resolve("verdicts") + "\"}},"
                + "{\"PropertyGroupId\":\"dead_letters\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + out.resolve("dead") + "\"}},"
                + "{\"PropertyGroupId\":\"detector\",\"PropertyMap\":{\"emit\":\"all\",\"max_record_bytes\":\"1048576\"}},"
                + "{\"PropertyGroupId\":\"job\",\"PropertyMap\":{\"checkpoint_interval_ms\":\"1000\",\"parse_batch_size\":\"64\"}}]";
        AnomalyDetectionJob.fromProperties(ApplicationProperties.fromJson(properties)).build().run(TestSupport.env(2, 0), "bad-input");

        List<String> verdicts = TestSupport.committedLines(out.resolve("verdicts"));
        assertEquals(GOOD, verdicts.size(), "every good record yields one verdict with emit = all");
        List<String> dead = TestSupport.committedLines(out.resolve("dead"));
        assertEquals(hostile, dead.size(), "every hostile record yields one dead letter");
        ObjectMapper json = new ObjectMapper();
        boolean sawBase64 = false;
        boolean sawOversized = false;
        for (String line : dead) {
            JsonNode letter = json.readTree(line);
            assertEquals("parse", letter.path("stage").asText(), "a record's own fault is a parse-stage dead letter: " + TestSupport.abbreviate(line));
            assertFalse(letter.path("reason").asText().isEmpty(), "every dead letter says why: " + TestSupport.abbreviate(line));
            assertTrue(letter.has("raw") || letter.has("rawBase64"), "every dead letter carries the record: " + TestSupport.abbreviate(line));
            sawBase64 |= letter.has("rawBase64");
            sawOversized |= letter.path("reason").asText().contains("max_record_bytes");
        }
        assertTrue(sawBase64, "records that are not UTF-8 are carried as rawBase64");
        assertTrue(sawOversized, "the oversized record is refused for its size");
        byte[] notUtf8 = Arrays.copyOf(bad.get(7), bad.get(7).length);
        assertTrue(dead.stream().anyMatch(l -> l.contains(java.util.Base64.getEncoder().encodeToString(notUtf8))),
                "the binary record survives byte for byte");
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
