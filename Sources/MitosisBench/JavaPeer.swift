import Foundation

/// The official Java client as a peer: its async API (`create`/`getData` with callbacks), pipelined
/// with the same window as the other peers, on the same server, in the same run. Completion times
/// are taken in its callbacks. It first does the same creates and gets once untimed (its own JIT
/// warm-up), then measures. Client CPU is the JVM's process CPU time (every thread, JIT and GC
/// included); context switches are summed over the JVM's live threads (/proc/self/task/*/status).
/// Compiled with javac against Debian's /usr/share/java/zookeeper.jar (3.8.0) when it runs.
enum JavaPeer {
    static let classpath = ["zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-nop.jar"].map { "/usr/share/java/\($0)" }.joined(separator: ":")

    static let source = #"""
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

// The official Java client's async API, pipelined with the same window as the other peers.
// Completion times are taken in its callbacks (its event thread). Args: hosts prefix count window size.
public class JavaPeer {
    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    // Voluntary + involuntary context switches of every live thread of this process.
    static long contextSwitches() throws Exception {
        long total = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Paths.get("/proc/self/task"))) {
            for (Path task : tasks) {
                List<String> lines;
                try { lines = Files.readAllLines(task.resolve("status")); } catch (java.io.IOException gone) { continue; }
                for (String line : lines) {
                    if (line.startsWith("voluntary_ctxt_switches:") || line.startsWith("nonvoluntary_ctxt_switches:")) {
                        total += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
                    }
                }
            }
        }
        return total;
    }

    static String run(ZooKeeper zk, String op, String prefix, int count, int window, byte[] payload) throws Exception {
        long[] latencies = new long[count];
        Semaphore slots = new Semaphore(window);
        CountDownLatch done = new CountDownLatch(count);
        AtomicInteger errors = new AtomicInteger();
        long began = System.nanoTime();
        long cpuBegan = processCpuNanos();
        long switchesBegan = contextSwitches();
        for (int i = 0; i < count; i++) {
            slots.acquire();
            String path = String.format("%s/k%08d", prefix, i);
            final int index = i;
            final long start = System.nanoTime();
            if (op.equals("create")) {
                zk.create(path, payload, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, (AsyncCallback.StringCallback) (rc, p, ctx, name) -> {
                    latencies[index] = System.nanoTime() - start;
                    if (rc != 0) errors.incrementAndGet();
                    slots.release();
                    done.countDown();
                }, null);
            } else {
                zk.getData(path, false, (AsyncCallback.DataCallback) (rc, p, ctx, data, stat) -> {
                    latencies[index] = System.nanoTime() - start;
                    if (rc != 0) errors.incrementAndGet();
                    slots.release();
                    done.countDown();
                }, null);
            }
        }
        done.await();
        double seconds = (System.nanoTime() - began) / 1e9;
        double cpu = (processCpuNanos() - cpuBegan) / 1e9;
        long switches = contextSwitches() - switchesBegan;
        Arrays.sort(latencies);
        java.util.function.DoubleFunction<Double> pick = q -> latencies[Math.min(count - 1, (int) (q * count))] / 1e3;
        return String.format(java.util.Locale.ROOT,
            "{\"op\":\"%s\",\"count\":%d,\"seconds\":%f,\"cpu_seconds\":%f,\"context_switches\":%d,\"errors\":%d,\"p50_us\":%f,\"p99_us\":%f,\"p999_us\":%f}",
            op, count, seconds, cpu, switches, errors.get(), pick.apply(0.50), pick.apply(0.99), pick.apply(0.999));
    }

    public static void main(String[] args) throws Exception {
        String hosts = args[0], prefix = args[1];
        int count = Integer.parseInt(args[2]), window = Integer.parseInt(args[3]), size = Integer.parseInt(args[4]);
        byte[] payload = new byte[size];
        Arrays.fill(payload, (byte) 'x');
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, 10000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        if (!connected.await(15, java.util.concurrent.TimeUnit.SECONDS)) throw new IllegalStateException("not connected to " + hosts + " within 15 s");
        for (String path : new String[] {prefix, prefix + "-warmup"}) {
            try { zk.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT); } catch (KeeperException.NodeExistsException exists) { }
        }
        // Untimed: the same work once, so that the measured phases do not pay for the JIT.
        run(zk, "create", prefix + "-warmup", count, window, payload);
        run(zk, "get", prefix + "-warmup", count, window, payload);
        String create = run(zk, "create", prefix, count, window, payload);
        String get = run(zk, "get", prefix, count, window, payload);
        zk.close();
        System.out.println("[" + create + "," + get + "]");
    }
}
"""#
}
