package anomaly.job;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.SplittableRandom;

/**
 * A seeded stream of transaction events (JSON lines) for tests and the benchmark, until `packager generate` is on
 * main: many keys, each with its own typical amount and pace, occasional spikes and bursts (so both detectors fire),
 * and a fraction of bad records of every kind the parser refuses.
 *
 * <p>{@code EventGenerator OUT EVENTS KEYS SEED [BAD_FRACTION]}
 */
public final class EventGenerator {
    private final SplittableRandom random;
    private final int keys;
    private final double badFraction;
    private final double[] typical;
    private long clock = 1_700_000_000_000L;
    private long sequence;
    private int burstKey = -1;
    private int burstLeft;
    private long good;
    private long bad;

    public EventGenerator(long seed, int keys, double badFraction) {
        this.random = new SplittableRandom(seed);
        this.keys = keys;
        this.badFraction = badFraction;
        this.typical = new double[keys];
        for (int k = 0; k < keys; k++) {
            typical[k] = Math.exp(2 + 4 * random.nextDouble());
        }
    }

    /** Good records written so far. */
    public long good() {
        return good;
    }

    /** Bad records written so far. */
    public long bad() {
        return bad;
    }

    /** The next record (without its newline). */
    public byte[] next() {
        sequence++;
        clock += random.nextInt(0, 2_000);
        if (random.nextDouble() < badFraction) {
            bad++;
            return badRecord();
        }
        good++;
        int key;
        if (burstLeft > 0) {
            key = burstKey;
            burstLeft--;
        } else {
            key = random.nextInt(keys);
            if (random.nextDouble() < 0.002) {
                burstKey = key;
                burstLeft = 6;
            }
        }
        double amount = typical[key] * Math.exp(0.3 * gaussian());
        if (random.nextDouble() < 0.005) {
            amount *= 20 + 30 * random.nextDouble();
        }
        return event(key, Math.round(amount * 100) / 100.0, clock).getBytes(StandardCharsets.UTF_8);
    }

    private String event(int key, double amount, long timestamp) {
        return "{\"userId\":\"user" + key + "\",\"amount\":" + amount + ",\"timestamp\":" + timestamp + ",\"transactionId\":\"txn-"
                + sequence + "\",\"merchantId\":\"merchant-" + (sequence % 97) + "\"}";
    }

    private double gaussian() {
        // Box–Muller; SplittableRandom has no nextGaussian on Java 11.
        double u = 1 - random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
    }

    private byte[] badRecord() {
        String user = "user" + random.nextInt(keys);
        switch (random.nextInt(8)) {
            case 0:
                return ("{\"userId\":\"" + user + "\",\"amount\":12.5,\"timestamp\":" + clock).getBytes(StandardCharsets.UTF_8);
            case 1:
                return ("{\"userId\":\"" + user + "\",\"amount\":\"12.50\",\"timestamp\":" + clock + "}").getBytes(StandardCharsets.UTF_8);
            case 2:
                return ("{\"userId\":\"" + user + "\",\"amount\":-4,\"timestamp\":" + clock + "}").getBytes(StandardCharsets.UTF_8);
            case 3:
                return ("{\"amount\":3,\"timestamp\":" + clock + "}").getBytes(StandardCharsets.UTF_8);
            case 4:
                return ("{\"userId\":\"" + user + "\",\"amount\":3,\"timestamp\":" + clock / 1000 + "}").getBytes(StandardCharsets.UTF_8);
            case 5:
                return "[1,2,3]".getBytes(StandardCharsets.UTF_8);
            case 6:
                return new byte[] {'{', '"', 'u', 's', 'e', 'r', 'I', 'd', '"', ':', '"', (byte) 0xff, (byte) 0xfe, '"', '}'};
            default:
                return ("{\"userId\":\"" + user + "\",\"amount\":1,\"amount\":2,\"timestamp\":" + clock + "}").getBytes(StandardCharsets.UTF_8);
        }
    }

    /** Writes {@code events} records to {@code out}, one per line. */
    public void write(Path out, long events) throws IOException {
        try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(out), 1 << 20)) {
            for (long i = 0; i < events; i++) {
                o.write(next());
                o.write('\n');
            }
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 4) {
            System.err.println("usage: EventGenerator OUT EVENTS KEYS SEED [BAD_FRACTION]");
            System.exit(2);
        }
        double badFraction = args.length > 4 ? Double.parseDouble(args[4]) : 0.01;
        EventGenerator generator = new EventGenerator(Long.parseLong(args[3]), Integer.parseInt(args[2]), badFraction);
        generator.write(Paths.get(args[0]), Long.parseLong(args[1]));
        System.out.println(generator.good() + " good, " + generator.bad() + " bad records written to " + args[0]);
    }
}
