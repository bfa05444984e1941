import Ensemble
import Foundation
import Hosts

/// A real ZooKeeper client process (python3 with kazoo) in its own sandbox host, which reads its
/// connection string from its own config file when it starts, as Patroni reads `zookeeper:
/// hosts:` from its YAML. Its sessions come from its host's address, so `cons` on the servers
/// tells them apart from the rehearsal's in-process clients (which connect from the control address).
struct ConfigFileClient: Sendable {
    var host: SandboxHost
    var format: ClientConfigFormat
    var key: String
    var script: String

    var name: String { host.name }
    var configPath: String { host.directory + "/client.\(format.rawValue)" }
    var pidPath: String { host.directory + "/client.pid" }
    var logPath: String { host.directory + "/client.log" }

    var controlPath: String { host.directory + "/client-control.sh" }
    /// Stops the running process, if any, and starts it again: it reads its file anew.
    var restart: String { "/bin/sh \(shellQuoted(controlPath)) restart" }
    var stop: String { "/bin/sh \(shellQuoted(controlPath)) stop" }
    /// Healthy: the process runs and its last line says it is connected or wrote.
    var healthCheck: String { "/bin/sh \(shellQuoted(controlPath)) health" }

    /// The member's restart, stop and health commands as one script, so the inventory names one
    /// program (`/bin/sh`) that preflight finds on the host.
    var controlScript: String {
        let pid = shellQuoted(pidPath)
        let log = shellQuoted(logPath)
        return """
            #!/bin/sh
            # The rehearsal's \(format.rawValue) client on \(name): restart | stop | health
            case "$1" in
            restart)
                if [ -f \(pid) ]; then kill "$(cat \(pid))" 2>/dev/null; fi
                setsid /usr/bin/python3 \(shellQuoted(script)) \(format.rawValue) \(shellQuoted(configPath)) \(shellQuoted(key)) \(shellQuoted(name)) \(log) </dev/null >>\(log) 2>&1 &
                echo $! > \(pid) ;;
            stop)
                if [ -f \(pid) ]; then kill "$(cat \(pid))" 2>/dev/null; rm -f \(pid); fi ;;
            health)
                [ -f \(pid) ] && kill -0 "$(cat \(pid))" && tail -n 1 \(log) | grep -qE '^(connected|acked) ' ;;
            *) echo "usage: $0 restart|stop|health" >&2; exit 2 ;;
            esac

            """
    }

    /// Writes the file naming `connectionString` and starts the process.
    func start(_ text: String, manager: SandboxManager) async throws {
        let driver = try manager.hostDriver(for: name)
        _ = try await driver.writeFile(controlPath, contents: controlScript)
        _ = try await driver.writeFile(configPath, contents: text)
        try await driver.check(restart, timeout: .seconds(30), operation: "start the rehearsal client \(name)")
    }

    /// Waits until the process logs that it connected (kazoo gives up after 30 s).
    func waitUntilConnected() async throws {
        for _ in 0..<160 {
            if !log().connected.isEmpty { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        let tail = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(400)
        throw HostError(.timeout, host: name, operation: "start the rehearsal client \(name)", "it did not connect within 40 s; \(logPath) ends: \(tail)")
    }

    func stopProcess(manager: SandboxManager) async {
        _ = try? await manager.hostDriver(for: name).run(stop, timeout: .seconds(10))
    }

    /// What the process logged: the connection strings it connected with, in order, and how many
    /// writes were acknowledged after the last connect.
    func log() -> (connected: [String], ackedSinceLast: Int) {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        var connected: [String] = []
        var acked = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("connected ") {
                connected.append(String(line.dropFirst("connected ".count)))
                acked = 0
            } else if line.hasPrefix("acked ") {
                acked += 1
            }
        }
        return (connected, acked)
    }

    /// The program, as ``ConfigFileClientProgram/python``.
    static var program: String { ConfigFileClientProgram.python }
}

/// A real ZooKeeper client (python3 with kazoo) that reads its connection string from its own
/// config file when it starts, as Patroni (YAML), HBase (Hadoop XML), Solr (solr.in.sh) or Kafka
/// (properties) do. The rehearsal runs it on its client hosts; the tests run it too.
public enum ConfigFileClientProgram {
    /// `python3 - FORMAT FILE KEY NAME LOG`: connects with the file's connection string, writes a
    /// sequential znode every 0.3 s under `/acked/NAME` (in the chroot) and logs `connected HOSTS`,
    /// then `acked N` or `failed ERROR` for each write.
    public static let python = #"""
        #!/usr/bin/python3
        # A real ZooKeeper client that reads its connection string from its own config file, the way
        # Patroni (YAML), HBase (Hadoop XML) or Solr (solr.in.sh) do, connects with kazoo and stays
        # connected until it is stopped. It writes one numbered znode every 0.3 s under /acked/NAME and logs
        # each acknowledged number, so a test can check no acknowledged write was lost.
        #
        # usage: config_client.py FORMAT FILE KEY NAME LOG
        import re
        import sys
        import time
        import xml.etree.ElementTree as ET

        import yaml
        from kazoo.client import KazooClient


        def read(fmt, path, key):
            text = open(path).read()
            if fmt == "yaml":
                value = yaml.safe_load(text)
                for part in key.split("."):
                    value = value[part]
                return ",".join(value) if isinstance(value, list) else value
            if fmt == "xml":
                for prop in ET.fromstring(text).iter("property"):
                    if prop.findtext("name").strip() == key:
                        return prop.findtext("value").strip()
            if fmt == "env":
                for line in text.splitlines():
                    match = re.match(r'\s*(?:export\s+)?' + re.escape(key) + r'=["\']?([^"\'\s]*)', line)
                    if match:
                        return match.group(1)
            if fmt == "properties":
                for line in text.splitlines():
                    if line.strip().startswith(key):
                        return line.split("=", 1)[1].strip()
            raise SystemExit("no %s in %s" % (key, path))


        def main():
            fmt, path, key, name, log = sys.argv[1:6]
            hosts = read(fmt, path, key)
            zk = KazooClient(hosts=hosts, timeout=10)
            zk.start(timeout=30)
            zk.ensure_path("/acked/" + name)
            with open(log, "a") as out:
                out.write("connected %s\n" % hosts)
                out.flush()
                while True:
                    try:
                        created = zk.create("/acked/%s/n-" % name, b"", sequence=True)
                        out.write("acked %s\n" % created.rsplit("/", 1)[1])
                        out.flush()
                    except Exception as error:  # a write that failed is not acknowledged
                        out.write("failed %s\n" % error)
                        out.flush()
                    time.sleep(0.3)


        main()
        """#
}
