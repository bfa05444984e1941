import Ensemble
import Foundation
import Hosts
import Testing
import ZooKeeperTestSupport

/// A reader that goes away before the tool has written (`mitosis plan … | true`, as `| head -1`
/// does on long output) ends the tool quietly with status 0: no trap, no message.
@Suite struct ClosedStdout {
    @Test func writingToAClosedPipeEndsQuietly() async throws {
        let directory = NSTemporaryDirectory() + "mitosis-pipe-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inventory = directory + "/inv.yaml"
        try Self.localEstate(in: directory).write(toFile: inventory, atomically: true, encoding: .utf8)
        let plan = "\(shellQuoted(try mitosisExecutable())) plan --inventory \(shellQuoted(inventory)) --source source --destination destination"
        // `true` exits at once; mitosis writes the runbook after planning and proving, into a pipe
        // nobody reads. PIPESTATUS[0] is mitosis's status; stderr goes to the output file.
        let script = "\(plan) | true; echo \"status=${PIPESTATUS[0]}\"; \(plan) | head -1; echo \"status=${PIPESTATUS[0]}\""
        let output = directory + "/out"
        let status = try await ChildProcess(["/bin/bash", "-c", script], outputPath: output).waitForExit(timeout: .seconds(120))
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status == 0)
        #expect(text.components(separatedBy: "\n").filter { $0.hasPrefix("status=") } == ["status=0", "status=0"], "\(text)")
        #expect(text.contains("# Runbook: mitosis from source"), "\(text)")
        #expect(!text.contains("rror"), "\(text)")
    }

    /// Two three-server ensembles on this machine's files (hosts `via: local`, loopback
    /// addresses nothing listens on), as discovery must find them for `mitosis plan` to plan: the
    /// source's zoo.cfg, myid and data in place and its servers running (their status command
    /// says so); the destination not yet configured.
    static func localEstate(in directory: String) throws -> String {
        func server(_ id: Int) -> String {
            """
                  - id: \(id)
                    host: h\(id)
                    address: 127.0.0.\(20 + id)
                    quorumPort: \(24000 + id)
                    electionPort: \(25000 + id)
                    clientPort: \(26000 + id)
                    configPath: \(directory)/zk\(id)/zoo.cfg
                    dataDir: \(directory)/zk\(id)/data
            """
        }
        for id in 1...3 {
            let lines = (1...3).map { "server.\($0)=127.0.0.\(20 + $0):\(24000 + $0):\(25000 + $0)" }
            let config = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=\(directory)/zk\(id)/data\nclientPort=\(26000 + id)\n" + lines.joined(separator: "\n") + "\n"
            try FileManager.default.createDirectory(atPath: "\(directory)/zk\(id)/data/version-2", withIntermediateDirectories: true)
            try config.write(toFile: "\(directory)/zk\(id)/zoo.cfg", atomically: true, encoding: .utf8)
            try "\(id)\n".write(toFile: "\(directory)/zk\(id)/data/myid", atomically: true, encoding: .utf8)
            try "snapshot".write(toFile: "\(directory)/zk\(id)/data/version-2/snapshot.100000000", atomically: true, encoding: .utf8)
        }
        return """
            hosts:
            \((1...6).map { "  - name: h\($0)\n    address: 127.0.0.\(20 + $0)\n    via: local" }.joined(separator: "\n"))
            ensembles:
              - name: source
                version: 3.8.0
                commands: {start: "true", stop: "true", restart: "true", status: "true"}
                servers:
            \((1...3).map(server).joined(separator: "\n"))
              - name: destination
                version: 3.8.0
                commands: {start: "true", stop: "true", restart: "true", status: "false"}
                servers:
            \((4...6).map(server).joined(separator: "\n"))

            """
    }
}
