import Ensemble
import Foundation
@testable import Migration
@testable import MigrationPlanning
import Testing

/// HubSpot's no-move variant (issue 15, item 4): every server is known by an address that follows
/// it by itself (a DNS name, or a Kubernetes Service whose selector picks the server's pod). The
/// plan moves nothing; its gates check what the platform did, and the prover refuses a plan in
/// which both servers behind one such address may run.
@Suite struct FollowingAddressTests {
    static func plan() throws -> Plan {
        let source = Fixtures.ensemble("source", ids: [1, 2, 3], subnet: 1, version: .v3_8_0, data: .holdsData, running: true, stableAddress: .follows)
        let destination = Fixtures.ensemble(
            "destination", ids: [1, 2, 3], subnet: 2, version: .v3_8_0, data: .empty, running: false, sameAddressesAs: source, stableAddress: .follows)
        return try Planner.plan(.replace, source: source, destination: destination, clientGroups: Fixtures.groups(source: source))
    }

    static let old2 = ServerRef(ensemble: "source", id: 2, host: "zk-source-2")
    static let new2 = ServerRef(ensemble: "destination", id: 2, host: "zk-destination-2")

    func counterexample(_ plan: Plan) throws -> Counterexample {
        try #require(try Prover.check(plan).counterexample, "the prover accepted a bad plan")
    }

    @Test func nothingMovesAndTheGatesCheckTheEffect() throws {
        let plan = try Self.plan()
        // No move, no retarget, no client switch: per server prepare, stop, start.
        #expect(plan.steps.map(\.id.rawValue).filter { $0.hasPrefix("replace-2-") } == ["replace-2-prepare", "replace-2-stop-old", "replace-2-start-new"])
        #expect(!plan.steps.contains { step in step.actions.contains { if case .moveAddress = $0 { true } else { false } } })
        #expect(!plan.steps.contains { $0.id.rawValue.hasPrefix("switch-") })
        let stop = try #require(plan.step("replace-2-stop-old"))
        #expect(stop.gatesAfter == [.addressReleased(address: "10.1.0.2:2181", server: Self.old2)])
        let start = try #require(plan.step("replace-2-start-new"))
        #expect(start.gatesBefore == [.serversStopped(servers: [Self.old2])])
        #expect(Array(start.gatesAfter.prefix(3)) == [.serversStopped(servers: [Self.old2]), .followersSynced(servers: [Self.new2]), .serversStopped(servers: [Self.old2])])
        #expect(start.why.contains("Restart=always") && start.why.contains("publishNotReadyAddresses"))
        #expect(plan.notes.contains { $0.contains("follow their servers by themselves") && $0.contains("Mitosis moves nothing") })
        let result = try Prover.check(plan)
        #expect(result.isSafe, "\(result)")
        let runbook = Runbook.render(plan)
        #expect(runbook.contains("released: 10.1.0.2:2181 (source server 2's address) reaches no serving server"))
        // `mitosis run` reads the plan back from its JSON: the kind and the new gate survive.
        let decoded = try Plan(jsonData: try plan.jsonData())
        #expect(decoded == plan)
        #expect(decoded.source.server(2)?.stableAddress == .follows)
    }

    /// The new server started while the old one still runs behind the same address: the platform
    /// may send each connection to either, and both vote as server 2.
    @Test func newServerStartedWhileTheOldOneRuns() throws {
        var bad = try Self.plan()
        let stop = try #require(bad.index(of: "replace-2-stop-old"))
        let start = try #require(bad.index(of: "replace-2-start-new"))
        bad.steps[start].gatesBefore = []
        bad.steps[start].gatesAfter = []
        bad.steps[stop].gatesAfter = []
        bad.steps.insert(bad.steps.remove(at: start), at: stop)
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noSplitBrain)
        #expect(found.step == "replace-2-start-new")
        #expect(found.violation.message.contains("10.1.0.2 follows its server by itself, and source 2 and destination 2 run at once: the platform may send peers and clients to either"))
    }

    /// A run stopped after the second new server started rolls back without both servers of an
    /// address running at once: each new server stops before its old one starts again.
    @Test func aStoppedRunRollsBackOneServerPerAddress() throws {
        let plan = try Self.plan()
        let proven = try Prover.prove(plan)
        var events = [ExecutionEvent(kind: .planStarted, summary: "start", plan: "x")]
        for step in plan.steps[...(try #require(plan.index(of: "replace-2-start-new")))] {
            events.append(ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title))
            for index in step.actions.indices {
                events.append(ExecutionEvent(kind: .actionStarted, step: step.id, action: index, summary: ""))
                events.append(ExecutionEvent(kind: .actionFinished, step: step.id, action: index, summary: "", changed: step.id != "preflight"))
            }
            events.append(ExecutionEvent(kind: .stepFinished, step: step.id, summary: step.title))
        }
        let journal = JournalState(events: events)
        let rollback = try Rollback.plan(for: proven, journal: journal)
        let ids = rollback.steps.map(\.id.rawValue)
        for id in [1, 2] {
            let stopNew = try #require(ids.firstIndex(of: "rollback-replace-\(id)-start-new"), "\(ids)")
            let startOld = try #require(ids.firstIndex(of: "rollback-replace-\(id)-stop-old"), "\(ids)")
            #expect(stopNew < startOld, "\(ids)")
        }
        do {
            _ = try Prover.prove(rollback: rollback, of: proven, journal: journal)
        } catch {
            Issue.record("\(error.counterexample.map(String.init(describing:)) ?? "\(error)")")
        }
    }

    /// Bad input is refused before anything runs, saying what to fix.
    @Test func refusedWithoutAStatusCommandOrWithMixedKinds() throws {
        let source = Fixtures.ensemble("source", ids: [1, 2, 3], subnet: 1, version: .v3_8_0, data: .holdsData, running: true, stableAddress: .follows)
        let destination = Fixtures.ensemble(
            "destination", ids: [1, 2, 3], subnet: 2, version: .v3_8_0, data: .empty, running: false, sameAddressesAs: source, stableAddress: .follows)
        var silent = source
        silent.servers[1].commands.status = nil
        #expect {
            try Planner.plan(.replace, source: silent, destination: destination, clientGroups: Fixtures.groups(source: source))
        } throws: { error in
            "\(error)".contains("server 2's address 10.1.0.2 follows its server by itself") && "\(error)".contains("give it one under commands:")
        }
        var mixed = destination
        mixed.servers[2].stableAddress = .service
        #expect {
            try Planner.plan(.replace, source: source, destination: mixed, clientGroups: Fixtures.groups(source: source))
        } throws: { error in
            "\(error)".contains("give both inventory entries the same stableAddress (kind follows or service)")
        }
    }

    /// `mitosis plan --kubernetes` writes nothing for addresses the platform points by itself, and says why.
    @Test func noKubernetesManifests() throws {
        #expect {
            try KubernetesManifests.make(try Self.plan(), hostAddresses: [:])
        } throws: { error in
            "\(error)".contains("follows its server by itself (stableAddress kind follows): the platform points it already")
        }
    }

    /// The stop left out: the gate that waits until the address reaches no serving server can
    /// never pass while the old server runs.
    @Test func addressNeverReleasedWithoutTheStop() throws {
        var bad = try Self.plan()
        let stop = try #require(bad.index(of: "replace-2-stop-old"))
        bad.steps[stop].actions = []
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .planProceeds)
        #expect(found.violation.message.contains("after step replace-2-stop-old: the gate \"released: 10.1.0.2:2181"))
    }
}
