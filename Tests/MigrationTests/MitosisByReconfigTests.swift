import Ensemble
import Testing

@testable import Migration
@testable import MigrationPlanning

/// Mitosis on a source whose own files enable reconfig: the destination joins as observers by
/// reconfig and leaves by reconfig, so no source server restarts and only the split's election
/// is left for the moving clients.
@Suite struct MitosisByReconfigTests {
    static func plan(
        _ n: Int, _ m: Int, staying: Bool, reconfig: SourceReconfig = .enabled, observers: Bool = false
    ) throws -> Plan {
        let source = Fixtures.source(n)
        let destination = Fixtures.destination(m, after: n)
        var builder = PlanBuilder(
            strategy: observers ? .mitosisObservers : .mitosis, source: source, destination: destination,
            groups: Fixtures.groups(source: source, staying: staying), options: PlanningOptions())
        builder.sourceReconfig = reconfig
        try builder.mitosis(observers: observers)
        return builder.finish()
    }

    /// An estate whose source servers' zoo.cfg say `reconfigEnabled=` as given (nil: no such line).
    static func estate(_ source: PlanEnsemble, reconfigEnabled: [Bool?]) -> ObservedEstate {
        ObservedEstate(
            servers: zip(source.servers, reconfigEnabled).map { server, enabled in
                let text = "tickTime=2000\ndataDir=/var/lib/zookeeper\n" + (enabled.map { "reconfigEnabled=\($0)\n" } ?? "")
                return ObservedServer(
                    ensemble: source.name, id: server.id, host: server.host,
                    config: ObservedFile(path: server.configPath, bytes: Array(text.utf8)), myid: ObservedFile(path: "/var/lib/zookeeper/myid", bytes: Array("\(server.id)\n".utf8)))
            })
    }

    @Test func theDecisionComesFromTheSourcesOwnFiles() {
        let source = Fixtures.source(3)
        let destination = Fixtures.destination(3, after: 3)
        #expect(SourceReconfig.observe(source: source, destination: destination, estate: Self.estate(source, reconfigEnabled: [true, true, true])) == .enabled)
        // One server without it (3.5.3+ defaults to off) keeps the rolling-restart join, and is named.
        guard case .disabled(let why) = SourceReconfig.observe(source: source, destination: destination, estate: Self.estate(source, reconfigEnabled: [true, nil, false])) else {
            Issue.record("a source with reconfig off on two servers must not join by reconfig")
            return
        }
        #expect(why.contains("server 2") && why.contains("server 3") && !why.contains("server 1"))
        // No files read: the inventory's word is not enough.
        if case .enabled = SourceReconfig.observe(source: source, destination: destination, estate: nil) { Issue.record("planned by reconfig without reading the files") }
        // 3.4 on either side: the rolling-restart join, whatever the files say.
        let old = Fixtures.source(3, version: .v3_4_13)
        #expect(SourceReconfig.observe(source: old, destination: destination, estate: Self.estate(old, reconfigEnabled: [true, true, true])) == .unavailable)
        let oldDestination = Fixtures.destination(3, after: 3, version: .v3_4_13)
        #expect(SourceReconfig.observe(source: source, destination: oldDestination, estate: Self.estate(source, reconfigEnabled: [true, true, true])) == .unavailable)
    }

    /// The version matrix and the join agree: mitosis joins by reconfig exactly for the pairs
    /// where strategy reconfig is possible.
    @Test(arguments: VersionMatrixTests.matrix.indices)
    func versionMatrixAgrees(_ row: Int) {
        let (sourceVersion, destinationVersion, possible) = VersionMatrixTests.matrix[row]
        let source = Fixtures.source(3, version: sourceVersion)
        let destination = Fixtures.destination(3, after: 3, version: destinationVersion)
        let decision = SourceReconfig.observe(source: source, destination: destination, estate: Self.estate(source, reconfigEnabled: [true, true, true]))
        #expect((decision == .enabled) == possible.contains(.reconfig), "\(sourceVersion) → \(destinationVersion): \(decision)")
    }

    @Test(arguments: [(3, 3, true), (3, 3, false), (3, 5, true), (5, 3, true), (5, 5, false)])
    func provesSafeWithoutRestartingTheSource(_ n: Int, _ m: Int, _ staying: Bool) async throws {
        let plan = try Self.plan(n, m, staying: staying)
        let result = try await HeavyWork.run { try Prover.check(plan) }
        #expect(result.isSafe, "\(result)")
        let actions = plan.steps.flatMap(\.actions)
        // No source server stops or restarts: the join and the split cost the source no election.
        for action in actions {
            switch action {
            case .restartServer(let server), .stopServer(let server): #expect(server.ensemble != "source", "\(action.summary)")
            case .writeConfig(let write): #expect(write.server.ensemble != "source", "the source's files are left to reconfig")
            default: break
            }
        }
        let reconfigs = actions.compactMap { action -> Reconfig? in
            if case .reconfig(let change) = action { return change }
            return nil
        }
        #expect(reconfigs.count == 2)
        #expect(reconfigs.first?.add.count == m && reconfigs.first?.add.allSatisfy { $0.role == .observer } == true)
        #expect(reconfigs.last?.remove.count == m)
        // Gated on real effects: the committed /zookeeper/config, and srvr showing each joiner an observer, caught up.
        let join = try #require(plan.step("join-observers"))
        #expect(join.gatesAfter.contains(.observersSynced(servers: plan.destination.refs)))
        #expect(join.gatesAfter.contains { if case .reconfigCommitted(_, let membership) = $0 { membership.observers.count == m } else { false } })
        // The only window is the split's, for the moving clients; no server-restart window for anyone.
        #expect(plan.impactWindows.map(\.id) == ["split"])
        #expect(plan.impactWindows.first?.clientGroups == ["kafka"])
        #expect(plan.pointOfNoReturn == "split-restart-destination")
        // The destination restarts only after the firewall, and the source drops it only after that.
        let firewall = try #require(plan.index(of: "split-firewall"))
        let restart = try #require(plan.index(of: "split-restart-destination"))
        let remove = try #require(plan.index(of: "split-remove-observers"))
        #expect(firewall < restart && restart < remove)
    }

