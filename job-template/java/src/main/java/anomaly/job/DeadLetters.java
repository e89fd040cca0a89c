package anomaly.job;

import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.util.OutputTag;

/** The dead-letter side output, and what the job reads from the kernel's dead-letter JSON. */
final class DeadLetters {
    /** Dead letters from every operator: JSON lines as the kernel renders them. */
    static final OutputTag<byte[]> TAG = new OutputTag<>("dead-letters", PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO);

    private static final byte[] PARSE_STAGE = "\"stage\":\"parse\"".getBytes(StandardCharsets.UTF_8);
    /** The dead-letter schema writes `schemaVersion` first and `stage` second (detector-wasm/src/verdict.rs). */
    private static final int STAGE_WITHIN = 48;

    private DeadLetters() {}

    /** Whether a dead letter blames the record itself (the `parse` stage) rather than the kernel or the key's state. */
    static boolean isInvalidRecord(byte[] deadLetterJson) {
        int end = Math.min(deadLetterJson.length, STAGE_WITHIN) - PARSE_STAGE.length;
        outer:
        for (int i = 0; i <= end; i++) {
            for (int j = 0; j < PARSE_STAGE.length; j++) {
                if (deadLetterJson[i + j] != PARSE_STAGE[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
