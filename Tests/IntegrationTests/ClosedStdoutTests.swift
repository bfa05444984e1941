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
        try Inventory.example.write(toFile: inventory, atomically: true, encoding: .utf8)
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
}
