package anomaly.job;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * Counting the lines a file sink committed while a job runs: what the harnesses (JVMs of their own, without JUnit)
 * wait for. Part files whose names start with a dot are in progress or pending, not committed.
 */
final class CommittedLines {
    private CommittedLines() {}

    /** Lines in the committed part files directly under {@code dir}; 0 when there is no such directory yet. */
    static long count(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        long lines = 0;
        for (File f : dir.toFile().listFiles()) {
            if (f.isFile() && !f.getName().startsWith(".")) {
                lines += Files.readAllLines(f.toPath(), StandardCharsets.UTF_8).size();
            }
        }
        return lines;
    }

    /**
     * Waits until {@code dir} holds {@code expected} committed lines. {@code stopped} is asked between looks: a
     * non-null answer (why waiting is pointless, e.g. the job ended) fails at once.
     */
    static void await(Path dir, long expected, long timeoutMs, Callable<String> stopped) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (System.currentTimeMillis() < deadline) {
            if (count(dir) >= expected) {
                return;
            }
            String why = stopped.call();
            if (why != null) {
                throw new IllegalStateException(why + " with " + count(dir) + " of " + expected + " lines committed in " + dir);
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("only " + count(dir) + " of " + expected + " lines were committed in " + dir + " in time");
    }
}
