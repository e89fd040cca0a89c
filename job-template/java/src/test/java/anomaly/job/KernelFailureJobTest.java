package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inside the running job, a record that makes the kernel trap and one that makes it answer nonsense each become a
 * `kernel`-stage dead letter with the reason, their neighbours are still parsed, and the job runs to the end.
 */
class KernelFailureJobTest {
    @Test
    void trapping_and_malformed_records_become_dead_letters_and_the_job_goes_on(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("out");
        AnomalyDetectionJob.builder()
                .source((env, tables) -> env.fromData(PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO,
                        bytes("a"), bytes("!boom"), bytes("b"), bytes("?bad"), bytes("c")))
                .anomalies(Connectors.fileSink(out.resolve("anomalies").toString()))
                .deadLetters(Connectors.fileSink(out.resolve("dead").toString()))
                .kernel(KernelSource.file(TestSupport.fixture("trap-on-bang.cwasm").toString()))
                .settings(TestSupport.settings(1_000))
                .build()
                .run(TestSupport.env(2, 0), "kernel-failures");

        List<String> dead = TestSupport.committedLines(out.resolve("dead"));
        assertEquals(5, dead.size(), "one dead letter per record: " + dead);
        assertEquals(3, dead.stream().filter(l -> l.equals("{\"fake\":1}")).count(), "the neighbours were parsed: " + dead);
        List<String> kernel = dead.stream().filter(l -> l.contains("\"stage\":\"kernel\"")).collect(Collectors.toList());
        assertEquals(2, kernel.size(), dead.toString());
        assertTrue(kernel.stream().anyMatch(l -> l.contains("trapped") && l.contains("\"raw\":\"!boom\"")), kernel.toString());
        assertTrue(kernel.stream().anyMatch(l -> l.contains("malformed") && l.contains("\"raw\":\"?bad\"")), kernel.toString());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
