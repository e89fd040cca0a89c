package anomaly.job;

/** The main of a harness JVM: runs the body, and ends the JVM either way, failing with status 1. */
final class HarnessMain {
    /** A harness's work. */
    interface Body {
        void run(String[] args) throws Exception;
    }

    private HarnessMain() {}

    static void run(String[] args, Body body) {
        try {
            body.run(args);
        } catch (Throwable t) {
            // A half-started MiniCluster keeps threads alive that would keep this JVM (and the waiting test) running.
            t.printStackTrace();
            System.exit(1);
        }
        System.exit(0);
    }
}
