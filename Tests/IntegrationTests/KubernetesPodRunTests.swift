import Ensemble
import Foundation
import Hosts
import Migration
import NIOPosix
import Testing
import ZooKeeper
import ZooKeeperTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// HubSpot's phase 4 run by `mitosis run` against pod hosts (`via: kubernetes`), end to end, with
/// real ZooKeeper 3.8.0 servers. No cluster can run here, so kubectl is the test double
/// (``FakeKubernetes``) with pods as processes: applying a StatefulSet writes its ConfigMap's keys
/// into the mount directory and runs the container's command (`zkServer.sh start-foreground`, a
/// shim that starts the JVM); deleting it stops the process.
///
/// Addresses: the old servers run on this machine (hosts `via: local`, 127.0.0.11–13 as their
/// Endpoints IPs), and every server, old or pod, listens on all addresses on ports of its own
/// (`quorumListenOnAllIPs`), so a server's ClusterIP (127.0.1.N) and ports reach whichever of
/// its two servers runs, as kube-proxy would once the Endpoints change.
extension RealServers {
    @Suite struct KubernetesPodRun {
        struct Estate {
            let root: URL
            let ports: [Int: (client: Int, quorum: Int, election: Int)]
            let cluster: FakeKubernetes
            var inventoryPath: String { root.appendingPathComponent("inventory.yaml").path }
            var planPath: String { root.appendingPathComponent("plan.json").path }
            var connectionString: String { (1...3).map { "127.0.1.\($0):\(ports[$0]!.client)" }.joined(separator: ",") }
            func old(_ id: Int) -> String { root.appendingPathComponent("old-\(id)").path }
            func pod(_ id: Int) -> String { root.appendingPathComponent("pod-\(id)").path }

            init() throws {
                root = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-pods-\(UUID().uuidString.prefix(8))")
                var ports: [Int: (client: Int, quorum: Int, election: Int)] = [:]
                for id in 1...3 { ports[id] = (try FreePort.allocate(), try FreePort.allocate(), try FreePort.allocate()) }
                self.ports = ports
                let bin = root.appendingPathComponent("bin").path
                try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
                cluster = try FakeKubernetes(
                    namespace: "zk",
                    services: (1...3).map { id in
                        FakeKubernetes.Service(
                            name: "zk-main-\(id)", clusterIP: "127.0.1.\(id)", endpoint: "127.0.0.1\(id)",
                            ports: [("client", ports[id]!.client), ("quorum", ports[id]!.quorum), ("election", ports[id]!.election)])
                    },
                    environment: ["FAKE_KUBECTL_PODS": "processes", "FAKE_KUBECTL_PATH": bin])
                try write()
            }

