package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The state cache answers a read only with the bytes last written for that very key, and never past the TTL. */
class StateCacheTest {
    private static final long T0 = 1_700_000_000_000L;

    @Test
    void a_read_gets_the_last_write_of_an_equal_key_and_nothing_for_others() {
        StateCache cache = new StateCache(1024, Duration.ZERO);
        byte[] first = {1};
        byte[] second = {2};
        cache.put(new String("user001"), first, 0);
        cache.put(new String("user001"), second, 0);
        // An equal key, not the same object: the job's keys are deserialized afresh for every record.
        assertSame(second, cache.get(new String("user001"), 0));
        assertNull(cache.get("user002", 0));
        assertEquals(1, cache.hits());
        assertEquals(1, cache.misses());
    }

    @Test
    void keys_sharing_a_slot_evict_each_other_and_never_read_each_others_state() {
        StateCache cache = new StateCache(1, Duration.ZERO);
        cache.put("a", new byte[] {1}, 0);
        cache.put("b", new byte[] {2}, 0);
        assertNull(cache.get("a", 0), "a was evicted by b; its read must go to the backend");
        assertArrayEquals(new byte[] {2}, cache.get("b", 0));
        // "Aa" and "BB" have the same String hash, so the same slot in any cache.
        StateCache large = new StateCache(1 << 16, Duration.ZERO);
        large.put("Aa", new byte[] {3}, 0);
        assertEquals("Aa".hashCode(), "BB".hashCode());
        assertNull(large.get("BB", 0));
    }

    @Test
    void with_a_ttl_an_entry_is_used_only_while_younger_than_the_ttl() {
        StateCache cache = new StateCache(16, Duration.ofHours(1));
        byte[] state = {7};
        cache.put("k", state, T0);
        assertSame(state, cache.get("k", T0 + 3_600_000 - 1));
        assertNull(cache.get("k", T0 + 3_600_000), "at the TTL the backend decides (it drops the state)");
        cache.put("k", state, T0 + 3_600_000);
        assertSame(state, cache.get("k", T0 + 3_600_001), "a write starts the TTL afresh, as OnCreateAndWrite does");
        StateCache forever = new StateCache(16, Duration.ZERO);
        forever.put("k", state, 0);
        assertSame(state, forever.get("k", Long.MAX_VALUE));
    }

    @Test
    void sizes_round_up_to_a_power_of_two_within_bounds() {
        assertEquals(1, new StateCache(1, Duration.ZERO).slots());
        assertEquals(16_384, new StateCache(10_000, Duration.ZERO).slots());
        assertEquals(16_384, new StateCache(16_384, Duration.ZERO).slots());
        assertThrows(IllegalArgumentException.class, () -> new StateCache(0, Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> new StateCache((1 << 24) + 1, Duration.ZERO));
    }
}
