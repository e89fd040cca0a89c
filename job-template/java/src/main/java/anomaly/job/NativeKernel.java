package anomaly.job;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * One configured instance of the detection kernel, run by the Rust host library inside this JVM
 * ({@code job-template/host/src/jni.rs}, whose module doc is the contract this class follows).
 *
 * <p>Requests are written straight into the kernel's linear memory and answers read straight out of it, through a
 * direct buffer over that memory; a control block tells when that view went stale (the memory moved, or a trap
 * replaced the instance). Not thread-safe: one instance per operator instance, used from the task thread only.
 */
public final class NativeKernel implements AutoCloseable {
    /** Where the jar carries the host library. */
    public static final String LIBRARY_RESOURCE = "/native/linux-x86_64/libanomaly_host.so";

    /** Result flags (see {@code detector_wasm::abi}). */
    public static final int FLAG_ANOMALY = 1;
    public static final int FLAG_WARMUP = 2;
    /** The key's stored state was unreadable; the kernel started the key afresh. */
    public static final int FLAG_STATE_RESET = 16;

    private static final byte TAG_OK = 0;
    private static final byte TAG_DEAD_LETTER = 1;
    private static final int SLOT_EPOCH = 0;
    private static final int SLOT_INPUT_OFFSET = 1;
    private static final int SLOT_INPUT_CAPACITY = 2;
    private static final int SLOT_OUTPUT_OFFSET = 3;
    private static final int SLOT_OUTPUT_LEN = 4;
    private static final int SLOT_TRAPS = 5;

    static {
        loadLibrary();
    }

    private long handle;
    private final ByteBuffer control;
    /** Little-endian view over the kernel's whole linear memory; valid while {@link #epoch} is current. */
    private ByteBuffer memory;
    private long epoch = -1;
    private int inputOffset;
    private int inputCapacity;

    private NativeKernel(long handle) {
        this.handle = handle;
        this.control = control(handle).order(ByteOrder.nativeOrder());
        sync();
    }

    /**
     * Loads a kernel precompiled for signal-based traps and configures an instance.
     *
     * @param cwasm a trusted {@code .cwasm} built with the host's engine configuration
     * @param configJson a JSON object of detector config keys (see detector-wasm/src/config.rs)
     * @throws KernelException when the kernel does not match this host or refuses the configuration
     */
    public static NativeKernel open(byte[] cwasm, byte[] configJson) {
        return open(cwasm, configJson, true);
    }

    /**
     * Loads a precompiled kernel into the host's engine with signal-based traps or into the one without signal
     * handlers ({@code signalTraps = false}: explicit bounds checks, slower, for JVMs where handlers are not welcome);
     * the kernel must have been precompiled for that engine.
     */
    public static NativeKernel open(byte[] cwasm, byte[] configJson, boolean signalTraps) {
        return new NativeKernel(create(cwasm, configJson, signalTraps));
    }

    /** Loads the kernel {@code source} gives, into the engine it was precompiled for. */
    public static NativeKernel open(KernelSource source, byte[] configJson) throws IOException {
        return open(source.load(), configJson, source.signalTraps());
    }

    /** Receives the results of {@link #parse}, in record order. */
    public interface ParseResults {
        void event(int index, String key, byte[] event);

        void deadLetter(int index, byte[] deadLetterJson);
    }

    /** One detect result; reused between calls. */
    public static final class DetectResult {
        /** True when the key's state could not be used; {@link #payload} is then the dead letter. */
        public boolean deadLetter;
        public int flags;
        /** NaN during warm-up. */
        public double score;
        /** The key's new state (a fresh array the caller may keep). */
        public byte[] state;
        /** The rendered verdict (null when the kernel rendered none), or the dead letter. */
        public byte[] payload;

        public boolean isAnomaly() {
            return !deadLetter && (flags & FLAG_ANOMALY) != 0;
        }
    }