            func write() throws {
                func file(_ path: String, _ text: String, executable: Bool = false) throws {
                    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
                    if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path) }
                }
                try file(root.appendingPathComponent("log4j.properties").path, "log4j.rootLogger=WARN, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\nlog4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\nlog4j.appender.CONSOLE.layout.ConversionPattern=%d %p %c{1}: %m%n\n")
                var java = [
                    ProcessInfo.processInfo.environment["JAVA"] ?? "java", "-Xms32m", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Djava.net.preferIPv4Stack=true", "-Dzookeeper.admin.enableServer=false", "-Dlog4j.configuration=file:\(root.path)/log4j.properties",
                ]
                // scripts/test kills the servers of its own run, and only those, when it exits.
                if let run = ProcessInfo.processInfo.environment["MITOSIS_RUN_ID"] { java.append("-Dmitosis.run=\(run)") }
                java += ["-cp", try ZooKeeperDistribution.v3_8_0.classpath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain"]
                let jvm = java.map(shellQuoted).joined(separator: " ")
                // What the pods' image runs: `zkServer.sh start-foreground CONFIG`.
                try file(root.appendingPathComponent("bin/zkServer.sh").path, "#!/bin/sh\n[ \"$1\" = start-foreground ] || exit 2\nexec \(jvm) \"$2\"\n", executable: true)
                let lines = (1...3).map { "server.\($0)=127.0.1.\($0):\(ports[$0]!.quorum):\(ports[$0]!.election)" }
                let hosts = (1...3).map { "  - {name: old-\($0), address: 127.0.0.1\($0), via: local}" } + (1...3).map { "  - {name: pod-\($0), via: kubernetes, statefulSet: zk-main-\($0)}" }
                var oldServers: [String] = []
                var podServers: [String] = []
                for id in 1...3 {
                    let old = self.old(id)
                    try file(
                        "\(old)/zoo.cfg",
                        (["tickTime=1000", "initLimit=10", "syncLimit=5", "dataDir=\(old)/data", "clientPort=\(ports[id]!.client)", "quorumListenOnAllIPs=true",
                          "4lw.commands.whitelist=*", "reconfigEnabled=false", "standaloneEnabled=false"] + lines).joined(separator: "\n") + "\n")
                    try file("\(old)/data/myid", "\(id)\n")
                    let pid = shellQuoted("\(old)/pid")
                    let status = "p=$(cat \(pid) 2>/dev/null) && [ -d /proc/$p ] && ! grep -qs '^State:[[:space:]]*Z' /proc/$p/status"
                    try file("\(old)/status.sh", "#!/bin/sh\n\(status)\n", executable: true)
                    // Each script is run by sh, never executed itself: a file just written may still be
                    // open for writing in a child another test forked meanwhile (ETXTBSY).
                    try file("\(old)/start.sh", "#!/bin/sh\n/bin/sh \(old)/status.sh && exit 0\nsetsid \(jvm) \(shellQuoted("\(old)/zoo.cfg")) > \(shellQuoted("\(old)/log")) 2>&1 < /dev/null &\necho $! > \(pid)\n", executable: true)
                    try file("\(old)/stop.sh", "#!/bin/sh\n/bin/sh \(old)/status.sh || exit 0\nkill $(cat \(pid))\nwhile /bin/sh \(old)/status.sh; do sleep 0.1; done\n", executable: true)
                    let portKeys = "clientPort: \(ports[id]!.client), quorumPort: \(ports[id]!.quorum), electionPort: \(ports[id]!.election)"
                    oldServers.append(
                        "      - {id: \(id), host: old-\(id), address: 127.0.1.\(id), \(portKeys), stableAddress: {kind: service}, configPath: \(old)/zoo.cfg, dataDir: \(old)/data, commands: {start: /bin/sh \(old)/start.sh, stop: /bin/sh \(old)/stop.sh, status: /bin/sh \(old)/status.sh}}")
                    podServers.append(
                        "      - {id: \(id), host: pod-\(id), address: 127.0.1.\(id), \(portKeys), stableAddress: {kind: service}, configPath: \(pod(id))/conf/zoo.cfg, dataDir: \(pod(id))/data}")
                }
                try file(
                    inventoryPath,
                    """
                    kubernetes:
                      kubectl: \(cluster.kubectl)
                      namespace: zk
                    hosts:
                    \(hosts.joined(separator: "\n"))
                    ensembles:
                      - name: zk-main
                        version: 3.8.0
                        servers:
                    \(oldServers.joined(separator: "\n"))
                      - name: zk-k8s
                        version: 3.8.0
                        servers:
                    \(podServers.joined(separator: "\n"))

                    """)
            }

            func oldRuns(_ id: Int) async throws -> Bool {
                try await LocalCommand.run(["/bin/sh", "\(old(id))/status.sh"]).succeeded
            }

            /// Kills every server the test started, whatever state it stopped in.
            func remove() {
                for id in 1...3 {
                    if let text = try? String(contentsOfFile: "\(old(id))/pid", encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                        kill(pid, SIGKILL)
                    }
                }
                cluster.remove()
                try? FileManager.default.removeItem(at: root)
            }
        }

        /// The children of /pods on the ensemble, read through every server in turn.
        static func children(_ estate: Estate, group: MultiThreadedEventLoopGroup) async throws -> [[String]] {
            var seen: [[String]] = []
            for id in 1...3 {
                let address = "127.0.1.\(id):\(estate.ports[id]!.client)"
                seen.append(
                    try await ZooKeeperClient.withClient(ZooKeeperConfiguration(address, sessionTimeout: .seconds(6)), timeout: .seconds(20), eventLoopGroup: group) { client in
                        try await client.sync("/pods")
                        return try await client.getChildren("/pods").sorted()
                    })
            }
            return seen
        }

