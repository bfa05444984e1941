import Ensemble
import Foundation
import Testing

@testable import Migration
@testable import MigrationPlanning

/// A plan records its proof and the digest of what was proved; a plan read back is run only if it
/// is that plan and it proves safe again. Rollback plans are proved as what really happens.
@Suite struct ProvenPlans {
    /// The plan as `mitosis plan --out` writes it, read back as `mitosis run` reads it.
    func written(_ strategy: StrategyKind = .mitosis) throws -> Plan {
        let plan = try Fixtures.plan(strategy, 3, 3, staying: false)
        return try Plan(jsonData: Prover.prove(plan).recorded.jsonData())
    }

    func refusal(_ plan: Plan) throws -> PlanRefusal {
        try #require(throws: PlanRefusal.self) { try Prover.verify(plan, source: "plan.json") }
    }

    @Test(arguments: StrategyKind.allCases.filter { $0 != .copy })
    func aWrittenPlanRecordsItsProofAndVerifies(_ strategy: StrategyKind) throws {
        let plan = try written(strategy)
        let proof = try #require(plan.proof)
        #expect(proof.safe && proof.statesExplored > 0 && proof.proverVersion == Prover.version)
        #expect(proof.digest == plan.canonicalDigest && proof.digest.count == 64)
        #expect(proof.steps.map(\.id) == plan.steps.map(\.id))
        #expect(plan.differencesFromProof.isEmpty)
        let proven = try Prover.verify(plan, source: "plan.json")
        #expect(proven.proof.statesExplored == proof.statesExplored)
    }

    /// The step that keeps broker-3 off the source at the split is gone: refused as altered, and
    /// the plan as it is now is unsafe (split brain), so the counterexample comes with it.
    @Test func aRemovedStepIsRefusedWithWhatChangedAndACounterexample() throws {
        var plan = try written()
        plan.steps.removeAll { $0.id == "switch-kafka-broker-3" }
        let refused = try refusal(plan)
        #expect(refused.code == .altered)
        #expect(refused.message.contains("step removed: switch-kafka-broker-3"))
        #expect(refused.message.contains("mitosis plan"))
        let counterexample = try #require(refused.counterexample)
        #expect(counterexample.violation.invariant == .noSplitBrain)
        #expect(refused.description.contains("How (shortest sequence of events)"))
    }

    @Test func twoSwappedStepsAreRefusedNamingThem() throws {
        var plan = try written()
        let start = try #require(plan.index(of: "join-4-start"))
        let synced = try #require(plan.index(of: "join-4-synced"))
        plan.steps.swapAt(start, synced)
        let refused = try refusal(plan)
        #expect(refused.code == .altered)
        #expect(refused.message.contains("steps in another order"))
        #expect(refused.message.contains("join-4-start") && refused.message.contains("join-4-synced"))
        // Waiting for server 4 to sync before it starts can never pass.
        #expect(refused.counterexample != nil)
    }

    @Test func aDeletedGateIsRefusedNamingTheStep() throws {
        var plan = try written()
        let index = try #require(plan.steps.firstIndex { !$0.gatesAfter.isEmpty })
        let id = plan.steps[index].id
        plan.steps[index].gatesAfter.removeFirst()
        let refused = try refusal(plan)
        #expect(refused.code == .altered)
        #expect(refused.message.contains("step \(id) changed"))
    }

    @Test func anEditOutsideTheStepsIsRefusedToo() throws {
        var plan = try written()
        plan.impactWindows = []
        let refused = try refusal(plan)
        #expect(refused.code == .altered)
        #expect(refused.message.contains("impact windows"))
    }

