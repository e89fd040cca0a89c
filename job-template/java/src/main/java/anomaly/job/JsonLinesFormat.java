package anomaly.job;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.file.src.reader.SimpleStreamFormat;
import org.apache.flink.connector.file.src.reader.StreamFormat;
import org.apache.flink.core.fs.FSDataInputStream;

/**
 * Reads a file as lines of raw bytes, never decoding them: a record that is not UTF-8 must reach the kernel as sent,
 * so its dead letter can carry it losslessly. As in {@code packager run}, line ends ({@code \n}, {@code \r\n}) are
 * removed and blank lines (ASCII whitespace only) are skipped. A line longer than {@code maxLineBytes} is cut there
 * (and the rest of the line dropped); keep the limit above the kernel's {@code max_record_bytes}, so the kernel still
 * refuses the cut record as oversized.
 */
final class JsonLinesFormat extends SimpleStreamFormat<byte[]> {
    private static final long serialVersionUID = 1L;
    private final int maxLineBytes;

    JsonLinesFormat(int maxLineBytes) {
        this.maxLineBytes = maxLineBytes;
    }

    @Override
    public StreamFormat.Reader<byte[]> createReader(Configuration config, FSDataInputStream stream) {
        return new LineReader(stream, maxLineBytes);
    }

    @Override
    public TypeInformation<byte[]> getProducedType() {
        return PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO;
    }

    static final class LineReader implements StreamFormat.Reader<byte[]> {
        private final InputStream in;
        private final int maxLineBytes;
        private final byte[] buffer = new byte[64 << 10];
        private int position;
        private int limit;
        private byte[] line = new byte[256];

        LineReader(InputStream in, int maxLineBytes) {
            this.in = in;
            this.maxLineBytes = maxLineBytes;
        }

        @Override
        public byte[] read() throws IOException {
            while (true) {
                int length = 0;
                boolean sawAny = false;
                while (true) {
                    if (position == limit) {
                        limit = in.read(buffer, 0, buffer.length);
                        position = 0;
                        if (limit <= 0) {
                            limit = 0;
                            if (!sawAny) {
                                return null;
                            }
                            break;
                        }
                    }
                    sawAny = true;
                    int start = position;
                    while (position < limit && buffer[position] != '\n') {
                        position++;
                    }
                    length = append(length, start, position - start);
                    if (position < limit) {
                        position++; // the newline
                        break;
                    }
                }
                while (length > 0 && line[length - 1] == '\r') {
                    length--;
                }
                if (!blank(length)) {
                    return Arrays.copyOf(line, length);
                }
            }
        }

        /** Whether the line is ASCII whitespace only (Rust's {@code u8::is_ascii_whitespace}, as packager run uses). */
        private boolean blank(int length) {
            for (int i = 0; i < length; i++) {
                byte b = line[i];
                if (b != ' ' && b != '\t' && b != '\n' && b != '\f' && b != '\r') {
                    return false;
                }
            }
            return true;
        }

        private int append(int length, int from, int count) {
            int take = Math.min(count, maxLineBytes - length);
            if (take <= 0) {
                return length;
            }
            if (length + take > line.length) {
                line = Arrays.copyOf(line, (int) Math.min(maxLineBytes, Math.max(length + take, 2L * line.length)));
            }
            System.arraycopy(buffer, from, line, length, take);
            return length + take;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
