import ArgumentParser
import Foundation
import Rehearsal
import ZooKeeperProtocol

/// `mitosis rehearse --strategy kraft`: the brokers and the KRaft controller are simulated
/// (`mitosis kafka kraft simulate` on sandbox hosts); ZooKeeper, the files and the commands are real.
func rehearseKRaft(brokers: Int, out: String?, keep: Bool, json: Bool) async throws {
    var options = KRaftRehearsalOptions(brokers: brokers, outputDirectory: out, executable: currentExecutable(), keepSandboxes: keep)
    if let network = ProcessInfo.processInfo.environment["MITOSIS_SANDBOX_NETWORK"] { options.networkID = network }
    let started = ContinuousClock.now
    let result = try await KRaftRehearsal.run(options) { message in
        Output.note(String(format: "[%6.1f s] ", (ContinuousClock.now - started).seconds) + message)
    }
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        Output.line(String(decoding: try encoder.encode(result), as: UTF8.self))
    } else {
        Output.line("KRaft rehearsal (brokers and controller simulated; ZooKeeper, files and commands real): \(result.passed ? "PASSED" : "FAILED")")
        for gate in result.gates {
            Output.line("  " + gate.step.padding(toLength: 30, withPad: " ", startingAt: 0) + " " + gate.gate.padding(toLength: 72, withPad: " ", startingAt: 0)
                        + String(format: " %5.1f s", gate.seconds))
        }
        for drill in result.drills {
            Output.line("  rollback drill after '\(drill.phase)' (\(drill.stepsRun.count) steps run, \(drill.rollback.count) rollback actions): \(drill.passed ? "passed" : "FAILED")")
            for (check, passed) in drill.checks.sorted(by: { $0.key < $1.key }) { Output.line("    \(passed ? "✓" : "✗") \(check)") }
        }
        Output.line("  acknowledged appends lost: \(result.lostWrites.count) of \(result.ackedWrites)\(result.lostWrites.isEmpty ? "" : " (" + result.lostWrites.prefix(5).joined(separator: ", ") + ")")")
        Output.line("  finalized: \(result.finalized ? "yes" : "no")")
    }
    if !result.passed { throw ExitCode.failure }
}

/// This program's own path, for the sandbox hosts' start commands.
func currentExecutable() -> String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
}
