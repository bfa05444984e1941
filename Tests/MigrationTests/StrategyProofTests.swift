import Ensemble
import Foundation
import Testing

@testable import Migration
@testable import MigrationPlanning

/// A size, a version and whether a client group stays on the source.
struct Case: CustomTestStringConvertible, Sendable {
    var strategy: StrategyKind
    var source: Int
    var destination: Int
    var version: ZooKeeperVersion
    var staying: Bool
    /// For replace: stable addresses the plan moves from host to host.
    var movableAddresses = false

    var testDescription: String {
        "\(strategy) \(source)→\(destination) on \(version)\(staying ? " with a group staying" : "")\(movableAddresses ? " moving addresses" : "")"
    }

    func plan() throws -> Plan {
        try Fixtures.plan(strategy, source, destination, version: version, staying: staying, movableAddresses: movableAddresses)
    }
}

let sizes = [(3, 3), (3, 5), (5, 3), (5, 5)]
let versions: [ZooKeeperVersion] = [.v3_4_13, .v3_8_0]

/// Every strategy, size and version the planner supports.
let supportedCases: [Case] = {
    var cases: [Case] = []
    for version in versions {
        for (n, m) in sizes {
            cases.append(Case(strategy: .mitosisObservers, source: n, destination: m, version: version, staying: true))
            cases.append(Case(strategy: .copy, source: n, destination: m, version: version, staying: true))
            if version.supports(.dynamicReconfiguration) {
                cases.append(Case(strategy: .reconfig, source: n, destination: m, version: version, staying: false))
            }
        }
        for n in [3, 5] {
            cases.append(Case(strategy: .replace, source: n, destination: n, version: version, staying: true))
            cases.append(Case(strategy: .replace, source: n, destination: n, version: version, staying: true, movableAddresses: true))
        }
        // Plain mitosis: the sizes its carrier rule allows.
        for (n, m, staying) in [(3, 3, false), (5, 3, false), (5, 3, true), (5, 5, false)] {
            cases.append(Case(strategy: .mitosis, source: n, destination: m, version: version, staying: staying))
        }
    }
    return cases
}()

@Suite struct StrategyProofs {
    @Test(arguments: supportedCases)
    func shippedStrategyProvesSafe(_ testCase: Case) async throws {
        let plan = try testCase.plan()
        let result = try await HeavyWork.run { try Prover.check(plan) }
        #expect(result.isSafe, "\(result)")
        #expect(result.statesExplored > plan.steps.count)
        // The state space, not the clock (which the shared machine makes unreliable): an
        // explosion here is what would make proofs slow (the largest, mitosis 5→5, explores 65,142).
        #expect(result.statesExplored < 100_000, "\(testCase.testDescription) explored \(result.statesExplored) states in \(result.elapsed)")
        // Every step names the hosts it acts on; every server-touching action names its server.
        for step in plan.steps {
            for action in step.actions {
                #expect(!action.host.isEmpty)
                switch action {
                case .wait, .switchClient, .stopClient, .copy: break
                default: #expect(!action.servers.isEmpty, "\(action.summary)")
                }
            }
        }
    }

    @Test(arguments: supportedCases)
    func plansRoundTripThroughJSON(_ testCase: Case) throws {
        let plan = try testCase.plan()
        let data = try plan.jsonData()
        let decoded = try Plan(jsonData: data)
        #expect(decoded == plan)
        #expect(try decoded.jsonData() == data, "the same plan must give the same bytes")
    }

