package anomaly.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The JNI boundary on its own: zero-copy calls, memory growth, and every way the kernel or the host can fail. */
class NativeKernelTest {
    static final String BRIEF_1 =
            "{\"userId\":\"user001\",\"amount\":100.0,\"timestamp\":1234567890000,\"transactionId\":\"txn-001\",\"merchantId\":\"merchant-001\"}";

    /** Collects parse results. */
    static final class Collected implements NativeKernel.ParseResults {
        final List<String> keys = new ArrayList<>();
        final List<byte[]> events = new ArrayList<>();
        final List<String> deadLetters = new ArrayList<>();
        final List<Integer> order = new ArrayList<>();

        @Override
        public void event(int index, String key, byte[] event) {
            order.add(index);
            keys.add(key);
            events.add(event);
        }

        @Override
        public void deadLetter(int index, byte[] json) {
            order.add(index);
            deadLetters.add(new String(json, StandardCharsets.UTF_8));
        }
    }

    static byte[][] records(String... records) {
        byte[][] out = new byte[records.length][];
        for (int i = 0; i < records.length; i++) {
            out[i] = records[i].getBytes(StandardCharsets.UTF_8);
        }
        return out;
    }

    @Test
    void parses_and_detects_through_linear_memory() throws Exception {
        try (NativeKernel kernel = NativeKernel.open(TestSupport.embeddedKernel(), "{\"emit\":\"all\"}".getBytes(StandardCharsets.UTF_8))) {
            assertTrue(kernel.describe().contains("\"abiVersion\":1"), kernel.describe());
            Collected parsed = new Collected();
            kernel.parse(records(BRIEF_1, "not json"), 2, parsed);
            assertEquals(List.of("user001"), parsed.keys);
            assertEquals(1, parsed.deadLetters.size());
            assertTrue(parsed.deadLetters.get(0).contains("\"raw\":\"not json\""), parsed.deadLetters.get(0));
            assertEquals(List.of(0, 1), parsed.order);

            NativeKernel.DetectResult result = new NativeKernel.DetectResult();
            kernel.detect(null, parsed.events.get(0), result);
            assertFalse(result.deadLetter);
            assertEquals(576, result.state.length, "the default (adaptive) detector keeps 576 bytes per key (detector-wasm/src/state.rs)");
            assertNotNull(result.payload, "emit = all renders every verdict");
            assertTrue(new String(result.payload, StandardCharsets.UTF_8).contains("\"eventId\":\"txn-001\""));
            byte[] state = result.state;
            kernel.detect(state, parsed.events.get(0), result);
            assertFalse(java.util.Arrays.equals(state, result.state), "the state learns each event");
        }
    }

    @Test
    void a_batch_that_grows_memory_is_read_correctly_and_later_calls_still_work() throws Exception {
        try (NativeKernel kernel = NativeKernel.open(TestSupport.embeddedKernel(), "{}".getBytes(StandardCharsets.UTF_8))) {
            // 40 MiB of records: past the 32 MiB memory reservation, so linear memory grows and moves.
            int count = 20_000;
            byte[][] batch = new byte[count][];
            String padding = "x".repeat(2_000);
            for (int i = 0; i < count; i++) {
                batch[i] = ("{\"userId\":\"u" + i + "\",\"amount\":" + (i + 1) + ",\"timestamp\":1700000000000,\"pad\":\"" + padding + "\"}")
                        .getBytes(StandardCharsets.UTF_8);
            }
            Collected parsed = new Collected();
            kernel.parse(batch, count, parsed);
            assertEquals(count, parsed.keys.size());
            assertEquals("u19999", parsed.keys.get(count - 1));
            Collected again = new Collected();
            kernel.parse(records(BRIEF_1), 1, again);
            assertEquals(List.of("user001"), again.keys);
        }
    }