    /// Plans carry the inventory's `ServiceCommands` (once a mirror type of the plan's own, with the
    /// same JSON): each server's `"commands"` keeps its four keys, so plan files written before
    /// decode as they are, and their digests, hence their proof records, still match.
    @Test func serverCommandsKeepTheJSONOldPlansHave() throws {
        let plan = try written()
        let json = try #require(try JSONSerialization.jsonObject(with: plan.jsonData()) as? [String: Any])
        let servers = try #require((json["source"] as? [String: Any])?["servers"] as? [[String: Any]])
        let commands = try #require(servers.first?["commands"] as? [String: String])
        #expect(
            commands == [
                "start": "systemctl start zookeeper", "stop": "systemctl stop zookeeper", "restart": "systemctl restart zookeeper",
                "status": "echo srvr | nc -q 2 localhost 2181",
            ])
        let old = #"{"start":"a","stop":"b","status":"c"}"#
        #expect(try JSONDecoder().decode(ServiceCommands.self, from: Data(old.utf8)) == ServiceCommands(start: "a", stop: "b", status: "c"))
        #expect(try Prover.verify(Plan(jsonData: plan.jsonData()), source: "plan.json").plan.source.servers.first?.commands.effectiveRestart == "systemctl restart zookeeper")
    }

    @Test func aPlanWithoutProofRecordIsRefused() throws {
        var plan = try written()
        plan.proof = nil
        let refused = try refusal(plan)
        #expect(refused.code == .altered)
        #expect(refused.message.contains("no proof record"))
        #expect(refused.counterexample == nil, "the plan itself is the proved one: only the record is missing")
    }

    /// A forged record (recomputed after the edit) does not help: the plan is proved again.
    @Test func anUnsafePlanWithAForgedRecordIsRefusedWithACounterexample() throws {
        let good = try written()
        var bad = good
        bad.steps.removeAll { $0.id == "switch-kafka-broker-3" }
        var forged = good.proof!
        forged.digest = bad.canonicalDigest
        forged.steps = bad.steps.map { PlanProof.StepDigest(id: $0.id, digest: $0.canonicalDigest) }
        bad.proof = forged
        #expect(bad.differencesFromProof.isEmpty)
        let refused = try refusal(bad)
        #expect(refused.code == .unsafe)
        #expect(refused.counterexample?.violation.invariant == .noSplitBrain)
    }

    /// Stopped in the second join round: the way back is proved after the steps that were done,
    /// and is safe; its runbook text carries that proof.
    @Test func aRollbackIsProvedAfterTheStepsTheJournalRecords() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let state = try journal(of: plan, through: "join-5-restart-1")
        let back = try Rollback.plan(for: Prover.prove(plan), journal: state)
        let proven = try Prover.prove(rollback: back, of: Prover.prove(plan), journal: state)
        #expect(proven.plan == back)
        #expect(proven.proof.isSafe)
    }

    /// In the second join round, a way back that leaves servers 4 and 5 running while the source
    /// restarts into its three-voter membership: refused before anything runs.
    @Test func anUnsafeRollbackIsRefused() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let state = try journal(of: plan, through: "join-5-restart-1")
        var back = try Rollback.plan(for: Prover.prove(plan), journal: state)
        #expect(try Prover.prove(rollback: back, of: Prover.prove(plan), journal: state).proof.isSafe)
        back.steps.removeAll { step in step.actions.allSatisfy { if case .stopServer = $0 { true } else { false } } }
        let refused = try #require(throws: PlanRefusal.self) { try Prover.prove(rollback: back, of: Prover.prove(plan), journal: state) }
        #expect(refused.code == .unsafe)
        #expect(refused.message.contains("rollback"))
        #expect(refused.counterexample != nil)
    }

    /// A run stopped after any step of a round of the join can go back: the way back is proved
    /// safe from every one of them (the servers a round started stop before their files go back).
    @Test(arguments: [StrategyKind.mitosis, .mitosisObservers])
    func everyRollbackOfTheJoinIsProvedSafe(_ strategy: StrategyKind) async throws {
        let plan = try Fixtures.plan(strategy, 3, 3, staying: false)
        let split = try #require(plan.steps.firstIndex { $0.id.rawValue.hasPrefix("split") || $0.actions.contains { if case .addFirewallRule = $0 { true } else { false } } })
        let journals = try plan.steps[..<split].map { step in (step.id, try journal(of: plan, through: step.id)) }
        // The plan is proved once; each way back is proved against it.
        let refused = try await HeavyWork.run {
            let proven = try Prover.prove(plan)
            var refused: [String] = []
            for (step, state) in journals {
                let back = try Rollback.plan(for: proven, journal: state)
                do {
                    _ = try Prover.prove(rollback: back, of: proven, journal: state)
                } catch {
                    refused.append("\(step): \(error)")
                }
            }
            return refused
        }
        #expect(refused.isEmpty, "\(refused.joined(separator: "\n"))")
    }
}
