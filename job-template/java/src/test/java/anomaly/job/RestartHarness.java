package anomaly.job;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashSet;
import java.util.Set;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
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
 * Runs in its own JVM, whose classpath has Flink but not the job: one MiniCluster, to which the job jar is submitted
 * three times (as `flink run` would), each time in a new user-code classloader that loads the native host again. The
 * first run (an endless file source) is cancelled once its output is complete; the next two run to the end; the JVM
 * collects garbage in between. A crash at unload or GC kills this JVM, which the calling test sees.
 *
 * <p>{@code RestartHarness JAR EVENTS WORK_DIR EXPECTED_ANOMALIES}
 */
@SuppressWarnings("try")
public final class RestartHarness {
    public static void main(String[] args) {
        HarnessMain.run(args, RestartHarness::run);
    }

    private static void run(String[] args) throws Exception {
        Path jar = Paths.get(args[0]);
        Path events = Paths.get(args[1]);
        Path work = Paths.get(args[2]);
        int expectedAnomalies = Integer.parseInt(args[3]);
        try {
            Class.forName("anomaly.job.NativeKernel");
            throw new IllegalStateException("the job must not be on this JVM's classpath: each run must load it in its own classloader");
        } catch (ClassNotFoundException expected) {
            // as it should be
        }

        Configuration config = new Configuration();
        config.set(TaskManagerOptions.NUM_TASK_SLOTS, 4);
        // Any free port: suites of both Flink versions (and other tests on the machine) run side by side.
        config.set(RestOptions.BIND_PORT, "0");
        MiniClusterConfiguration cluster = new MiniClusterConfiguration.Builder()
                .setConfiguration(config)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(4)
                .build();
        Set<String> seen = new HashSet<>();
        try (MiniCluster miniCluster = new MiniCluster(cluster)) {
            miniCluster.start();

            Path run1 = work.resolve("run1");
            JobID first = submit(miniCluster, jar, properties(work, events, run1, true), config);
            CommittedLines.await(run1.resolve("anomalies"), expectedAnomalies, 180_000, () -> null);
            seen.addAll(HostLibraryCopies.mapped());
            miniCluster.cancelJob(first).get();
            waitForStatus(miniCluster, first, JobStatus.CANCELED);
            HostLibraryCopies.collectGarbage();

            for (String name : new String[] {"run2", "run3"}) {
                Path out = work.resolve(name);
                JobID id = submit(miniCluster, jar, properties(work, events, out, false), config);
                JobResult result = miniCluster.requestJobResult(id).get();
                if (!result.isSuccess()) {
                    throw new IllegalStateException(name + " failed", result.getSerializedThrowable().get());
                }
                seen.addAll(HostLibraryCopies.mapped());
                HostLibraryCopies.collectGarbage();
            }
        }
        HostLibraryCopies.collectGarbage();
        if (seen.size() < 3) {
            throw new IllegalStateException("expected each run to load its own copy of the host library, saw " + seen);
        }
        System.out.println("host library copies loaded: " + seen.size() + ", still mapped after the cluster stopped and GC: "
                + HostLibraryCopies.mapped().size());
        System.out.println("restarts survived");
    }

    private static JobID submit(MiniCluster miniCluster, Path jar, Path properties, Configuration config) throws Exception {
        PackagedProgram program = PackagedProgram.newBuilder()
                .setJarFile(jar.toFile())
                .setArguments("--properties", properties.toString())
                .setConfiguration(config)
                .build();
        JobGraph graph = PackagedProgramUtils.createJobGraph(program, config, 2, false);
        return miniCluster.submitJob(graph).get().getJobID();
    }

    private static Path properties(Path work, Path events, Path out, boolean endless) throws IOException {
        String source = "{\"connector\":\"file\",\"path\":\"" + events + "\"" + (endless ? ",\"monitor_interval_ms\":\"500\"" : "") + "}";
        String json = "[{\"PropertyGroupId\":\"source\",\"PropertyMap\":" + source + "},"
                + "{\"PropertyGroupId\":\"anomalies\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + out.resolve("anomalies") + "\"}},"
                + "{\"PropertyGroupId\":\"dead_letters\",\"PropertyMap\":{\"connector\":\"file\",\"path\":\"" + out.resolve("dead-letters") + "\"}},"
                + "{\"PropertyGroupId\":\"detector\",\"PropertyMap\":{\"threshold_multiplier\":\"3.0\",\"min_events\":\"10\",\"velocity\":\"true\",\"population_events\":\"0\"}},"
                + "{\"PropertyGroupId\":\"job\",\"PropertyMap\":{\"checkpoint_interval_ms\":\"500\"}}]";
        Path file = work.resolve(out.getFileName() + "-properties.json");
        Files.write(file, json.getBytes(StandardCharsets.UTF_8));
        return file;
    }

    private static void waitForStatus(MiniCluster miniCluster, JobID id, JobStatus status) throws Exception {
        for (int i = 0; i < 600; i++) {
            if (miniCluster.getJobStatus(id).get() == status) {
                return;
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("job " + id + " did not reach " + status);
    }
}