    /** Parses {@code records[0..count)} in one kernel call. */
    public void parse(byte[][] records, int count, ParseResults results) {
        long len = 0;
        for (int i = 0; i < count; i++) {
            len += 4 + records[i].length;
        }
        ByteBuffer m = input(len);
        for (int i = 0; i < count; i++) {
            m.putInt(records[i].length);
            m.put(records[i]);
        }
        parse(live(), count, (int) len);
        m = answer();
        for (int i = 0; i < count; i++) {
            byte tag = m.get();
            if (tag == TAG_OK) {
                byte[] key = new byte[m.getInt()];
                m.get(key);
                byte[] event = new byte[m.getInt()];
                m.get(event);
                results.event(i, new String(key, StandardCharsets.UTF_8), event);
            } else if (tag == TAG_DEAD_LETTER) {
                byte[] json = new byte[m.getInt()];
                m.get(json);
                results.deadLetter(i, json);
            } else {
                throw new KernelException("kernel answered parse result tag " + tag + " for record " + i
                        + "; the host library and this job are from different releases");
            }
        }
    }

    /** Runs the detector on one event of a key whose state is {@code state} (null for a new key). */
    public void detect(byte[] state, byte[] event, DetectResult result) {
        one.states[0] = state;
        one.events[0] = event;
        one.results[0] = result;
        try {
            detect(one.states, one.events, 1, one.results);
        } finally {
            one.states[0] = null;
            one.events[0] = null;
            one.results[0] = null;
        }
    }

    /**
     * Runs the detector on {@code events[0..count)} in one kernel call, each against its own key's state
     * ({@code states[i]}, null for a new key), into {@code results[i]}. Each item is independent of the others: the
     * caller gives no key twice in one call (the second event of a key must see the state the first one left).
     */
    public void detect(byte[][] states, byte[][] events, int count, DetectResult[] results) {
        long len = 0;
        for (int i = 0; i < count; i++) {
            len += 8L + (states[i] == null ? 0 : states[i].length) + events[i].length;
        }
        ByteBuffer m = input(len);
        for (int i = 0; i < count; i++) {
            byte[] state = states[i];
            m.putInt(state == null ? 0 : state.length);
            if (state != null) {
                m.put(state);
            }
            m.putInt(events[i].length);
            m.put(events[i]);
        }
        detect(live(), count, (int) len);
        m = answer();
        for (int i = 0; i < count; i++) {
            DetectResult result = results[i];
            byte tag = m.get();
            if (tag == TAG_OK) {
                result.deadLetter = false;
                result.flags = m.get() & 0xff;
                result.score = m.getDouble();
                result.state = new byte[m.getInt()];
                m.get(result.state);
                int verdictLen = m.getInt();
                if (verdictLen == 0) {
                    result.payload = null;
                } else {
                    result.payload = new byte[verdictLen];
                    m.get(result.payload);
                }
            } else if (tag == TAG_DEAD_LETTER) {
                result.deadLetter = true;
                result.flags = 0;
                result.score = Double.NaN;
                result.state = null;
                result.payload = new byte[m.getInt()];
                m.get(result.payload);
            } else {
                throw new KernelException("kernel answered detect result tag " + tag + " for event " + i
                        + "; the host library and this job are from different releases");
            }
        }
    }

    /** The one-item arrays {@link #detect(byte[], byte[], DetectResult)} passes, reused between calls. */
    private static final class One {
        final byte[][] states = new byte[1][];
        final byte[][] events = new byte[1][];
        final DetectResult[] results = new DetectResult[1];
    }

    private final One one = new One();

    /** Kernel version, ABI and state format, and the effective configuration, as JSON. */
    public String describe() {
        return new String(describe(live()), StandardCharsets.UTF_8);
    }

    /** Kernel traps this instance survived (each isolated a record into a `kernel`-stage dead letter). */
    public long traps() {
        return control.getLong(8 * SLOT_TRAPS);
    }

