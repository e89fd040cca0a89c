package anomaly.job;

import java.io.Serializable;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** The {@code job} property group: how the job runs, as opposed to what the kernel detects. */
public final class JobSettings implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final String STATE_TTL_HOURS = "state_ttl_hours";
    public static final String PARSE_BATCH_SIZE = "parse_batch_size";
    public static final String PARSE_BATCH_BYTES = "parse_batch_bytes";
    public static final String PARSE_FLUSH_INTERVAL_MS = "parse_flush_interval_ms";
    public static final String PARALLELISM = "parallelism";
    public static final String CHECKPOINT_INTERVAL_MS = "checkpoint_interval_ms";
    public static final String SIGNAL_TRAPS = "signal_traps";
    public static final String STATE_CACHE_KEYS = "state_cache_keys";
    static final List<String> KEYS = Arrays.asList(STATE_TTL_HOURS, PARSE_BATCH_SIZE, PARSE_BATCH_BYTES, PARSE_FLUSH_INTERVAL_MS, PARALLELISM,
            CHECKPOINT_INTERVAL_MS, SIGNAL_TRAPS, STATE_CACHE_KEYS);

    /** Defaults; see the table in job-template/README.md. */
    static final long DEFAULT_STATE_TTL_HOURS = 720;
    static final int DEFAULT_PARSE_BATCH_SIZE = 256;
    static final long DEFAULT_PARSE_BATCH_BYTES = 4L << 20;
    static final long DEFAULT_PARSE_FLUSH_INTERVAL_MS = 200;
    static final long DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;
    static final int DEFAULT_STATE_CACHE_KEYS = 16_384;

    final Duration stateTtl;
    final int parseBatchSize;
    final long parseBatchBytes;
    final long parseFlushIntervalMs;
    /** Null: the cluster's default. */
    final Integer parallelism;
    /** Null: keep the cluster's checkpointing, or every 60 s when the cluster has none (local runs). */
    final Long checkpointIntervalMs;
    /** False: the kernel runs on the engine that installs no signal handler (see job-template/README.md). */
    final boolean signalTraps;
    /** Keys per detect subtask whose state is kept between checkpoints ({@link StateCache}); 0: none. */
    final int stateCacheKeys;

    private JobSettings(Duration stateTtl, int parseBatchSize, long parseBatchBytes, long parseFlushIntervalMs, Integer parallelism,
            Long checkpointIntervalMs, boolean signalTraps, int stateCacheKeys) {
        this.stateTtl = stateTtl;
        this.parseBatchSize = parseBatchSize;
        this.parseBatchBytes = parseBatchBytes;
        this.parseFlushIntervalMs = parseFlushIntervalMs;
        this.parallelism = parallelism;
        this.checkpointIntervalMs = checkpointIntervalMs;
        this.signalTraps = signalTraps;
        this.stateCacheKeys = stateCacheKeys;
    }

    /** Reads the {@code job} group; every key is optional, unknown keys are refused. */
    public static JobSettings from(Map<String, String> group) {
        for (String key : group.keySet()) {
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException("unknown property job." + key + "; the job group knows " + String.join(", ", KEYS));
            }
        }
        return new JobSettings(
                Duration.ofHours(number(group, STATE_TTL_HOURS, DEFAULT_STATE_TTL_HOURS, 0)),
                (int) number(group, PARSE_BATCH_SIZE, DEFAULT_PARSE_BATCH_SIZE, 1, 1 << 16),
                number(group, PARSE_BATCH_BYTES, DEFAULT_PARSE_BATCH_BYTES, 1, 256L << 20),
                number(group, PARSE_FLUSH_INTERVAL_MS, DEFAULT_PARSE_FLUSH_INTERVAL_MS, 1),
                group.containsKey(PARALLELISM) ? (int) number(group, PARALLELISM, 1, 1, 4096) : null,
                group.containsKey(CHECKPOINT_INTERVAL_MS) ? number(group, CHECKPOINT_INTERVAL_MS, 0, 10) : null,
                flag(group, SIGNAL_TRAPS, true),
                (int) number(group, STATE_CACHE_KEYS, DEFAULT_STATE_CACHE_KEYS, 0, 1 << 24));
    }

    /** Every default. */
    public static JobSettings defaults() {
        return from(Map.of());
    }

    private static boolean flag(Map<String, String> group, String key, boolean fallback) {
        String text = group.get(key);
        if (text == null) {
            return fallback;
        }
        switch (text.trim()) {
            case "true":
                return true;
            case "false":
                return false;
            default:
                throw new IllegalArgumentException("property job." + key + " must be true or false, got \"" + text + "\"");
        }
    }

    private static long number(Map<String, String> group, String key, long fallback, long min) {
        return number(group, key, fallback, min, Long.MAX_VALUE);
    }

    static long number(Map<String, String> group, String key, long fallback, long min, long max) {
        String text = group.get(key);
        if (text == null) {
            return fallback;
        }
        long value;
        try {
            value = Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("property job." + key + " must be a whole number, got \"" + text + "\"");
        }
        if (value < min || value > max) {
            throw new IllegalArgumentException("property job." + key + " must be between " + min + " and " + max + ", got " + value);
        }
        return value;
    }
}
