package anomaly.job;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** What the harnesses that run the job many times in one JVM check: which copies of the host library are mapped. */
final class HostLibraryCopies {
    private HostLibraryCopies() {}

    /** The temp copies of the host library mapped into this JVM (deleted files stay mapped while loaded). */
    static Set<String> mapped() throws IOException {
        List<String> maps = Files.readAllLines(Paths.get("/proc/self/maps"));
        return maps.stream().filter(l -> l.contains("libanomaly_host-")).map(l -> l.replaceAll("^.* (/\\S*libanomaly_host-\\S*).*$", "$1"))
                .collect(Collectors.toSet());
    }

    /** A few collections, so the classloaders of finished runs (and the library copies they loaded) can go. */
    static void collectGarbage() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(200);
        }
    }
}