    @Test
    void a_refused_configuration_is_a_java_exception_naming_the_key() throws Exception {
        KernelException e = assertThrows(KernelException.class,
                () -> NativeKernel.open(TestSupport.embeddedKernel(), "{\"threshold_multiplier\":\"lots\"}".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("threshold_multiplier"), e.getMessage());
    }

    @Test
    void an_abi_mismatch_is_a_java_exception_with_the_kernels_version() throws Exception {
        byte[] cwasm = Files.readAllBytes(TestSupport.fixture("abi-99.cwasm"));
        KernelException e = assertThrows(KernelException.class, () -> NativeKernel.open(cwasm, "{}".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("ABI version 99"), e.getMessage());
    }

    @Test
    void bytes_that_are_no_kernel_are_refused_with_a_message() {
        KernelException e = assertThrows(KernelException.class,
                () -> NativeKernel.open("not a kernel".getBytes(StandardCharsets.UTF_8), "{}".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("packager build"), e.getMessage());
    }

    @Test
    void a_trap_isolates_the_record_into_a_kernel_dead_letter_and_the_instance_is_replaced() throws Exception {
        byte[] cwasm = Files.readAllBytes(TestSupport.fixture("trap-on-bang.cwasm"));
        try (NativeKernel kernel = NativeKernel.open(cwasm, "{}".getBytes(StandardCharsets.UTF_8))) {
            Collected parsed = new Collected();
            kernel.parse(records("a", "!boom", "b"), 3, parsed);
            assertEquals(3, parsed.deadLetters.size());
            assertEquals("{\"fake\":1}", parsed.deadLetters.get(0));
            assertTrue(parsed.deadLetters.get(1).contains("\"stage\":\"kernel\""), parsed.deadLetters.get(1));
            assertTrue(parsed.deadLetters.get(1).contains("trapped"), parsed.deadLetters.get(1));
            assertTrue(parsed.deadLetters.get(1).contains("\"raw\":\"!boom\""), parsed.deadLetters.get(1));
            assertEquals("{\"fake\":1}", parsed.deadLetters.get(2));
            assertEquals(2, kernel.traps(), "once for the batch, once for the record alone");
            Collected after = new Collected();
            kernel.parse(records("c"), 1, after);
            assertEquals(List.of("{\"fake\":1}"), after.deadLetters, "the fresh instance keeps working");
        }
    }

    @Test
    void a_malformed_answer_is_a_java_exception() throws Exception {
        byte[] cwasm = Files.readAllBytes(TestSupport.fixture("trap-on-bang.cwasm"));
        try (NativeKernel kernel = NativeKernel.open(cwasm, "{}".getBytes(StandardCharsets.UTF_8))) {
            KernelException e = assertThrows(KernelException.class, () -> kernel.parse(records("?"), 1, new Collected()));
            assertTrue(e.getMessage().contains("outside memory"), e.getMessage());
        }
    }

    @Test
    void a_rust_panic_becomes_a_java_exception() {
        KernelException e = assertThrows(KernelException.class, NativeKernel::panicForTest);
        assertTrue(e.getMessage().contains("panicked") && e.getMessage().contains("deliberate"), e.getMessage());
    }

    @Test
    void a_closed_instance_refuses_calls_instead_of_crashing() throws Exception {
        NativeKernel kernel = NativeKernel.open(TestSupport.embeddedKernel(), "{}".getBytes(StandardCharsets.UTF_8));
        kernel.close();
        kernel.close();
        assertThrows(KernelException.class, () -> kernel.parse(records(BRIEF_1), 1, new Collected()));
    }

    @Test
    void dead_letters_made_by_the_job_use_the_kernels_format() {
        String letter = new String(NativeKernel.deadLetter("it broke", new byte[] {(byte) 0xff}, false), StandardCharsets.UTF_8);
        assertEquals("{\"schemaVersion\":2,\"stage\":\"kernel\",\"reason\":\"it broke\",\"rawBase64\":\"/w==\",\"rawBytes\":1,"
                + "\"rawSha256\":\"a8100ae6aa1940d0b663bb31cd466142ebbdbd5187131b92d93818987832eb89\",\"truncated\":false}", letter);
        assertFalse(DeadLetters.isInvalidRecord(letter.getBytes(StandardCharsets.UTF_8)));
        assertTrue(DeadLetters.isInvalidRecord("{\"schemaVersion\":2,\"stage\":\"parse\",\"reason\":\"x\"}".getBytes(StandardCharsets.UTF_8)));
    }
}