        @Test func runMovesEachServerIntoItsPodAndRollbackBringsThemBack() async throws {
            let estate = try Estate()
            defer { estate.remove() }
            let group = MultiThreadedEventLoopGroup.singleton
            for id in 1...3 { try await LocalCommand.check(["/bin/sh", "\(estate.old(id))/start.sh"]) }
            let names = (0..<20).map { String(format: "node-%02d", $0) }
            try await ZooKeeperClient.withClient(ZooKeeperConfiguration(estate.connectionString, sessionTimeout: .seconds(10)), timeout: .seconds(60), eventLoopGroup: group) { client in
                _ = try await client.create("/pods", data: [], mode: .persistent)
                for name in names { _ = try await client.create("/pods/\(name)", data: Array(name.utf8), mode: .persistent) }
            }

            let planned = try await runMitosis(
                ["plan", "--inventory", estate.inventoryPath, "--strategy", "replace", "--source", "zk-main", "--destination", "zk-k8s", "--out", estate.planPath],
                outputDirectory: estate.root.path)
            #expect(planned.status == 0, "\(planned.output)")
            #expect(planned.output.contains("kubectl apply -f 3-statefulset.yaml   # StatefulSet zk-main-1"), "the runbook says how a pod starts")

            let run = try await runMitosis(["run", estate.planPath, "--inventory", estate.inventoryPath], outputDirectory: estate.root.path)
            #expect(run.status == 0, "\(run.output.suffix(4000))")
            // Effects, not intentions: the pods serve the data, the old servers are gone, and the
            // Services select the pods.
            for id in 1...3 {
                #expect(try await !estate.oldRuns(id), "old server \(id) stopped")
                let pod = try #require(try estate.cluster.object("pods", "zk-main-\(id)-0"), "pod of server \(id)")
                let pid = ((pod["metadata"] as? [String: Any])?["annotations"] as? [String: String])?["fake/pid"].flatMap(Int32.init)
                #expect(pid.map { kill($0, 0) == 0 } == true, "pod \(id)'s ZooKeeper runs")
                let selector = (try estate.cluster.object("services", "zk-main-\(id)")?["spec"] as? [String: Any])?["selector"] as? [String: String]
                #expect(selector == ["zookeeper.mitosis/server-id": "zk-main-\(id)"])
                let configMap = try #require(try estate.cluster.object("configmaps", "zk-main-\(id)-config"))
                let data = configMap["data"] as? [String: String] ?? [:]
                #expect(data["myid"] == "\(id)\n")
                #expect(data["zoo.cfg"]?.contains("quorumListenOnAllIPs=true") == true)
                #expect(FileManager.default.fileExists(atPath: "\(estate.pod(id))/data/version-2"), "pod \(id) synced into its volume")
            }
            for seen in try await Self.children(estate, group: group) { #expect(seen == names) }
            // The run's report counts the one election the plan declares: the leader's server,
            // replaced last (its new leader is seen by the report's last look, if not before).
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: estate.planPath + ".report/report.json"))) as? [String: Any]
            let elections = (report?["verdict"] as? [[String: Any]])?.first { $0["name"] as? String == "ZooKeeper leader elections" }?["value"] as? String
            #expect(elections == "1", "\(String(describing: report?["verdict"]))")

            let back = try await runMitosis(["rollback", estate.planPath, "--inventory", estate.inventoryPath], outputDirectory: estate.root.path)
            #expect(back.status == 0, "\(back.output.suffix(4000))")
            for id in 1...3 {
                #expect(try await estate.oldRuns(id), "old server \(id) runs again")
                #expect(try estate.cluster.object("statefulsets", "zk-main-\(id)") == nil)
                #expect(try estate.cluster.object("pods", "zk-main-\(id)-0") == nil)
                #expect(try estate.cluster.object("configmaps", "zk-main-\(id)-config") == nil, "the run created it: the rollback removes it")
                #expect((try estate.cluster.object("services", "zk-main-\(id)")?["spec"] as? [String: Any])?["selector"] == nil)
                #expect(try estate.cluster.endpointIPs("zk-main-\(id)") == ["127.0.0.1\(id)"])
            }
            for seen in try await Self.children(estate, group: group) { #expect(seen == names) }
        }
    }
}
