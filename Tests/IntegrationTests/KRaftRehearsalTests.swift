import Foundation
import Kafka
import Rehearsal
import Testing

extension RealServers {
    /// `mitosis rehearse --strategy kraft` end to end: real ZooKeeper in a sandbox, simulated
    /// brokers and KRaft controller as real processes on sandbox hosts (`mitosis kafka kraft
    /// simulate`), driven by editing their real server.properties and restarting them. Every phase
    /// gate passes, each rollback drill leaves a cluster a ZooKeeper-mode controller can run, and
    /// finalization freezes /migration. A writer appending through the brokers the whole time
    /// loses nothing it was acknowledged.
    @Suite struct KRaftRehearsalTests {
        @Test func rehearsalPassesWithRollbackDrillsAtEveryPhase() async throws {
            let output = NSTemporaryDirectory() + "mitosis-kraft-rehearsal-test-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: output) }
            // Two brokers keep the test short (each rolling restart is one process start per broker).
            let result = try await KRaftRehearsal.run(KRaftRehearsalOptions(brokers: 2, networkID: "mtkraft\(getpid())", outputDirectory: output,
                                                                            executable: try mitosisExecutable()))
            #expect(result.passed)
            #expect(result.finalized)
            #expect(result.drills.map(\.phase) == ["controllers provisioned", "brokers in migration mode", "brokers in KRaft mode"])
            for drill in result.drills {
                #expect(drill.passed, "\(drill.phase): \(drill.checks)")
                #expect(drill.checks["no /migration"] == true && drill.checks["ephemeral /controller by a ZooKeeper broker"] == true)
                #expect(drill.checks["partition-state controller_epoch ≤ /controller_epoch (KAFKA-20488)"] == true)
            }
            #expect(result.gates.contains { $0.gate.hasPrefix("load complete") })
            // The produce-style writer ran through every phase and no acknowledged append is missing.
            #expect(result.ackedWrites > 0)
            #expect(result.lostWrites.isEmpty, "lost: \(result.lostWrites.prefix(10))")
            #expect(FileManager.default.fileExists(atPath: output + "/kraft-rehearsal.json"))
        }
    }
}
