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
                setsid /usr/bin/python3 \(shellQuoted(script)) \(format.rawValue) \(shellQuoted(configPath)) \(shellQuoted(key)) \(log) </dev/null >>\(log) 2>&1 &
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

    /// The program: reads the connection string from the file (a YAML key path whose value is a
    /// list or a comma-separated string, or a properties key), connects with kazoo, and writes a
    /// sequential znode every 0.3 s under `/acked` (in the connection string's chroot), logging
    /// each acknowledged one.
    static let program = """
        import sys, time
        import yaml
        from kazoo.client import KazooClient

        def read(fmt, path, key):
            text = open(path).read()
            if fmt == "yaml":
                value = yaml.safe_load(text)
                for part in key.split("."):
                    value = value[part]
                return ",".join(value) if isinstance(value, list) else value
            for line in text.splitlines():
                if line.strip().startswith(key + "="):
                    return line.split("=", 1)[1].strip()
            raise SystemExit("no %s in %s" % (key, path))

        fmt, path, key, log = sys.argv[1:5]
        hosts = read(fmt, path, key)
        zk = KazooClient(hosts=hosts, timeout=10)
        zk.start(timeout=30)
        zk.ensure_path("/acked")
        with open(log, "a") as out:
            out.write("connected %s\\n" % hosts)
            out.flush()
            while True:
                try:
                    created = zk.create("/acked/n-", b"", sequence=True)
                    out.write("acked %s\\n" % created.rsplit("/", 1)[1])
                except Exception as error:
                    out.write("failed %s\\n" % error)
                out.flush()
                time.sleep(0.3)
        """
}
