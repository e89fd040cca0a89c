package anomaly.job;

import java.time.Duration;

/**
 * The kernel state this subtask last wrote for recently seen keys, in front of the state backend's reads: on RocksDB
 * (what Managed Flink runs) a read is a native lookup plus deserialization, the largest cost of an event
 * (benchmarks/flink.md), and a key's state changes only through this operator's own writes, so the bytes it last
 * wrote are the bytes a read would return. Writes still go to the backend every time (it is what checkpoints keep);
 * the cache only saves reads.
 *
 * <p>Sound because: keyed state is private to the operator (nothing else writes it); the cache lives in the operator
 * instance, which Flink builds afresh on every restore, failover and rescale, so it starts empty whenever the backend's
 * contents may differ from what this instance wrote; and with a TTL an entry is used only while younger than the TTL,
 * counted from before the backend stamps the same write (the backend's copy never expires before the cached one, so a
 * read the cache declines goes to the backend, which applies its own expiry).
 *
 * <p>Direct-mapped: {@code slots} entries (a power of two), a key's slot from its hash; a key meeting another in its
 * slot replaces it. No allocation per access. Holds references to the state arrays the kernel answered, which nothing
 * mutates.
 */
final class StateCache {
    private final Object[] keys;
    private final byte[][] states;
    private final long[] writtenAt;
    private final int mask;
    private final long ttlMs;
    private long hits;
    private long misses;

    /**
     * @param slots entries, at least 1 (rounded up to a power of two)
     * @param stateTtl the state's TTL; zero: entries never age
     */
    StateCache(int slots, Duration stateTtl) {
        if (slots < 1 || slots > 1 << 24) {
            throw new IllegalArgumentException("a state cache has 1 to " + (1 << 24) + " slots, not " + slots);
        }
        int size = Integer.highestOneBit(slots);
        if (size < slots) {
            size <<= 1;
        }
        keys = new Object[size];
        states = new byte[size][];
        writtenAt = new long[size];
        mask = size - 1;
        ttlMs = stateTtl.toMillis();
    }

    /** Entries the cache holds at most. */
    int slots() {
        return keys.length;
    }

    /** The state last written for {@code key} if the cache still holds it and it is younger than the TTL, else null. */
    byte[] get(Object key, long nowMs) {
        int slot = slot(key);
        Object cached = keys[slot];
        if (cached != null && cached.equals(key) && (ttlMs == 0 || nowMs - writtenAt[slot] < ttlMs)) {
            hits++;
            return states[slot];
        }
        misses++;
        return null;
    }

    /** Records that {@code state} was written for {@code key} at {@code nowMs} (taken before the backend's write). */
    void put(Object key, byte[] state, long nowMs) {
        int slot = slot(key);
        keys[slot] = key;
        states[slot] = state;
        writtenAt[slot] = nowMs;
    }

    /** Reads the cache answered. */
    long hits() {
        return hits;
    }

    /** Reads that went to the backend. */
    long misses() {
        return misses;
    }

    private int slot(Object key) {
        int h = key.hashCode();
        // Spread the high bits down: String hashes of keys differing in their last characters differ in low bits
        // only a little.
        return (h ^ (h >>> 16)) * 0x9E3779B1 >>> 8 & mask;
    }
}
