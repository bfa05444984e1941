import Ensemble
import Foundation
import Testing

@testable import Migration
@testable import MigrationPlanning

/// Known-bad plans, each made by breaking a good plan the way an operator might, and each caught
/// with a counterexample a person can follow.
@Suite struct BadPlanCatalogue {
    func counterexample(_ plan: Plan, crashes: Bool = true) throws -> Counterexample {
        let result = try Prover.check(plan, options: ProverOptions(crashes: crashes))
        return try #require(result.counterexample, "the prover accepted a bad plan")
    }

    func removing(_ ids: [StepID], from plan: Plan) -> Plan {
        var copy = plan
        copy.steps.removeAll { ids.contains($0.id) }
        return copy
    }

    @Test func clientStillOnASourceServerAtTheSplit() throws {
        let good = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let bad = removing(["switch-kafka-broker-3"], from: good)
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noSplitBrain)
        #expect(found.violation.message.contains("kafka"))
        // Found at the earliest point: a destination server that crashes and comes back with its
        // final configuration already forms the destination while broker-3 is on the source.
        #expect(["split-configs", "split-restart-destination"].contains(found.step?.rawValue ?? ""))
        #expect(found.description.contains("client kafka/broker-3: running, connects to source 1, source 2, source 3"))
    }

    @Test func destinationNotEmpty() throws {
        var bad = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        bad.destination.initialData = .holdsData
        // With the emptiness check in place the plan stops before touching anything...
        let stopped = try counterexample(bad)
        #expect(stopped.violation.invariant == .planProceeds)
        #expect(stopped.violation.message.contains("hold no znodes"))
        // ...and without it the first joined server brings its own history into the source.
        bad.steps[0].gatesBefore.removeAll { if case .destinationEmpty = $0 { return true } else { return false } }
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noDataOverwritten)
        #expect(found.step == "join-4-start")
        #expect(found.violation.message.contains("destination 4"))
    }

    @Test func sourceRestartedBeforeTheDestinationJoined() throws {
        var bad = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let start = try #require(bad.index(of: "join-4-start"))
        let step = bad.steps.remove(at: start)
        let synced = try #require(bad.index(of: "join-4-synced"))
        bad.steps.insert(step, at: synced)
        // The restarts wait for server 4 to follow the leader, which it cannot before it starts.
        let stuck = try counterexample(bad)
        #expect(stuck.violation.invariant == .planProceeds)
        #expect(stuck.violation.message.contains("servers 4 serve"))
        // Without those gates the second restart takes the source's quorum away.
        for index in bad.steps.indices where bad.steps[index].id.rawValue.hasPrefix("join-4-restart") {
            for list in [\Step.gatesBefore, \Step.gatesAfter] {
                bad.steps[index][keyPath: list] = bad.steps[index][keyPath: list].map { gate in
                    guard case .quorumHealthy(let ensemble, let servers) = gate else { return gate }
                    return .quorumHealthy(ensemble: ensemble, servers: servers.filter { $0.id != 4 })
                }
            }
        }
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .clientsServed)
        #expect(found.step == "join-4-restart-2")
        #expect(found.trace.last?.text.contains("source 2 goes down") == true)
    }

    @Test func noDormantServerWhereOneIsNeeded() throws {
        // What mitosis would do if it joined all three destination servers to a 3-server source.
        let source = Fixtures.source(3)
        let destination = Fixtures.destination(3, after: 3)
        var builder = PlanBuilder(
            strategy: .mitosis, source: source, destination: destination, groups: Fixtures.groups(source: source),
            options: PlanningOptions())
        try builder.mitosis(observers: false, carriersOverride: 3)
        let found = try counterexample(builder.finish())
        #expect(found.violation.invariant == .sourceKeepsQuorum)
        #expect(found.violation.message.contains("smartstack"))
        #expect(found.step == "split-firewall")
    }

    @Test func twoParticipantsAddedByOneReconfig() throws {
        var bad = try Fixtures.plan(.reconfig, 3, 3, staying: false)
        let first = try #require(bad.index(of: "promote-4"))
        let second = try #require(bad.index(of: "promote-5"))
        guard case .reconfig(var change) = bad.steps[first].actions[0], case .reconfig(let other) = bad.steps[second].actions[0] else {
            Issue.record("promote steps hold reconfigs")
            return
        }
        change.add += other.add
        bad.steps[first].actions = [.reconfig(change)]
        bad.steps[first].gatesAfter = bad.steps[second].gatesAfter
        bad.steps.remove(at: second)
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noSplitBrain)
        #expect(found.trace.contains { $0.kind == .crash }, "it takes a server that missed the change")
        // Without crashes the same plan looks fine: the crash is what the prover adds.
        #expect(try Prover.check(bad, options: ProverOptions(crashes: false)).isSafe)
    }

    @Test func rollingRestartThatDropsQuorum() throws {
        var bad = try Fixtures.plan(.mitosisObservers, 3, 3, staying: true)
        let first = try #require(bad.index(of: "join-restart-1"))
        let second = try #require(bad.index(of: "join-restart-2"))
        bad.steps[first].actions += bad.steps[second].actions
        bad.steps.removeAll { $0.id == "join-restart-2" || $0.id == "join-pause-1" }
        let found = try counterexample(bad, crashes: false)
        #expect(found.violation.invariant == .sourceKeepsQuorum)
        #expect(found.step == "join-restart-1")
        let downs = found.trace.filter { $0.text.contains("goes down") }
        #expect(downs.count == 2, "both servers are down at once")
    }

    @Test func firewallRemovedBeforeTheSourceRestarted() throws {
        var bad = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let removal = try #require(bad.index(of: "split-remove-firewall"))
        let step = bad.steps.remove(at: removal)
        let restart = try #require(bad.steps.firstIndex { $0.id.rawValue.hasPrefix("split-source-restart") })
        bad.steps.insert(step, at: restart)
        bad.steps[restart].gatesBefore = []
        bad.steps[restart].gatesAfter = []
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noDataOverwritten)
        #expect(found.violation.message.contains("branch"))
    }

    @Test func replaceWithoutWaitingForSync() throws {
        var bad = try Fixtures.plan(.replace, 3, 3, staying: true)
        for index in bad.steps.indices where bad.steps[index].id.rawValue.hasSuffix("-start-new") {
            bad.steps[index].gatesAfter = []
        }
        for index in bad.steps.indices where bad.steps[index].id.rawValue.hasSuffix("-stop-old") {
            bad.steps[index].gatesBefore = []
        }
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noSplitBrain)
        #expect(found.violation.message.contains("empty tree"))
    }

    @Test func addressMovedWhileTheOldServerRuns() throws {
        var bad = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        let stop = try #require(bad.index(of: "replace-1-stop-old"))
        let move = try #require(bad.index(of: "replace-1-move-address"))
        bad.steps.insert(bad.steps.remove(at: move), at: stop)
        // Its gate holds the move back: the old server still runs.
        let stuck = try counterexample(bad)
        #expect(stuck.violation.invariant == .planProceeds)
        #expect(stuck.violation.message.contains("stopped: source servers 1 not running"))
        // Without the gate, the move itself is the violation.
        bad.steps[stop].gatesBefore = []
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noSplitBrain)
        #expect(found.step == "replace-1-move-address")
        #expect(found.violation.message.contains("10.1.0.1 moves away from source 1 while it runs"))
        #expect(found.description.contains("address 10.1.0.1: on zk-source-1 (source 1)"))
    }

    @Test func addressMovedInTheStepThatStopsTheOldServer() throws {
        var bad = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        let stop = try #require(bad.index(of: "replace-2-stop-old"))
        let move = try #require(bad.index(of: "replace-2-move-address"))
        bad.steps[stop].actions += bad.steps[move].actions
        bad.steps.remove(at: move)
        // Actions of one step run in any order: the move may come first.
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noSplitBrain)
        #expect(found.step == "replace-2-stop-old")
        #expect(!found.trace.contains { $0.text.hasPrefix("stop source server 2") })
    }

    @Test func newServerStartedBeforeItsAddressArrived() throws {
        var bad = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        bad.steps.removeAll { $0.id == "replace-1-move-address" }
        // The new server 1 runs, but its address is still on the old host: nobody reaches it,
        // and the check that it synced never passes.
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .planProceeds)
        #expect(found.violation.message.contains("after step replace-1-start-new"))
    }

    /// A service retargeted (HubSpot) or an address moved by the inventory's commands (Zalando's
    /// interfaces) while the old server still runs, without the gate that waits for its stop.
    @Test(arguments: [(StableAddress.Kind.service, 1, "retarget-service"), (.command, 3, "move-address")])
    func addressTakenFromAServerThatRuns(_ kind: StableAddress.Kind, _ id: Int, _ suffix: String) throws {
        let commands = AddressCommands(detach: "eni detach", attach: "eni attach", check: "eni check")
        var bad = try Fixtures.plan(.replace, 3, 3, staying: true, serviceAddresses: kind == .service, addressCommands: kind == .command ? commands : nil)
        let stop = try #require(bad.index(of: StepID("replace-\(id)-stop-old")))
        let move = try #require(bad.index(of: StepID("replace-\(id)-\(suffix)")))
        bad.steps[move].gatesBefore = []
        bad.steps.insert(bad.steps.remove(at: move), at: stop)
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noSplitBrain)
        #expect(found.step == StepID("replace-\(id)-\(suffix)"))
        #expect(found.violation.message.contains("10.1.0.\(id) moves away from source \(id) while it runs"))
    }

    @Test func serverStartedBehindAServiceThatPointsElsewhere() throws {
        var bad = try Fixtures.plan(.replace, 3, 3, staying: true, serviceAddresses: true)
        bad.steps.removeAll { $0.id == "replace-2-retarget-service" }
        // The new server 2 runs, but the service still points at the old host: nobody reaches
        // it, and the check that it synced never passes.
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .planProceeds)
        #expect(found.violation.message.contains("after step replace-2-start-new"))
    }

    /// HubSpot's phase 3 without `quorumListenOnAllIPs=true`: the new server's own line is its
    /// service address, on no interface, so it cannot bind its ports and never starts.
    @Test func serverOnAServiceAddressWithoutQuorumListenOnAllIPs() throws {
        let bad = try Fixtures.withoutQuorumListenOnAllIPs(
            try Fixtures.plan(.replace, 3, 3, staying: true, serviceAddresses: true), in: "replace-2-prepare")
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .planProceeds)
        #expect(found.step == "replace-2-start-new")
        #expect(found.violation.message.contains("server.2 is 10.1.0.2, a service address on no interface of zk-destination-2, without quorumListenOnAllIPs=true"))
        // The same plan with the flag proves safe: the rule is about the flag, nothing else.
        #expect(try Prover.check(try Fixtures.plan(.replace, 3, 3, staying: true, serviceAddresses: true)).isSafe)
    }

    @Test func copyWithoutBlockingTheClients() throws {
        var bad = try Fixtures.plan(.copy, 3, 3)
        bad.steps.removeAll { $0.id == "block" }
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .noDataOverwritten)
        #expect(found.violation.message.contains("lost"))
    }

    @Test func counterexamplesAreShortest() throws {
        // The rolling-restart counterexample needs exactly: the steps up to the merged restart,
        // and two stops. BFS finds no longer trace than the plan's own prefix requires.
        var bad = try Fixtures.plan(.mitosisObservers, 3, 3, staying: true)
        let first = try #require(bad.index(of: "join-restart-1"))
        let second = try #require(bad.index(of: "join-restart-2"))
        bad.steps[first].actions += bad.steps[second].actions
        bad.steps.removeAll { $0.id == "join-restart-2" || $0.id == "join-pause-1" }
        let found = try counterexample(bad, crashes: false)
        let beforeStep = found.trace.prefix { $0.step != "join-restart-1" }
        let expectedPrefix = bad.steps[..<first].reduce(0) { total, step in
            total + 2 + step.actions.reduce(0) { count, action in
                if case .restartServer = action { return count + 2 }
                return count + 1
            }
        }
        #expect(beforeStep.count == expectedPrefix)
        #expect(found.trace.count == expectedPrefix + 3, "begin, stop, stop")
    }
}
