package anomaly.job;

import java.io.IOException;
import java.io.OutputStream;
import org.apache.flink.api.common.serialization.Encoder;

/** Writes each record as one line; the kernel's JSON never holds a raw newline. */
final class LineEncoder implements Encoder<byte[]> {
    private static final long serialVersionUID = 1L;

    @Override
    public void encode(byte[] record, OutputStream out) throws IOException {
        out.write(record);
        out.write('\n');
    }
}