    @Test func mitosisThreeToThreeIsYelpsTwoJoinedOneDormant() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, version: .v3_4_13, staying: false)
        func started(_ steps: ArraySlice<Step>) -> [ServerID] {
            steps.flatMap(\.actions).compactMap { action -> ServerID? in
                if case .startServer(let ref) = action, ref.ensemble == "destination" { return ref.id }
                return nil
            }
        }
        let split = try #require(plan.steps.firstIndex { $0.id == "split-restart-destination" })
        #expect(started(plan.steps[..<split]) == [4, 5], "servers 4 and 5 join, 6 stays dormant")
        #expect(plan.pointOfNoReturn == "split-restart-destination")
        // At the split only the carriers restart (a majority of the destination): the clients are
        // served again before the empty server 6 starts and syncs.
        #expect(plan.steps[split].actions.compactMap { action -> ServerID? in if case .restartServer(let ref) = action { ref.id } else { nil } } == [4, 5])
        #expect(plan.steps[split + 1].id == "split-start-dormant")
        #expect(started(plan.steps[(split + 1)...]) == [6])
        // The split, and the source's rolling restarts (the join's and the split's): each drops
        // connections and may cost an election.
        #expect(plan.impactWindows.map(\.id) == ["split", ServerRestartImpact.windowID])
        // The firewall goes up before the final configs are written, and the source restarts
        // before the rules are removed.
        let order = plan.steps.map(\.id.rawValue)
        let firewall = try #require(order.firstIndex(of: "split-firewall"))
        let configs = try #require(order.firstIndex(of: "split-configs"))
        let removal = try #require(order.firstIndex(of: "split-remove-firewall"))
        let sourceRestart = try #require(order.firstIndex { $0.hasPrefix("split-source-restart") })
        #expect(firewall < configs && sourceRestart < removal)
    }

    /// HubSpot's way: each server's service is pointed at the new host between the old server's
    /// stop and the new one's start, only once the old server is seen stopped; the runbook names
    /// the Endpoints change, and the plan is proven safe.
    @Test func replaceRetargetsEachServiceBetweenStopAndStart() throws {
        let plan = try Fixtures.plan(.replace, 3, 3, staying: true, serviceAddresses: true)
        let order = plan.steps.map(\.id.rawValue)
        for id in 1...3 {
            let stop = try #require(order.firstIndex(of: "replace-\(id)-stop-old"))
            let retarget = try #require(order.firstIndex(of: "replace-\(id)-retarget-service"))
            let start = try #require(order.firstIndex(of: "replace-\(id)-start-new"))
            #expect(stop < retarget && retarget < start)
            let old = ServerRef(ensemble: "source", id: ServerID(Int64(id)), host: "zk-source-\(id)")
            #expect(plan.steps[retarget].gatesBefore == [.serversStopped(servers: [old])])
            #expect(plan.steps[retarget].actions == [
                .moveAddress(
                    AddressMove(
                        address: "10.1.0.\(id)", kind: .service, prefixLength: 32, device: "", from: old,
                        to: ServerRef(ensemble: "destination", id: ServerID(Int64(id)), host: "zk-destination-\(id)")))
            ])
        }
        #expect(!order.contains { $0.hasSuffix("-move-address") })
        #expect(plan.notes.contains { $0.contains("services of servers 1,2,3 are pointed at the new host") })
        #expect(try Prover.check(plan).isSafe)
        let runbook = Runbook.render(plan)
        #expect(runbook.contains("point service 10.1.0.1 at zk-destination-1 instead of zk-source-1"))
        #expect(runbook.contains("kubectl patch endpoints"))
        #expect(!runbook.contains("ip addr"))
        // The move survives the plan's JSON.
        let decoded = try JSONDecoder().decode(AddressMove.self, from: try JSONEncoder().encode(AddressMove(
            address: "10.1.0.1", kind: .service, prefixLength: 32, device: "", from: ServerRef(ensemble: "s", id: ServerID(Int64(1)), host: "a"),
            to: ServerRef(ensemble: "d", id: ServerID(Int64(1)), host: "b"))))
        #expect(decoded.kind == .service)
    }

    /// Zalando's way: each server's address moves from the old host to the new one between the
    /// old server's stop and the new one's start, only once the old server is seen stopped; no
    /// client moves (they keep the addresses) and nothing is declared as client impact.
    @Test func replaceMovesEachAddressBetweenStopAndStart() throws {
        let plan = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        let order = plan.steps.map(\.id.rawValue)
        for id in 1...3 {
            let stop = try #require(order.firstIndex(of: "replace-\(id)-stop-old"))
            let move = try #require(order.firstIndex(of: "replace-\(id)-move-address"))
            let start = try #require(order.firstIndex(of: "replace-\(id)-start-new"))
            #expect(stop < move && move < start)
            let step = plan.steps[move]
            #expect(step.gatesBefore == [.serversStopped(servers: [ServerRef(ensemble: "source", id: ServerID(Int64(id)), host: "zk-source-\(id)")])])
            #expect(step.actions == [
                .moveAddress(
                    AddressMove(
                        address: "10.1.0.\(id)", prefixLength: 24, device: "eth0",
                        from: ServerRef(ensemble: "source", id: ServerID(Int64(id)), host: "zk-source-\(id)"),
                        to: ServerRef(ensemble: "destination", id: ServerID(Int64(id)), host: "zk-destination-\(id)")))
            ])
        }
        #expect(!plan.steps.flatMap(\.actions).contains { if case .switchClient = $0 { return true } else { return false } })
        #expect(plan.pointOfNoReturn == nil)
        // The one election (when the leader's server stops) is declared on every stop.
        #expect(plan.impactWindows.map(\.id) == ["leader-election"])
        #expect(plan.steps.filter { $0.impact == .window(id: "leader-election") }.map(\.id.rawValue) == [
            "replace-1-stop-old", "replace-2-stop-old", "replace-3-stop-old",
        ])
        #expect(plan.notes.contains { $0.contains("stable addresses of servers 1,2,3 move") })
        // Service addresses (HubSpot's ClusterIP) follow the servers by themselves: nothing moves.
        let hubspot = try Fixtures.plan(.replace, 3, 3, staying: true)
        #expect(!hubspot.steps.contains { $0.id.rawValue.hasSuffix("-move-address") })
    }

    @Test func carrierRule() {
        #expect(Planner.mitosisCarrierCount(sourceVoters: 3, destinationVoters: 3, clientsStay: false) == 2)
        #expect(Planner.mitosisCarrierCount(sourceVoters: 3, destinationVoters: 3, clientsStay: true) == nil)
        #expect(Planner.mitosisCarrierCount(sourceVoters: 3, destinationVoters: 5, clientsStay: false) == nil)
        #expect(Planner.mitosisCarrierCount(sourceVoters: 5, destinationVoters: 3, clientsStay: true) == 2)
        #expect(Planner.mitosisCarrierCount(sourceVoters: 5, destinationVoters: 5, clientsStay: false) == 3)
        #expect(Planner.mitosisCarrierCount(sourceVoters: 5, destinationVoters: 5, clientsStay: true) == nil)
        #expect(Planner.mitosisCarrierCount(sourceVoters: 7, destinationVoters: 7, clientsStay: true) == 4)
        #expect(Planner.mitosisCarrierCount(sourceVoters: 1, destinationVoters: 1, clientsStay: false) == nil)
    }
}

