import Foundation
import Kafka
import Rehearsal
import Testing

extension RealServers {
    /// `mitosis rehearse --strategy kraft` end to end: real ZooKeeper in a sandbox, simulated
    /// brokers and KRaft controller as real processes on sandbox hosts (`mitosis kafka kraft
    /// simulate`), migrated by the real plan: an inventory of the sandbox hosts, `KRaftPlanner`,
    /// `KRaftProver`, `KRaftExecutor` phase by phase (`--through`) and `KRaftRollback` after each
    /// phase before finalization. Every gate passes, each rollback drill leaves a cluster a
    /// ZooKeeper-mode controller can run, and finalization freezes /migration. A writer appending through the brokers the whole time
    /// loses nothing it was acknowledged.
    @Suite struct KRaftRehearsalTests {
        @Test func rehearsalRunsThePlanWithRollbackDrills() async throws {
            let output = NSTemporaryDirectory() + "mitosis-kraft-rehearsal-test-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: output) }
            // Two brokers, and drills at the docs' three rollback cases (controllers provisioned,
            // brokers in migration mode with dual-write running, brokers in KRaft mode) plus readiness,
            // keep the test short: each drill migrates again from the start, and each rolling restart
            // is one process start per broker. `rehearse --strategy kraft` drills after every phase.
            let result = try await KRaftRehearsal.run(KRaftRehearsalOptions(brokers: 2, networkID: "mtkraft\(getpid())", outputDirectory: output,
                                                                            executable: try mitosisExecutable(),
                                                                            drillPhases: [.readiness, .provisionControllers, .dualWrite, .brokersToKRaft]))
            #expect(result.passed)
            #expect(result.finalized)
            #expect(result.drills.map(\.phase) == ["readiness", "provision-controllers", "dual-write", "brokers-to-kraft"])
            for drill in result.drills {
                #expect(drill.passed, "\(drill.phase): \(drill.checks)")
                #expect(drill.checks["no /migration"] == true && drill.checks["ephemeral /controller by a ZooKeeper broker"] == true)
                #expect(drill.checks["partition-state controller_epoch ≤ /controller_epoch (KAFKA-20488)"] == true)
            }
            // The drills ran the plan's steps, and the rollback undid them.
            #expect(result.drills.first { $0.phase == "brokers-to-kraft" }?.stepsRun.contains { $0.hasSuffix("-to-kraft") } == true)
            #expect(result.drills.first { $0.phase == "dual-write" }?.rollback.contains { $0.contains("deleted in one multi-op") } == true)
            // The final run passed the plan's gates, finalization's last.
            #expect(result.gates.contains { $0.phase == "load" && $0.gate.hasPrefix("/migration kraft_metadata_offset > 0") })
            #expect(result.gates.contains { $0.phase == "finalize" && $0.gate.hasPrefix("every broker's file in KRaft mode") })
            // The produce-style writer ran through every phase and no acknowledged append is missing.
            #expect(result.ackedWrites > 0)
            #expect(result.lostWrites.isEmpty, "lost: \(result.lostWrites.prefix(10))")
            #expect(FileManager.default.fileExists(atPath: output + "/kraft-rehearsal.json"))
        }
    }
}