    /**
     * A `kernel`-stage dead letter in the kernel's format, for a record the job could not get through the kernel.
     *
     * @param raw the record as received, or (when {@code eventBlob}) the event blob parse produced
     */
    public static byte[] deadLetter(String reason, byte[] raw, boolean eventBlob) {
        return deadLetter(reason.getBytes(StandardCharsets.UTF_8), raw, eventBlob);
    }

    @Override
    public void close() {
        if (handle != 0) {
            long h = handle;
            handle = 0;
            memory = null;
            destroy(h);
        }
    }

    private long live() {
        if (handle == 0) {
            throw new KernelException("the kernel instance is closed");
        }
        return handle;
    }

    /** The memory view positioned at an input buffer of at least {@code len} bytes. */
    private ByteBuffer input(long len) {
        long h = live();
        if (len > Integer.MAX_VALUE) {
            throw new KernelException("request of " + len + " bytes is over 2 GiB; lower job.parse_batch_bytes");
        }
        if (len > inputCapacity) {
            // Doubling keeps reservations (each may grow and move memory) rare.
            reserve(h, (int) Math.min(Integer.MAX_VALUE, Math.max(len, 2L * inputCapacity)));
            sync();
        }
        memory.clear();
        memory.position(inputOffset);
        return memory;
    }

    /** The memory view positioned at the last answer. */
    private ByteBuffer answer() {
        sync();
        int offset = (int) control.getLong(8 * SLOT_OUTPUT_OFFSET);
        int len = (int) control.getLong(8 * SLOT_OUTPUT_LEN);
        memory.clear();
        memory.position(offset);
        memory.limit(offset + len);
        return memory;
    }

    /** Re-reads the layout and re-fetches the memory view when the host says it changed. */
    private void sync() {
        long current = control.getLong(8 * SLOT_EPOCH);
        if (current != epoch) {
            epoch = current;
            inputOffset = (int) control.getLong(8 * SLOT_INPUT_OFFSET);
            inputCapacity = (int) control.getLong(8 * SLOT_INPUT_CAPACITY);
            memory = memory(handle).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /**
     * Loads the host library from the jar through a copy with a unique name: Flink loads each job (and each restart of
     * it) in a new classloader, and the JVM refuses to load one library file into two classloaders. The copy is deleted
     * as soon as it is loaded (the mapping stays valid on Linux), so nothing is left behind, not even after a kill -9.
     */
    private static void loadLibrary() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new UnsatisfiedLinkError("the anomaly host library is built for linux-x86_64 only (Managed Service for"
                    + " Apache Flink); this JVM runs on " + os + "/" + arch);
        }
        try (InputStream in = NativeKernel.class.getResourceAsStream(LIBRARY_RESOURCE)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("the job jar has no " + LIBRARY_RESOURCE
                        + "; build the jar with `packager build` (or job-template/scripts/dev-jar.sh)");
            }
            Path copy = Files.createTempFile("libanomaly_host-", ".so");
            try {
                Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
                System.load(copy.toAbsolutePath().toString());
            } finally {
                Files.deleteIfExists(copy);
            }
        } catch (IOException e) {
            UnsatisfiedLinkError error = new UnsatisfiedLinkError("cannot copy the anomaly host library out of the job jar"
                    + " into " + System.getProperty("java.io.tmpdir") + ": " + e.getMessage());
            error.initCause(e);
            throw error;
        }
    }

    private static native long create(byte[] cwasm, byte[] configJson, boolean signalTraps);

    private static native void destroy(long handle);

    private static native ByteBuffer control(long handle);

    private static native ByteBuffer memory(long handle);

    private static native void reserve(long handle, int len);

    private static native void parse(long handle, int count, int len);

    private static native void detect(long handle, int count, int len);

    private static native byte[] describe(long handle);

    private static native byte[] deadLetter(byte[] reasonUtf8, byte[] raw, boolean eventBlob);

    /** Panics inside the host on purpose; tests use it to prove that no Rust panic crosses into the JVM. */
    static native void panicForTest();
}