@Suite struct PlannerRefusals {
    func refusal(_ body: () throws -> Plan) -> PlanningError? { Fixtures.refusal(body) }

    @Test func reconfigIsRefusedOn34() throws {
        let error = try #require(refusal { try Fixtures.plan(.reconfig, 3, 3, version: .v3_4_13, staying: false) })
        #expect(error.code == .unsupportedVersion)
        #expect(error.message.contains("3.4.13"))
        #expect(error.message.contains("mitosis-observers"), "says what to do instead")
    }

    @Test(arguments: ["3.5.0", "3.5.8", "3.6.0", "3.6.1"])
    func rollingRestartMembershipChangeIsRefusedOn3829Versions(_ text: String) throws {
        let version = try #require(ZooKeeperVersion(parsing: text))
        for strategy in [StrategyKind.mitosis, .mitosisObservers] {
            let error = try #require(refusal { try Fixtures.plan(strategy, 3, 3, version: version, staying: false) })
            #expect(error.code == .versionHazard)
            #expect(error.message.contains("ZOOKEEPER-3829"))
            #expect(error.message.contains("reconfig"), "says what to do instead")
        }
    }

    @Test(arguments: ["3.5.9", "3.6.2", "3.7.1"])
    func fixedVersionsAreNotFlagged(_ text: String) throws {
        let version = try #require(ZooKeeperVersion(parsing: text))
        let plan = try Fixtures.plan(.mitosisObservers, 3, 3, version: version, staying: true)
        #expect(!plan.notes.contains { $0.contains("ZOOKEEPER-3829") })
    }

