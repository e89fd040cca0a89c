package anomaly.job;

import java.time.Duration;

/**
 * The kernel state of recently seen keys, held by the detect operator between checkpoints: reads of those keys are
 * answered from it, and their writes reach the state backend once per checkpoint instead of once per event. On
 * RocksDB (what Managed Flink runs) every read and write is a native call and every write feeds the memtable, flushes
 * and compactions: the largest costs of an event (benchmarks/flink.md).
 *
 * <p>Direct-mapped: {@code slots} entries (a power of two), a key's slot from its hash; no allocation per access. A
 * slot holding another key's state that is not in the backend yet is not taken: the new state is written through to
 * the backend at once (the operator's current key is already the new key's, so this costs what a job without the
 * cache pays), and the slot is free for another key once the next write-back has stored its state. So a stream of
 * more keys than slots costs about what it would without a cache, and the keys that come back within a checkpoint
 * interval keep their slots.
 *
 * <p>Exact, because: keyed state is private to the operator (nothing else reads or writes it while the job runs);
 * the operator writes every entry not yet in the backend ({@link #writeBack}) before every checkpoint barrier,
 * before Flink snapshots the backend, so every checkpoint and savepoint holds exactly the states a write-through
 * operator would have left; Flink builds a new operator (so an empty cache) on every restore, failover and rescale,
 * and replays from the checkpoint, so what a failure loses from the cache is what the replay re-creates; and a key's
 * newest state is in its slot whenever the slot holds that key, else in the backend, so a read the cache cannot
 * answer finds it there.
 *
 * <p>With a TTL an entry is used only while younger than the TTL, counted from its last write; an entry that aged
 * past it is dropped, never written (the backend's copy is older still, so expired too). The backend stamps its copy
 * when the operator writes it, up to one checkpoint interval after the event: an idle key's state can outlive the
 * TTL by up to that interval.
 *
 * <p>Holds references to the state arrays the kernel answered, which nothing mutates.
 */
final class StateCache {
    /** Writes one key's state to the backend. */
    interface Backend {
        void write(Object key, byte[] state) throws Exception;
    }

    private final Object[] keys;
    private final byte[][] states;
    private final long[] writtenAt;
    /** True: the entry's state is not in the backend yet. */
    private final boolean[] pending;
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
        pending = new boolean[size];
        mask = size - 1;
        ttlMs = stateTtl.toMillis();
    }

    /** Entries the cache holds at most. */
    int slots() {
        return keys.length;
    }

    /** Whether the cache needs the time of each access (it has a TTL). */
    boolean ages() {
        return ttlMs != 0;
    }

    /** The state last written for {@code key} if the cache still holds it and it is younger than the TTL, else null. */
    byte[] get(Object key, long nowMs) {
        int slot = slot(key);
        Object cached = keys[slot];
        if (cached != null && cached.equals(key) && live(slot, nowMs)) {
            hits++;
            return states[slot];
        }
        misses++;
        return null;
    }

    /**
     * Keeps {@code state} as {@code key}'s, to reach the backend at the next {@link #writeBack}, and returns true; or,
     * when the slot holds another key's state the backend does not have yet, returns false: the caller writes
     * {@code state} to the backend itself, now.
     */
    boolean put(Object key, byte[] state, long nowMs) {
        int slot = slot(key);
        Object previous = keys[slot];
        if (previous != null && pending[slot] && live(slot, nowMs) && !previous.equals(key)) {
            return false;
        }
        keys[slot] = key;
        states[slot] = state;
        writtenAt[slot] = nowMs;
        pending[slot] = true;
        return true;
    }

    /** Writes every state not in the backend yet through {@code backend}; returns how many. Entries stay for reads. */
    int writeBack(long nowMs, Backend backend) throws Exception {
        int written = 0;
        for (int slot = 0; slot < keys.length; slot++) {
            if (!pending[slot]) {
                continue;
            }
            pending[slot] = false;
            if (live(slot, nowMs)) {
                backend.write(keys[slot], states[slot]);
                written++;
            } else {
                keys[slot] = null;
                states[slot] = null;
            }
        }
        return written;
    }

    /** Reads the cache answered. */
    long hits() {
        return hits;
    }

    /** Reads that went to the backend. */
    long misses() {
        return misses;
    }

    private boolean live(int slot, long nowMs) {
        return ttlMs == 0 || nowMs - writtenAt[slot] < ttlMs;
    }

    private int slot(Object key) {
        int h = key.hashCode();
        // Spread the high bits down: String hashes of keys differing in their last characters differ in low bits
        // only a little.
        return (h ^ (h >>> 16)) * 0x9E3779B1 >>> 8 & mask;
    }
}
