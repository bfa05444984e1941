// Independent reader/writer for interop tests: the official Java client, run as a single-file
// program (`java -cp <zookeeper jars> ZkInterop.java ...`).
//
//   dump HOSTS [--auth=user:pw] PATH...   -> JSON {path: {"data_hex","acl","stat"}} on stdout
//   write HOSTS [--auth=user:pw] PATH DATA_HEX SCHEME:ID:PERMS[,SCHEME:ID:PERMS...]
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

public class ZkInterop {
    public static void main(String[] args) throws Exception {
        String command = args[0];
        String hosts = args[1];
        int next = 2;
        String auth = null;
        if (args.length > 2 && args[2].startsWith("--auth=")) {
            auth = args[2].substring("--auth=".length());
            next = 3;
        }
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, 10000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        if (!connected.await(15, TimeUnit.SECONDS)) throw new IllegalStateException("no session with " + hosts);
        if (auth != null) zk.addAuthInfo("digest", auth.getBytes("UTF-8"));
        try {
            if (command.equals("dump")) {
                StringBuilder out = new StringBuilder("{");
                for (int i = next; i < args.length; i++) {
                    String path = args[i];
                    Stat stat = new Stat();
                    byte[] data = zk.getData(path, false, stat);
                    List<ACL> acls = zk.getACL(path, new Stat());
                    if (i > next) out.append(",");
                    out.append(quote(path)).append(":{\"data_hex\":").append(quote(hex(data))).append(",\"acl\":[");
                    for (int j = 0; j < acls.size(); j++) {
                        ACL a = acls.get(j);
                        if (j > 0) out.append(",");
                        out.append("{\"perms\":").append(a.getPerms())
                           .append(",\"scheme\":").append(quote(a.getId().getScheme()))
                           .append(",\"id\":").append(quote(a.getId().getId())).append("}");
                    }
                    out.append("],\"stat\":{")
                       .append("\"czxid\":").append(stat.getCzxid())
                       .append(",\"mzxid\":").append(stat.getMzxid())
                       .append(",\"ctime\":").append(stat.getCtime())
                       .append(",\"mtime\":").append(stat.getMtime())
                       .append(",\"version\":").append(stat.getVersion())
                       .append(",\"cversion\":").append(stat.getCversion())
                       .append(",\"aversion\":").append(stat.getAversion())
                       .append(",\"ephemeralOwner\":").append(stat.getEphemeralOwner())
                       .append(",\"dataLength\":").append(stat.getDataLength())
                       .append(",\"numChildren\":").append(stat.getNumChildren())
                       .append(",\"pzxid\":").append(stat.getPzxid())
                       .append("}}");
                }
                System.out.println(out.append("}"));
            } else if (command.equals("write")) {
                String path = args[next];
                byte[] data = unhex(args[next + 1]);
                List<ACL> acls = new ArrayList<>();
                for (String entry : args[next + 2].split(",")) {
                    int first = entry.indexOf(':');
                    int last = entry.lastIndexOf(':');
                    acls.add(new ACL(Integer.parseInt(entry.substring(last + 1)),
                        new Id(entry.substring(0, first), entry.substring(first + 1, last))));
                }
                zk.create(path, data, acls, CreateMode.PERSISTENT);
                System.out.println("ok");
            } else {
                throw new IllegalArgumentException("unknown command " + command);
            }
        } finally {
            zk.close();
        }
    }

    static String hex(byte[] data) {
        StringBuilder text = new StringBuilder();
        if (data != null) for (byte b : data) text.append(String.format("%02x", b));
        return text.toString();
    }

    static byte[] unhex(String text) {
        byte[] data = new byte[text.length() / 2];
        for (int i = 0; i < data.length; i++) data[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
        return data;
    }

    static String quote(String text) {
        return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