    @Test func reconfigAddParticipantHazardIsRefused() throws {
        let error = try #require(refusal { try Fixtures.plan(.reconfig, 3, 3, version: ZooKeeperVersion(3, 5, 2), staying: false) })
        #expect(error.code == .versionHazard)
        #expect(error.message.contains("ZOOKEEPER-2172"))
    }

    @Test func snapshotSyncHazardIsNoted() throws {
        let plan = try Fixtures.plan(.reconfig, 3, 3, version: ZooKeeperVersion(3, 6, 2), staying: false)
        #expect(plan.notes.contains { $0.contains("ZOOKEEPER-3642") })
    }

    @Test func mitosisRefusesANonEmptyDestination() throws {
        let error = try #require(refusal { try Fixtures.plan(.mitosis, 3, 3, destinationData: .holdsData, staying: false) })
        #expect(error.code == .destinationNotEmpty)
        #expect(error.message.contains("copy"))
    }

    @Test func copyIntoADestinationWithDataNeedsEveryMovingGroupUnderAChroot() throws {
        let source = Fixtures.source(3)
        let destination = Fixtures.destination(3, after: 3, data: .holdsData, running: true)
        var groups = Fixtures.groups(source: source)
        groups[1].moves = true  // smartstack has no chroot
        let error = try #require(refusal { try Planner.plan(.copy, source: source, destination: destination, clientGroups: groups) })
        #expect(error.code == .chrootRequired)
        #expect(error.message.contains("client group smartstack has no chroot"))
        // Into an empty destination the whole tree may be copied.
        let empty = Fixtures.destination(3, after: 3, data: .empty, running: true)
        #expect(try Planner.plan(.copy, source: source, destination: empty, clientGroups: groups).steps.contains { $0.id == "block" })
        // With chroots, the plan says what on the destination it replaces.
        let plan = try Fixtures.plan(.copy, 3, 3)
        #expect(plan.notes.contains { $0.contains("/kafka on 'destination' identical to the source's") })
    }

    @Test func mitosisRefusesSizesWithoutACarrierCount() throws {
        let error = try #require(refusal { try Fixtures.plan(.mitosis, 3, 5, staying: false) })
        #expect(error.code == .unsupportedSize)
        #expect(error.message.contains("mitosis-observers"))
        let staying = try #require(refusal { try Fixtures.plan(.mitosis, 3, 3, staying: true) })
        #expect(staying.message.contains("smartstack"), "names the group that stays")
    }

    @Test func reconfigRefusesGroupsThatStay() throws {
        let error = try #require(refusal { try Fixtures.plan(.reconfig, 3, 3, staying: true) })
        #expect(error.message.contains("smartstack"))
    }

