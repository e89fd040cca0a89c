package anomaly.job;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.JobID;
import org.apache.flink.client.program.PackagedProgram;
import org.apache.flink.client.program.PackagedProgramUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;

/**
 * Runs in its own JVM, whose classpath has Flink and the test classes but not the job: proves that the host's
 * signal-based traps (wasmtime's SIGSEGV/SIGILL/SIGFPE handlers in front of the JVM's own) leave the JVM safe.
 *
 * <p>While other threads of this JVM throw and catch NullPointerExceptions, spin in compiled loops and force
 * safepoints (each a SIGSEGV on a polling page for every thread in compiled Java code, handled by HotSpot through
 * wasmtime's handler), the job jar is submitted to one MiniCluster {@code ROUNDS} times, each time in a new classloader
 * that loads its own copy of the host library, with garbage collected in between: the real kernel over a generated
 * stream, and a kernel that faults in every way it can ({@code faults.wat}: a guard-page access, a division by zero,
 * {@code unreachable}, a loop that never ends). A last run uses the engine without signal handlers
 * ({@code job.signal_traps = false}) in the same JVM. Every run must succeed; the calling test checks every output.
 * A crash kills this JVM, which the calling test sees.
 *
 * <p>{@code JvmSafetyHarness JAR TEST_CLASSES EVENTS FAULT_RECORDS FAULTS_CWASM WORK_DIR ROUNDS}
 */
@SuppressWarnings("try")
public final class JvmSafetyHarness {
    private static final AtomicBoolean RUNNING = new AtomicBoolean(true);
    private static final AtomicLong NPES = new AtomicLong();
    private static final AtomicLong SAFEPOINTS = new AtomicLong();
    private static volatile long sink;

    public static void main(String[] args) throws Exception {
        Path jar = Paths.get(args[0]);
        URL testClasses = Paths.get(args[1]).toUri().toURL();
        Path events = Paths.get(args[2]);
        Path faultRecords = Paths.get(args[3]);
        Path faultsKernel = Paths.get(args[4]);
        Path work = Paths.get(args[5]);
        int rounds = Integer.parseInt(args[6]);
        try {
            Class.forName("anomaly.job.NativeKernel");
            throw new IllegalStateException("the job must not be on this JVM's classpath: each run must load it in its own classloader");
        } catch (ClassNotFoundException expected) {
            // as it should be
        }

        List<Thread> noise = List.of(new Thread(JvmSafetyHarness::throwNpes, "npe-storm"), new Thread(JvmSafetyHarness::spin, "spinner"),
                new Thread(JvmSafetyHarness::forceSafepoints, "safepoints"));
        noise.forEach(Thread::start);

        Configuration config = new Configuration();
        config.set(TaskManagerOptions.NUM_TASK_SLOTS, 4);
        // Any free port: suites of both Flink versions (and other tests on the machine) run side by side.
        config.set(RestOptions.BIND_PORT, "0");
        MiniClusterConfiguration cluster = new MiniClusterConfiguration.Builder()
                .setConfiguration(config)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(4)
                .build();
        Set<String> loaded = new HashSet<>();
        long unloadedBefore = ManagementFactory.getClassLoadingMXBean().getUnloadedClassCount();
        try (MiniCluster miniCluster = new MiniCluster(cluster)) {
            miniCluster.start();
            for (int round = 1; round <= rounds; round++) {
                run(miniCluster, jar, testClasses, properties(work, events, "real-" + round, true), null, config);
                loaded.addAll(HostLibraryCopies.mapped());
                run(miniCluster, jar, testClasses, properties(work, faultRecords, "faults-" + round, true), faultsKernel, config);
                loaded.addAll(HostLibraryCopies.mapped());
                HostLibraryCopies.collectGarbage();
            }
            run(miniCluster, jar, testClasses, properties(work, events, "real-no-signals", false), null, config);
            loaded.addAll(HostLibraryCopies.mapped());
        }
        HostLibraryCopies.collectGarbage();
        RUNNING.set(false);
        for (Thread t : noise) {
            t.join();
        }

        long unloaded = ManagementFactory.getClassLoadingMXBean().getUnloadedClassCount() - unloadedBefore;
        Set<String> mapped = HostLibraryCopies.mapped();
        System.out.println("host library copies loaded: " + loaded.size() + ", still mapped at the end: " + mapped.size()
                + ", classes unloaded: " + unloaded + ", NPEs caught: " + NPES.get() + ", forced safepoints: " + SAFEPOINTS.get());
        if (loaded.size() < 2 * rounds + 1) {
            throw new IllegalStateException("expected each run to load its own copy of the host library, saw " + loaded);
        }
        if (unloaded == 0) {
            throw new IllegalStateException("no class was unloaded: the runs' classloaders were never collected, so this proved nothing");
        }
        if (!mapped.containsAll(loaded)) {
            throw new IllegalStateException("a host library copy was unmapped after its classloader was collected (not pinned): loaded "
                    + loaded + ", mapped " + mapped);
        }
        System.out.println("jvm safe");
    }

