package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The golden cases of {@code tests/golden/} (every folder with an {@code input.jsonl}, discovered, one dynamic test
 * each) through the job on a MiniCluster: with the case's {@code [detector]} table and {@code emit = all}, the
 * anomalies sink must hold exactly the verdicts of {@code expected.jsonl} and the dead-letters sink exactly those of
 * {@code expected-dead-letters.jsonl} (without {@code packager run}'s line numbers). The same cases run through
 * {@code packager run} and the playground's engine in {@code packager/tests/golden.rs}.
 */
class GoldenTest {
    @TestFactory
    Stream<DynamicTest> every_golden_case_gives_its_expected_verdicts_and_dead_letters() throws IOException {
        Path root = TestSupport.repo().resolve("tests/golden");
        List<Path> cases;
        try (Stream<Path> entries = Files.list(root)) {
            cases = entries.filter(p -> Files.isRegularFile(p.resolve("input.jsonl"))).sorted().collect(Collectors.toList());
        }
        assertFalse(cases.size() < 5, "the golden cases went missing from " + root + ": " + cases);
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.getFileName().toString(), () -> check(c)));
    }

    private static void check(Path golden) throws Exception {
        Map<String, String> config = detectorTable(golden.resolve("packager.toml"));
        config.put("emit", "all");
        Path out = Files.createTempDirectory("golden-" + golden.getFileName());
        // Parallelism 1 and one task: every key's events in input order, as packager run replays them.
        TestSupport.fileJob(golden.resolve("input.jsonl"), out, config, TestSupport.settings(500)).build()
                .run(TestSupport.env(1, 0), "golden-" + golden.getFileName());

        TestSupport.assertSameMultiset(expected(golden.resolve("expected.jsonl")), TestSupport.committedLines(out.resolve("anomalies")),
                golden.getFileName() + ": verdicts of the job and expected.jsonl");
        TestSupport.assertSameMultiset(TestSupport.canonicalDeadLetters(expected(golden.resolve("expected-dead-letters.jsonl"))),
                TestSupport.canonicalDeadLetters(TestSupport.committedLines(out.resolve("dead-letters"))),
                golden.getFileName() + ": dead letters of the job and expected-dead-letters.jsonl");
    }

    private static List<String> expected(Path file) throws IOException {
        return Files.isRegularFile(file) ? TestSupport.lines(file) : Collections.emptyList();
    }

    /**
     * The {@code [detector]} table of a golden case's packager.toml as property strings. Golden files hold only that
     * table, with {@code key = value} lines (strings, numbers, booleans) and comments; anything else fails the test,
     * so a case never runs with keys silently dropped.
     */
    static Map<String, String> detectorTable(Path toml) throws IOException {
        Map<String, String> keys = new TreeMap<>();
        boolean inDetector = false;
        for (String raw : Files.readAllLines(toml, StandardCharsets.UTF_8)) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("[")) {
                inDetector = line.equals("[detector]");
                if (!inDetector) {
                    throw new AssertionError(toml + ": only a [detector] table is read here, found " + line);
                }
                continue;
            }
            int eq = line.indexOf('=');
            if (!inDetector || eq < 0) {
                throw new AssertionError(toml + ": expected `key = value` in [detector], found " + line);
            }
            String value = line.substring(eq + 1).strip();
            if (value.startsWith("\"")) {
                if (!value.endsWith("\"") || value.length() < 2 || value.substring(1, value.length() - 1).contains("\"")) {
                    throw new AssertionError(toml + ": a string value this reader does not handle: " + line);
                }
                value = value.substring(1, value.length() - 1);
            } else if (value.matches("true|false|-?[0-9][0-9_]*(\\.[0-9]+)?([eE][-+]?[0-9]+)?")) {
                value = value.replace("_", "");
            } else {
                throw new AssertionError(toml + ": a value this reader does not handle: " + line);
            }
            keys.put(line.substring(0, eq).strip(), value);
        }
        return keys;
    }
}