    @Test func replaceNeedsStableAddresses() throws {
        let source = Fixtures.source(3)
        let destination = Fixtures.ensemble("destination", ids: [1, 2, 3], subnet: 2, version: .v3_8_0, data: .empty, running: false)
        let error = try #require(refusal {
            try Planner.plan(.replace, source: source, destination: destination, clientGroups: Fixtures.groups(source: source))
        })
        #expect(error.code == .addressMismatch)
        #expect(error.message.contains("stable address"))
    }

    /// Either side of a replace may mark the address as stable: the old server's host holds it
    /// at the start either way.
    @Test(arguments: [(true, false), (false, true)])
    func replaceMovesAnAddressMarkedOnOneSide(_ sourceMarks: Bool, _ destinationMarks: Bool) throws {
        let source = Fixtures.ensemble(
            "source", ids: [1, 2, 3], subnet: 1, version: .v3_8_0, data: .holdsData, running: true,
            stableAddress: sourceMarks ? Fixtures.movable : nil)
        let destination = Fixtures.ensemble(
            "destination", ids: [1, 2, 3], subnet: 2, version: .v3_8_0, data: .empty, running: false, sameAddressesAs: source,
            stableAddress: destinationMarks ? Fixtures.movable : nil)
        let plan = try Planner.plan(.replace, source: source, destination: destination, clientGroups: Fixtures.groups(source: source))
        #expect(plan.steps.filter { $0.id.rawValue.hasSuffix("-move-address") }.count == 3)
        let result = try Prover.check(plan)
        #expect(result.isSafe, "\(result)")
    }

    @Test func replaceRefusesStableAddressesThatDisagree() throws {
        let source = Fixtures.ensemble(
            "source", ids: [1, 2, 3], subnet: 1, version: .v3_8_0, data: .holdsData, running: true, stableAddress: Fixtures.movable)
        let destination = Fixtures.ensemble(
            "destination", ids: [1, 2, 3], subnet: 2, version: .v3_8_0, data: .empty, running: false, sameAddressesAs: source,
            stableAddress: StableAddress(device: "ens5", prefixLength: 24))
        let error = try #require(refusal {
            try Planner.plan(.replace, source: source, destination: destination, clientGroups: Fixtures.groups(source: source))
        })
        #expect(error.code == .addressMismatch)
        #expect(error.message.contains("/24 on eth0") && error.message.contains("/24 on ens5"))
    }

    /// Replace stops every old server, the leader's too: the election is declared even when the
    /// inventory lists no client group, and the prover still accepts the plan.
    @Test func replaceDeclaresTheElectionWithoutClientGroups() throws {
        let source = Fixtures.source(3, version: .v3_8_0)
        let destination = Fixtures.ensemble(
            "destination", ids: [1, 2, 3], subnet: 2, version: .v3_8_0, data: .empty, running: false, sameAddressesAs: source, stableAddress: nil)
        let plan = try Planner.plan(.replace, source: source, destination: destination, clientGroups: [])
        #expect(plan.impactWindows.map(\.id) == ["leader-election"])
        #expect(plan.steps.filter { $0.impact == .window(id: "leader-election") }.count == 3)
        let text = Runbook.render(plan)
        #expect(text.contains("leader-election: every client (the inventory lists no client group)"), "\(text)")
        #expect(text.contains("drops the connections of the clients on it"))
        #expect(try Prover.check(plan).isSafe)
    }

    /// Every strategy with a point of no return takes a census of the source's sessions first,
    /// and the prover still accepts the plan.
    @Test func thePointOfNoReturnWaitsForTheCensusOfTheSource() throws {
        for strategy in [StrategyKind.mitosis, .mitosisObservers, .reconfig, .copy] {
            let plan = try Fixtures.plan(strategy, 3, 3, staying: strategy == .mitosisObservers || strategy == .copy)
            let pointIndex = try #require(plan.pointOfNoReturn.flatMap { plan.index(of: $0) }, "\(strategy) has no point of no return")
            // Before the split begins: the first of the steps in the point of no return's window
            // (mitosis: the firewall), while the source still serves every client.
            let censusIndex = try #require(PlanBuilder.censusStep(plan.steps, pointOfNoReturn: plan.pointOfNoReturn))
            #expect(censusIndex <= pointIndex)
            #expect(plan.steps[censusIndex..<pointIndex].allSatisfy { $0.impact == plan.steps[pointIndex].impact && $0.impact != .none })
            if censusIndex > 0 { #expect(plan.steps[censusIndex - 1].impact != plan.steps[pointIndex].impact || plan.steps[pointIndex].impact == .none) }
            if strategy == .mitosis || strategy == .mitosisObservers { #expect(plan.steps[censusIndex].id == "split-firewall", "\(strategy)") }
            #expect(plan.steps[censusIndex].gatesBefore.first == .sessionsAccountedFor(ensemble: plan.source.name, servers: plan.source.refs), "\(strategy)")
            #expect(plan.steps.flatMap(\.gatesBefore).filter { if case .sessionsAccountedFor = $0 { true } else { false } }.count == 1, "\(strategy)")
            #expect(try Prover.check(plan).isSafe, "\(strategy)")
        }
    }

    @Test func inventoryExamplePlansMitosisObservers() throws {
        let inventory = try Inventory.parse(yaml: Inventory.example, fileName: "example.yaml")
        let plan = try Planner.plan(.mitosisObservers, inventory: inventory, source: "source", destination: "destination")
        #expect(plan.source.version == .v3_4_13 && plan.destination.version == .v3_8_0)
        #expect(plan.notes.contains { $0.contains("rehearse") }, "mixed 3.4/3.8 ensemble is called out")
        #expect(try Prover.check(plan).isSafe)
        let unknown = refusal { try Planner.plan(.mitosis, inventory: inventory, source: "nope", destination: "destination") }
        #expect(unknown?.code == .unknownEnsemble)
    }
}
