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

    /** The precompiled kernel's bytes. Must be a trusted build artifact: the native host maps it as machine code. */
    byte[] load() throws IOException;

    /** The kernel built into the job jar. */
    static KernelSource embedded() {
        return () -> {
            try (InputStream in = KernelSource.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new IOException("the job jar has no " + RESOURCE
                            + "; build the jar with `packager build` (or job-template/scripts/dev-jar.sh)");
                }
                ByteArrayOutputStream out = new ByteArrayOutputStream(4 << 20);
                in.transferTo(out);
                return out.toByteArray();
            }
        };
    }

    /** A kernel from a file (tests). */
    static KernelSource file(String path) {
        return () -> Files.readAllBytes(Paths.get(path));
    }
}
