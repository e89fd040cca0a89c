package anomaly.job;

/** The kernel or its native host refused a call; the message is the host's or the kernel's own. */
public class KernelException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public KernelException(String message) {
        super(message);
    }
}
