package anomaly.job;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * Where operators get the precompiled kernel ({@code .cwasm}) from. Shipped jobs use the one inside the jar; tests
 * inject others (deliberately broken kernels, say).
 */
@FunctionalInterface
public interface KernelSource extends Serializable {
    /** The resource holding the kernel in the job jar (the layout `packager build` and dev-jar.sh produce). */
    String RESOURCE = "/kernel/kernel.cwasm";
    /** The same kernel precompiled for the engine without signal handlers ({@code job.signal_traps = false}). */
    String RESOURCE_NO_SIGNALS = "/kernel/kernel-no-signals.cwasm";

    /** The precompiled kernel's bytes. Must be a trusted build artifact: the native host maps it as machine code. */
    byte[] load() throws IOException;

    /**
     * Whether the kernel was precompiled for signal-based traps (the default) or for the engine that installs no
     * signal handler; the host loads it into the engine of that kind and refuses the other.
     */
    default boolean signalTraps() {
        return true;
    }

    /** The kernel built into the job jar, for signal-based traps. */
    static KernelSource embedded() {
        return embedded(true);
    }

    /** The kernel built into the job jar, for the engine {@code job.signal_traps} selects. */
    static KernelSource embedded(boolean signalTraps) {
        return new Embedded(signalTraps);
    }

    /** A kernel from a file (tests), precompiled for signal-based traps. */
    static KernelSource file(String path) {
        return () -> Files.readAllBytes(Paths.get(path));
    }

    /** A jar resource of the job. */
    final class Embedded implements KernelSource {
        private static final long serialVersionUID = 1L;
        private final boolean signalTraps;

        Embedded(boolean signalTraps) {
            this.signalTraps = signalTraps;
        }

        @Override
        public boolean signalTraps() {
            return signalTraps;
        }

        @Override
        public byte[] load() throws IOException {
            String resource = signalTraps ? RESOURCE : RESOURCE_NO_SIGNALS;
            try (InputStream in = KernelSource.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IOException("the job jar has no " + resource
                            + "; build the jar with `packager build` (or job-template/scripts/dev-jar.sh)");
                }
                ByteArrayOutputStream out = new ByteArrayOutputStream(4 << 20);
                in.transferTo(out);
                return out.toByteArray();
            }
        }
    }
}
