import Foundation
import Hosts
import Migration
import MigrationPlanning
import Testing
import ZooKeeperTestSupport

extension RealServers {
    /// The readiness script of `mitosis plan --kubernetes` (ready.sh in each pod's ConfigMap), run
    /// with bash against real servers: it must mean "synced", not "port open".
    @Suite struct KubernetesReadinessTests {
        static func ready(local: String, peers: [String]) async throws -> (status: Int32, output: String) {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-ready-\(UUID().uuidString).sh").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Data(KubernetesManifests.readinessScript(local: local, peers: peers).utf8).write(to: URL(fileURLWithPath: path))
            return try await ChildProcess.run(["/bin/bash", path])
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func readyOnlyWhenSyncedWithTheLeader(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                let peers = ensemble.servers.map { "127.0.0.1:\($0.clientPort)" }
                let leaderID = try #require(try await ensemble.leader())
                let followers = ensemble.servers.map(\.id).filter { $0 != leaderID }
                let follower = try #require(ensemble.server(followers[0]))

                let synced = try await Self.ready(local: "127.0.0.1:\(follower.clientPort)", peers: peers)
                #expect(synced.status == 0, "\(synced.output)")
                #expect(synced.output.hasPrefix("ready: follower at 0x"), "\(synced.output)")
                let leader = try await Self.ready(local: "127.0.0.1:\(try #require(ensemble.server(leaderID)).clientPort)", peers: peers)
                #expect(leader.status == 0 && leader.output.hasPrefix("ready: leader"), "\(leader.output)")

                // A leader far ahead (a stand-in that answers srvr on loopback as a leader whose
                // zxid this follower has not reached): not ready, naming both zxids.
                let ahead = try await Self.withFakeLeader(zxid: "0x7fffffff00000005") { port in
                    try await Self.ready(local: "127.0.0.1:\(follower.clientPort)", peers: ["127.0.0.1:\(port)"])
                }
                #expect(ahead.status == 1)
                #expect(ahead.output.contains("not ready: follower at 0x") && ahead.output.contains("the leader at 0x7fffffff00000005"), "\(ahead.output)")

                // A stopped server: its port answers nothing.
                try await ensemble.stop(follower.id)
                let stopped = try await Self.ready(local: "127.0.0.1:\(follower.clientPort)", peers: peers)
                #expect(stopped.status == 1)
                #expect(stopped.output.contains("not ready: no answer to srvr on 127.0.0.1:\(follower.clientPort)"), "\(stopped.output)")
            }
        }

        /// Runs `body` with a loopback listener that answers every connection as `srvr` of a leader
        /// at `zxid` would.
        static func withFakeLeader<T: Sendable>(zxid: String, _ body: (Int) async throws -> T) async throws -> T {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-fake-leader-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let portFile = directory.appendingPathComponent("port").path
            let script = """
                import socket, sys
                server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(8)
                open(sys.argv[1] + ".tmp", "w").write(str(server.getsockname()[1]))
                import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
                server.settimeout(60)
                for _ in range(8):
                    connection, _ = server.accept()
                    connection.recv(4)
                    connection.sendall(b"Zookeeper version: fake\\nLatency min/avg/max: 0/0/0\\nMode: leader\\nZxid: \(zxid)\\n")
                    connection.close()
                """
            let child = try ChildProcess(["/usr/bin/python3", "-c", script, portFile], outputPath: directory.appendingPathComponent("log").path)
            defer { child.signal(SIGKILL) }
            var port: Int?
            for _ in 0..<500 where port == nil {
                port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
                if port == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            return try await body(try #require(port, "the stand-in leader did not start"))
        }
    }
}