    @Test func theObserverVariantJoinsTheSameWay() throws {
        let plan = try Self.plan(3, 3, staying: true, observers: true)
        #expect(plan.steps.contains { $0.id == "join-observers" })
        #expect(try Prover.check(plan).isSafe)
    }

    /// A tampered join that adds the destination servers as voters: the source's quorum then
    /// depends on them, and the split takes it away.
    @Test func votersInsteadOfObserversAreRefused() throws {
        var bad = try Self.plan(3, 3, staying: true)
        let index = try #require(bad.index(of: "join-observers"))
        guard case .reconfig(var change) = bad.steps[index].actions[0] else {
            Issue.record("join-observers holds a reconfig")
            return
        }
        change.add = change.add.map { $0.with(role: .participant) }
        bad.steps[index].actions = [.reconfig(change)]
        bad.steps[index].gatesAfter.removeAll { if case .reconfigCommitted = $0 { true } else { false } }
        let found = try #require(try Prover.check(bad).counterexample, "the prover accepted voters joined to the source")
        #expect([.sourceKeepsQuorum, .clientsServed, .noSplitBrain].contains(found.violation.invariant), "\(found)")
        #expect(found.description.contains("destination"))
    }

    /// A tampered split that removes the observers before the destination runs on its own: the
    /// moved clients are left without a serving server outside any window.
    @Test func removingTheObserversBeforeTheSplitIsRefused() throws {
        var bad = try Self.plan(3, 3, staying: true)
        let remove = try #require(bad.index(of: "split-remove-observers"))
        let step = bad.steps.remove(at: remove)
        let firewall = try #require(bad.index(of: "split-firewall"))
        bad.steps.insert(step, at: firewall)
        let found = try #require(try Prover.check(bad).counterexample, "the prover accepted a split that strands the moved clients")
        #expect(found.violation.message.contains("kafka"), "\(found)")
    }

    /// A run stopped before the split goes back without restarting the source either: the
    /// clients move back, the observers stop, their files are restored, and `reconfig -remove`
    /// takes them out of the source's configuration; the prover checks it after the steps done.
    @Test func aRunStoppedBeforeTheSplitRollsBackByReconfig() throws {
        let plan = try Self.plan(3, 3, staying: true)
        let state = try journal(of: plan, through: "switch-kafka-broker-2")
        let back = try Rollback.plan(for: try Prover.prove(plan), journal: state)
        #expect(
            back.steps.map(\.id.rawValue) == [
                "rollback-switch-kafka-broker-2", "rollback-switch-kafka-broker-1", "rollback-join-start", "rollback-2-configs", "rollback-join-observers",
            ])
        guard case .reconfig(let removal)? = back.step("rollback-join-observers")?.actions.first else {
            Issue.record("the observers are not removed by reconfig")
            return
        }
        #expect(removal.remove == [4, 5, 6] && removal.add.isEmpty && removal.via.ensemble == "source")
        #expect(!back.steps.flatMap(\.actions).contains { if case .restartServer = $0 { true } else { false } }, "no source restart")
        #expect(back.step("rollback-join-start")?.impact == .window(id: ServerRestartImpact.windowID), "the moved clients used the observers")
        _ = try Prover.prove(rollback: back, of: try Prover.prove(plan), journal: state)
    }

    @Test func aSourceWithReconfigOffIsToldWhatEnablingItCostsAndSaves() throws {
        let plan = try Self.plan(3, 3, staying: false, reconfig: .disabled("server 1 (zk-source-1:/etc/zookeeper/conf/zoo.cfg has no reconfigEnabled=true)"))
        #expect(plan.steps.contains { $0.id.rawValue.hasPrefix("join-4-restart") }, "the rolling-restart join")
        let advice = try #require(plan.notes.first { $0.contains("Enabling reconfig costs one rolling restart") })
        #expect(advice.contains("server 1"))
        #expect(advice.contains("no election at the join"))
        // 3.4: no advice, since there is no reconfig to enable.
        let old = try Self.plan(3, 3, staying: false, reconfig: .unavailable)
        #expect(!old.notes.contains { $0.contains("Enabling reconfig") })
    }
}
