package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The state cache answers a read only with the bytes last written for that very key, never past the TTL; every state
 * it takes reaches the backend at the next write-back (checkpoint), and one it does not take is the caller's to write.
 */
class StateCacheTest {
    private static final long T0 = 1_700_000_000_000L;

    /** The backend as the cache sees it: the writes it received, in order. */
    private static final class Writes implements StateCache.Backend {
        final List<String> log = new ArrayList<>();

        @Override
        public void write(Object key, byte[] state) {
            log.add(key + "=" + state[0]);
        }
    }

    @Test
    void a_read_gets_the_last_write_of_an_equal_key_and_nothing_for_others() throws Exception {
        StateCache cache = new StateCache(1024, Duration.ZERO);
        Writes backend = new Writes();
        byte[] second = {2};
        cache.put(new String("user001"), new byte[] {1}, 0);
        cache.put(new String("user001"), second, 0);
        // An equal key, not the same object: the job's keys are deserialized afresh for every record.
        assertSame(second, cache.get(new String("user001"), 0));
        assertNull(cache.get("user002", 0));
        assertEquals(1, cache.hits());
        assertEquals(1, cache.misses());
        assertEquals(List.of(), backend.log, "nothing reaches the backend before a write-back");
        assertEquals(1, cache.writeBack(0, backend));
        assertEquals(List.of("user001=2"), backend.log, "only the key's last state is written");
    }

    @Test
    void a_slot_holding_an_unwritten_state_is_not_taken_until_a_write_back_stored_it() throws Exception {
        StateCache cache = new StateCache(1, Duration.ZERO);
        Writes backend = new Writes();
        assertTrue(cache.put("a", new byte[] {1}, 0));
        assertFalse(cache.put("b", new byte[] {2}, 0), "b must be written through: a's state is only in the cache");
        assertArrayEquals(new byte[] {1}, cache.get("a", 0));
        assertNull(cache.get("b", 0), "b's read goes to the backend, which has b's state");
        assertTrue(cache.put("a", new byte[] {3}, 0), "a key's own slot always takes its new state");
        assertEquals(1, cache.writeBack(0, backend));
        assertEquals(List.of("a=3"), backend.log);
        assertTrue(cache.put("b", new byte[] {4}, 0), "a's state is in the backend now: b may take the slot");
        assertNull(cache.get("a", 0), "a's read goes to the backend, which has a's state");
        assertArrayEquals(new byte[] {4}, cache.get("b", 0));
        // "Aa" and "BB" have the same String hash, so the same slot in any cache, and never read each other's state.
        StateCache large = new StateCache(1 << 16, Duration.ZERO);
        large.put("Aa", new byte[] {5}, 0);
        assertEquals("Aa".hashCode(), "BB".hashCode());
        assertNull(large.get("BB", 0));
    }

    @Test
    void a_write_back_writes_each_pending_state_once_and_keeps_it_for_reads() throws Exception {
        StateCache cache = new StateCache(64, Duration.ZERO);
        Writes backend = new Writes();
        int taken = 0;
        for (int i = 0; i < 5; i++) {
            taken += cache.put("k" + i, new byte[] {(byte) i}, 0) ? 1 : 0;
        }
        assertEquals(5, taken, "five keys in 64 slots: these five have slots of their own");
        assertEquals(5, cache.writeBack(0, backend));
        assertEquals(0, cache.writeBack(0, backend), "a second write-back with nothing new writes nothing");
        assertEquals(5, backend.log.size());
        assertArrayEquals(new byte[] {3}, cache.get("k3", 0));
    }

    @Test
    void with_a_ttl_an_entry_is_used_only_while_younger_than_the_ttl_and_an_aged_one_is_never_written() throws Exception {
        StateCache cache = new StateCache(16, Duration.ofHours(1));
        Writes backend = new Writes();
        byte[] state = {7};
        cache.put("k", state, T0);
        assertSame(state, cache.get("k", T0 + 3_600_000 - 1));
        assertNull(cache.get("k", T0 + 3_600_000), "at the TTL the key starts afresh");
        assertEquals(0, cache.writeBack(T0 + 3_600_000, backend), "an aged state is dropped, not written: it would live again");
        assertEquals(List.of(), backend.log);
        cache.put("k", state, T0 + 3_600_000);
        assertSame(state, cache.get("k", T0 + 3_600_001), "a write starts the TTL afresh, as OnCreateAndWrite does");
        StateCache one = new StateCache(1, Duration.ofHours(1));
        one.put("a", state, T0);
        assertTrue(one.put("b", new byte[] {8}, T0 + 3_600_000), "an aged state gives up its slot");
        assertEquals(1, one.writeBack(T0 + 3_600_000, backend));
        assertEquals(List.of("b=8"), backend.log, "and is never written");
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