    private static void run(MiniCluster miniCluster, Path jar, URL testClasses, Path properties, Path kernel, Configuration config)
            throws Exception {
        List<String> args = kernel == null ? List.of("--properties", properties.toString())
                : List.of("--properties", properties.toString(), "--kernel", kernel.toString());
        PackagedProgram program = PackagedProgram.newBuilder()
                .setJarFile(jar.toFile())
                .setUserClassPaths(Collections.singletonList(testClasses))
                .setEntryPointClassName(JvmSafetyJob.class.getName())
                .setArguments(args.toArray(new String[0]))
                .setConfiguration(config)
                .build();
        JobGraph graph = PackagedProgramUtils.createJobGraph(program, config, 2, false);
        JobID id = miniCluster.submitJob(graph).get().getJobID();
        JobResult result = miniCluster.requestJobResult(id).get();
        if (!result.isSuccess()) {
            throw new IllegalStateException(properties.getFileName() + " failed", result.getSerializedThrowable().get());
        }
        program.close();
    }

    private static Path properties(Path work, Path input, String name, boolean signalTraps) throws IOException {
        Path out = work.resolve(name);
        String json = "[{\"PropertyGroupId\":\"source\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + input + "\"}},"
                + "{\"PropertyGroupId\":\"anomalies\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + out.resolve("anomalies") + "\"}},"
                + "{\"PropertyGroupId\":\"dead_letters\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + out.resolve("dead-letters") + "\"}},"
                + "{\"PropertyGroupId\":\"detector\",\"PropertyMap\":{\"threshold_multiplier\":\"3.0\",\"min_events\":\"10\",\"velocity\":\"true\",\"population_events\":\"0\"}},"
                + "{\"PropertyGroupId\":\"job\",\"PropertyMap\":{\"checkpoint_interval_ms\":\"500\",\"signal_traps\":\"" + signalTraps + "\"}}]";
        Path file = work.resolve(name + "-properties.json");
        Files.write(file, json.getBytes(StandardCharsets.UTF_8));
        return file;
    }

    /** NullPointerExceptions thrown and caught, from interpreted and compiled code alike. */
    private static void throwNpes() {
        Object[] maybe = {"x", null};
        long i = 0;
        while (RUNNING.get()) {
            try {
                sink += maybe[(int) (i++ & 1)].hashCode();
            } catch (NullPointerException e) {
                NPES.incrementAndGet();
            }
        }
    }

    /** A compiled loop: every safepoint makes it fault on the polling page. */
    private static void spin() {
        long x = 0;
        while (RUNNING.get()) {
            for (int i = 0; i < 1_000_000; i++) {
                x = x * 31 + i;
            }
            sink = x;
        }
    }

    /** A safepoint every few milliseconds (a thread dump stops every thread), a full GC now and then. */
    private static void forceSafepoints() {
        long n = 0;
        while (RUNNING.get()) {
            Thread.getAllStackTraces();
            if (++n % 200 == 0) {
                System.gc();
            }
            SAFEPOINTS.incrementAndGet();
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
