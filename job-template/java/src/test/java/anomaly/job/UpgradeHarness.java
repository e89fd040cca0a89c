package anomaly.job;

import java.nio.file.Path;
import java.nio.file.Paths;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.client.program.PackagedProgram;
import org.apache.flink.client.program.PackagedProgramUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;

/**
 * One half of the 1.20 → 2.2 upgrade ({@link UpgradeTest}), in a JVM whose classpath has one Flink release and not
 * the job: the job jar built for that release is submitted to a MiniCluster (RocksDB, as on Managed Flink) with the
 * property file given, reading a watched directory.
 *
 * <ul>
 *   <li>{@code savepoint JAR PROPERTIES ANOMALIES_DIR EXPECTED SAVEPOINT_DIR}: runs until EXPECTED anomalies are
 *       committed, then stops the job with a canonical savepoint and prints {@code savepoint: PATH};
 *   <li>{@code restore JAR PROPERTIES ANOMALIES_DIR EXPECTED SAVEPOINT}: restores the savepoint (no state may be left
 *       behind), runs until EXPECTED anomalies are committed in all, then cancels the job.
 * </ul>
 */
@SuppressWarnings("try")
public final class UpgradeHarness {
    public static void main(String[] args) {
        HarnessMain.run(args, UpgradeHarness::run);
    }

    private static void run(String[] args) throws Exception {
        String mode = args[0];
        Path jar = Paths.get(args[1]);
        Path properties = Paths.get(args[2]);
        Path anomalies = Paths.get(args[3]);
        int expected = Integer.parseInt(args[4]);
        String savepoint = args[5];

        Configuration config = clusterConfig();
        PackagedProgram program =
                PackagedProgram.newBuilder().setJarFile(jar.toFile()).setArguments("--properties", properties.toString()).setConfiguration(config).build();
        JobGraph graph = PackagedProgramUtils.createJobGraph(program, config, 2, false);
        String path = runUntil(graph, config, anomalies, expected, mode.equals("restore") ? savepoint : null, savepoint);
        if (path != null) {
            System.out.println("savepoint: " + path);
        }
        System.out.println("committed anomalies: " + CommittedLines.count(anomalies));
    }

    /** A MiniCluster's configuration as on Managed Flink where it matters here: RocksDB state, frequent checkpoints. */
    static Configuration clusterConfig() {
        Configuration config = new Configuration();
        // Any free port: suites of both Flink versions (and other tests on the machine) run side by side.
        config.set(RestOptions.BIND_PORT, "0");
        config.setString("state.backend.type", "rocksdb");
        config.setString("execution.checkpointing.interval", "500 ms");
        return config;
    }

    /**
     * Runs {@code graph} on a MiniCluster of {@code config}, restored from {@code restoreFrom} when it is not null (no
     * state may be left behind), until {@code expected} anomalies are committed under {@code anomalies}; then cancels
     * it after a restore, else stops it with a canonical savepoint under {@code savepointDir} and returns its path.
     */
    static String runUntil(JobGraph graph, Configuration config, Path anomalies, int expected, String restoreFrom, String savepointDir)
            throws Exception {
        MiniClusterConfiguration cluster =
                new MiniClusterConfiguration.Builder().setConfiguration(config).setNumTaskManagers(1).setNumSlotsPerTaskManager(4).build();
        try (MiniCluster miniCluster = new MiniCluster(cluster)) {
            miniCluster.start();
            if (restoreFrom != null) {
                // allowNonRestoredState = false: every operator's state in the savepoint must find its operator.
                graph.setSavepointRestoreSettings(SavepointRestoreSettings.forPath(restoreFrom, false));
            }
            JobID id = miniCluster.submitJob(graph).get().getJobID();
            CommittedLines.await(anomalies, expected, 240_000, () -> {
                JobStatus status = miniCluster.getJobStatus(id).get();
                return status.isGloballyTerminalState() ? "the job ended (" + status + ")" : null;
            });
            if (restoreFrom == null) {
                return miniCluster.stopWithSavepoint(id, savepointDir, false, SavepointFormatType.CANONICAL).get();
            }
            miniCluster.cancelJob(id).get();
            return null;
        }
    }
}
