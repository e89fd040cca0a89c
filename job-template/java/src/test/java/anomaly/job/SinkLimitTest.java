package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kinesis sink refuses a record over 1 MiB by failing the job; the job restarts from its checkpoint, meets the same
 * input record again, and fails again: a loop that stops all detection. A dead letter embeds the record it refuses and
 * used to be larger than it (escaping, base64). Here both sinks refuse what Kinesis refuses, the two records that
 * looped the job are fed among good ones, and the job must run to the end without a single failure (no restarts are
 * allowed), with one dead letter each that still names its whole record (length and SHA-256).
 */
class SinkLimitTest {
    /** What a Kinesis data record may hold (the connector's maxRecordSizeInBytes). */
    static final int KINESIS_RECORD_LIMIT = 1 << 20;
    static final int GOOD = 400;

    /** Fails like the Kinesis sink's writer does on a record over the limit. */
    static final class RefuseOversized implements MapFunction<byte[], byte[]> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] map(byte[] record) {
            if (record.length > KINESIS_RECORD_LIMIT) {
                throw new IllegalArgumentException("The request entry sent to the buffer was of size [" + record.length
                        + "], when the maxRecordSizeInBytes was set to [" + KINESIS_RECORD_LIMIT + "].");
            }
            return record;
        }
    }

    static RecordSink kinesisLike(Path dir) {
        RecordSink files = Connectors.fileSink(dir.toString());
        return (records, name, tables) -> files.write(
                records.map(new RefuseOversized()).returns(PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO).name(name + ": 1 MiB limit"),
                name, tables);
    }

    @Test
    void records_whose_dead_letters_outgrew_the_sink_no_longer_stop_the_job(@TempDir Path dir) throws Exception {
        byte[] escaped = new byte[600_011];
        Arrays.fill(escaped, (byte) 1);
        System.arraycopy("{\"userId\":\"".getBytes(StandardCharsets.UTF_8), 0, escaped, 0, 11);
        byte[] binary = new byte[800_000];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) (0x80 | (i % 64));
        }
        List<byte[]> hostile = List.of(escaped, binary);

        List<String> good = TestSupport.lines(TestSupport.generate(dir, "good", GOOD, 20, 5, 0.0).file);
        Path events = dir.resolve("events.jsonl");
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(events))) {
            for (int i = 0; i < good.size(); i++) {
                out.write(good.get(i).getBytes(StandardCharsets.UTF_8));
                out.write('\n');
                if (i == GOOD / 3 || i == 2 * GOOD / 3) {
                    out.write(hostile.get(i == GOOD / 3 ? 0 : 1));
                    out.write('\n');
                }
            }
        }

        Path out = dir.resolve("out");
        AnomalyDetectionJob.builder()
                .source(Connectors.fileSource(events.toString(), (int) Connectors.DEFAULT_MAX_LINE_BYTES, null))
                .anomalies(kinesisLike(out.resolve("verdicts")))
                .deadLetters(kinesisLike(out.resolve("dead")))
                .detectorConfig(java.util.Map.of("emit", "all"))
                .settings(TestSupport.settings(1_000))
                .build()
                .run(TestSupport.env(2, 0), "sink-limit");

        assertEquals(GOOD, TestSupport.committedLines(out.resolve("verdicts")).size(), "every good record is scored");
        List<String> dead = TestSupport.committedLines(out.resolve("dead"));
        assertEquals(2, dead.size(), "one dead letter per hostile record");
        ObjectMapper json = new ObjectMapper();
        for (String line : dead) {
            assertTrue(line.getBytes(StandardCharsets.UTF_8).length <= 256 * 1024, "a dead letter of " + line.length() + " characters");
            JsonNode letter = json.readTree(line);
            byte[] raw = letter.has("rawBase64") ? binary : escaped;
            assertEquals("parse", letter.path("stage").asText(), TestSupport.abbreviate(line));
            assertTrue(letter.path("truncated").asBoolean(), "the embedded record is cut: " + TestSupport.abbreviate(line));
            assertEquals(raw.length, letter.path("rawBytes").asLong(), "the dead letter gives the whole record's length");
            assertEquals(hex(MessageDigest.getInstance("SHA-256").digest(raw)), letter.path("rawSha256").asText(),
                    "the dead letter gives the whole record's SHA-256");
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            s.append(String.format("%02x", b & 0xff));
        }
        return s.toString();
    }
}
