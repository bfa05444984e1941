import Ensemble
import Foundation
@testable import Migration
@testable import MigrationPlanning
import Testing

/// HubSpot's phases 1–3 as plan steps: servers and clients start on the hosts' addresses
/// (10.9.0.x), the services (10.1.0.x) exist only in the inventory, and replace puts every server
/// behind its service before it replaces any.
@Suite struct ServicePhasesTests {
    /// A 3-server replace from host addresses; clients (a moving and a staying group) use the
    /// host addresses.
    static func plan() throws -> Plan {
        let behind = Fixtures.ensemble(
            "source", ids: [1, 2, 3], subnet: 1, version: .v3_8_0, data: .holdsData, running: true, stableAddress: .service)
        var source = behind
        source.servers = behind.servers.map { server in
            var server = server
            server.stableAddress = .serviceFromHost("10.9.0.\(server.id)")
            return server
        }
        let destination = Fixtures.ensemble(
            "destination", ids: [1, 2, 3], subnet: 2, version: .v3_8_0, data: .empty, running: false, sameAddressesAs: behind,
            stableAddress: .service)
        var groups = Fixtures.groups(source: behind)
        let hosts = source.currentConnectionString
        for group in groups.indices {
            for member in groups[group].members.indices {
                groups[group].members[member].connectionString = hosts(groups[group].chroot)
            }
        }
        return try Planner.plan(.replace, source: source, destination: destination, clientGroups: groups)
    }

    func counterexample(_ plan: Plan) throws -> Counterexample {
        try #require(try Prover.check(plan).counterexample, "the prover accepted a bad plan")
    }

    @Test func phasesOneToThreeComeFirstAndProveSafe() throws {
        let plan = try Self.plan()
        let ids = plan.steps.map(\.id.rawValue)
        let create = try #require(ids.firstIndex(of: "service-3-create"))
        let firstSwitch = try #require(ids.firstIndex { $0.hasPrefix("switch-") })
        let lastSwitch = try #require(ids.lastIndex { $0.hasPrefix("switch-") })
        let configs = try #require(ids.firstIndex(of: "services-configs"))
        let restarts = ids.indices.filter { ids[$0].hasPrefix("services-restart-") }
        let replace = try #require(ids.firstIndex(of: "replace-1-prepare"))
        #expect(ids.firstIndex(of: "service-1-create")! < create && create < firstSwitch)
        #expect(lastSwitch < configs && configs < restarts.min()! && restarts.max()! < replace)
        #expect(restarts.count == 3)
        // Every group moves to the services, the staying one too: the host addresses lead to the old hosts.
        #expect(ids.contains("switch-smartstack-nerve-1") && ids.contains("switch-kafka-broker-3"))
        let switchStep = try #require(plan.step("switch-kafka-broker-1"))
        guard case .switchClient(let change) = switchStep.actions[0] else { Issue.record("not a switch"); return }
        #expect(change.from == "10.9.0.1:2181,10.9.0.2:2181,10.9.0.3:2181/kafka")
        #expect(change.to == "10.1.0.1:2181,10.1.0.2:2181,10.1.0.3:2181/kafka")
        #expect(plan.source.isServiceSwitch(from: change.from, to: change.to))
        // Phase 3: service addresses in the lines, quorumListenOnAllIPs, a synced gate per restart.
        for case .writeConfig(let write) in try #require(plan.step("services-configs")).actions {
            #expect(write.text.contains("server.2=10.1.0.2:2888:3888"))
            #expect(write.text.contains("quorumListenOnAllIPs=true"))
            #expect(write.previousText?.contains("server.2=10.9.0.2:2888:3888") == true)
        }
        let restart = try #require(plan.step("services-restart-2"))
        #expect(restart.gatesAfter.contains(.followersSynced(servers: [ServerRef(ensemble: "source", id: 2, host: "zk-source-2")])))
        // The declared impact: phase 3's restarts, with their election, for every group.
        #expect(restart.impact == .window(id: "services-restart"))
        #expect(plan.window("services-restart")?.clientGroups == ["kafka", "smartstack"])
        #expect(plan.window("services-restart")?.exemptsQuorum == false)
        // Phase 1 points each service at the host the server runs on now.
        guard case .moveAddress(let move) = try #require(plan.step("service-2-create")).actions[0] else { Issue.record("not a move"); return }
        #expect(move.from == move.to && move.to.host == "zk-source-2" && move.address == "10.1.0.2" && move.kind == .service)
        // The census before phase 4: a client nobody listed, still on the host addresses, loses its servers from there.
        let census = Gate.sessionsAccountedFor(ensemble: "source", servers: plan.source.refs)
        #expect(plan.step("replace-census")?.gatesBefore.first == census)
        #expect(plan.index(of: "replace-census") == plan.steps.firstIndex { $0.rollingRestart == "replace" }.map { $0 - 1 })
        #expect(plan.steps.filter { $0.gatesBefore.contains(census) }.count == 1)
        let result = try Prover.check(plan)
        #expect(result.isSafe, "\(result)")
        // The runbook names the commands of each phase.
        let runbook = Runbook.render(plan)
        #expect(runbook.contains("kubectl apply -f DIR/phase-1/services.yaml"))
        #expect(runbook.contains("ss -Htn state established"))
        #expect(runbook.contains("+quorumListenOnAllIPs=true"))
    }

    /// Phase 2 before phase 1: the clients are sent to services that point nowhere.
    @Test func clientsSwitchedToAServiceThatPointsNowhere() throws {
        var bad = try Self.plan()
        let creates = bad.steps.filter { $0.id.rawValue.hasPrefix("service-") && $0.id.rawValue.hasSuffix("-create") }
        bad.steps.removeAll { creates.map(\.id).contains($0.id) }
        let configs = try #require(bad.index(of: "services-configs"))
        bad.steps.insert(contentsOf: creates, at: configs)
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .clientsServed)
        #expect(found.step == "switch-kafka-broker-1")
        #expect(found.violation.message.contains("switches to 10.1.0.1, which points nowhere yet"))
    }

    /// A service pointed at another server's host: the client that follows it reaches the wrong server.
    @Test func clientsSwitchedToAServiceThatPointsElsewhere() throws {
        var bad = try Self.plan()
        let index = try #require(bad.index(of: "service-1-create"))
        guard case .moveAddress(var move) = bad.steps[index].actions[0] else { Issue.record("not a move"); return }
        move.to = ServerRef(ensemble: "source", id: 2, host: "zk-source-2")
        move.from = move.to
        bad.steps[index].actions = [.moveAddress(move)]
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .clientsServed)
        #expect(found.violation.message.contains("switches to 10.1.0.1, which points at source 2, not at a server 1"))
    }

    /// Phase 3 without quorumListenOnAllIPs: a server's own line is a service address on no interface.
    @Test func peersSwitchedWithoutQuorumListenOnAllIPs() throws {
        let bad = try Fixtures.withoutQuorumListenOnAllIPs(try Self.plan(), in: "services-configs")
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .planProceeds)
        #expect(found.violation.message.contains("without quorumListenOnAllIPs=true"))
    }

    /// Phase 3 before phase 1: a server restarted onto the service addresses reaches no peer.
    @Test func peersSwitchedBeforeTheServicesExist() throws {
        var bad = try Self.plan()
        let phase3 = bad.steps.filter { $0.id.rawValue.hasPrefix("services-") }
        bad.steps.removeAll { phase3.map(\.id).contains($0.id) }
        let first = try #require(bad.index(of: "service-1-create"))
        bad.steps.insert(contentsOf: phase3, at: first)
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .planProceeds)
        #expect(found.violation.message.contains("after step services-restart-"))
    }

    /// Phase 2 left out: clients still on the host addresses reach only the old servers, and the
    /// staying group loses its quorum when the third of them stops.
    @Test func clientsLeftOnTheHostAddresses() throws {
        var bad = try Self.plan()
        bad.steps.removeAll { $0.id.rawValue.hasPrefix("switch-") }
        let found = try counterexample(bad)
        #expect(found.violation.invariant == .sourceKeepsQuorum)
        #expect(found.step == "replace-3-stop-old")
        #expect(found.violation.message.contains("smartstack/nerve-1"), "\(found)")
    }

    /// A run stopped in phase 3 goes back proven: the files back to the host addresses and the
    /// servers restarted onto them, then the clients back to the host addresses; the services
    /// stay pointed at the servers' hosts.
    @Test func aRunStoppedInPhaseThreeRollsBackSafely() throws {
        let plan = try Self.plan()
        let proven = try Prover.prove(plan)
        var events = [ExecutionEvent(kind: .planStarted, summary: "start", plan: "x")]
        let stopAt = try #require(plan.index(of: "services-restart-2"))
        for step in plan.steps[...stopAt] {
            events.append(ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title))
            for (index, action) in step.actions.enumerated() {
                var previous: [String: String]?
                if case .writeConfig(let write) = action { previous = [write.configPath: write.previousText ?? ""] }
                events.append(ExecutionEvent(kind: .actionStarted, step: step.id, action: index, summary: "", previousContents: previous))
                // (The preflight's stops found the new servers stopped already.)
                events.append(
                    ExecutionEvent(kind: .actionFinished, step: step.id, action: index, summary: "", changed: step.id != "preflight", previousContents: previous))
            }
            events.append(ExecutionEvent(kind: .stepFinished, step: step.id, summary: step.title))
        }
        let journal = JournalState(events: events)
        let rollback = try Rollback.plan(for: proven, journal: journal)
        let ids = rollback.steps.map(\.id.rawValue)
        let restore = try #require(ids.firstIndex { $0.hasPrefix("rollback-") && $0.hasSuffix("-configs") }, "\(ids)")
        let switchBack = try #require(ids.firstIndex { $0.contains("switch-kafka-broker-1") }, "\(ids)")
        #expect(restore < switchBack, "\(ids)")
        // The services stay where phase 1 pointed them: nobody uses them once the clients are back.
        #expect(!ids.contains { $0.hasSuffix("-create") }, "\(ids)")
        do {
            _ = try Prover.prove(rollback: rollback, of: proven, journal: journal)
        } catch {
            Issue.record("\(error.counterexample.map(String.init(describing:)) ?? "\(error)")")
        }
    }

    /// Discovery takes a source zoo.cfg on the host addresses as the starting point, and refuses
    /// one that names the service addresses already (the inventory's hostAddress would be wrong).
    @Test func discoveryExpectsTheHostAddressesInTheSourceFiles() throws {
        let plan = try Self.plan()
        let server = try #require(plan.source.server(2))
        func problems(_ lines: [String]) -> [String] {
            let text = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zookeeper\nclientPort=2181\n" + lines.joined(separator: "\n") + "\n"
            let observed = ObservedServer(
                ensemble: "source", id: 2, host: server.host, config: ObservedFile(path: server.configPath, bytes: Array(text.utf8)),
                myid: ObservedFile(path: server.myidPath, bytes: Array("2\n".utf8)))
            return EstateValidation.check(server, of: plan.source, observed: observed, isSource: true, destinationHoldsData: false).map(\.description)
        }
        #expect(problems((1...3).map { "server.\($0)=10.9.0.\($0):2888:3888" }) == [])
        let behind = problems((1...3).map { "server.\($0)=10.1.0.\($0):2888:3888" })
        #expect(behind.count == 3)
        #expect(behind.first?.contains("server.1 names the service address 10.1.0.1 already, but the inventory says peers use its host address 10.9.0.1") == true, "\(behind)")
        let other = problems(["server.1=10.9.0.1:2888:3888", "server.2=10.9.0.7:2888:3888", "server.3=10.9.0.3:2888:3888"])
        #expect(other.count == 1 && other[0].contains("differs from the inventory (10.9.0.2:2888:3888, its host address until the plan puts it behind its service 10.1.0.2)"), "\(other)")
    }

    /// `--kubernetes` writes the same files; its runbook lists phases 1–3's steps under their phases.
    @Test func kubernetesOutputKeepsItsShape() throws {
        let plan = try Self.plan()
        let hosts = Dictionary(uniqueKeysWithValues: (1...3).map { ("zk-source-\($0)", "10.9.0.\($0)") })
        let files = try KubernetesManifests.make(plan, hostAddresses: hosts)
        #expect(files.map(\.path).sorted() == [
            "RUNBOOK.md", "phase-1/services.yaml", "phase-4/source-1/1-configmap.yaml", "phase-4/source-1/2-service.yaml",
            "phase-4/source-1/3-statefulset.yaml", "phase-4/source-2/1-configmap.yaml", "phase-4/source-2/2-service.yaml",
            "phase-4/source-2/3-statefulset.yaml", "phase-4/source-3/1-configmap.yaml", "phase-4/source-3/2-service.yaml",
            "phase-4/source-3/3-statefulset.yaml",
        ])
        let runbook = try #require(files.first { $0.path == "RUNBOOK.md" }).text
        let phase2 = try #require(runbook.range(of: "## Phase 2"))
        let phase3 = try #require(runbook.range(of: "## Phase 3"))
        let phase4 = try #require(runbook.range(of: "## Phase 4"))
        #expect(runbook[..<phase2.lowerBound].contains("- [service-1-create]"))
        #expect(runbook[phase2.upperBound..<phase3.lowerBound].contains("- [switch-kafka-broker-1]"))
        #expect(runbook[phase3.upperBound..<phase4.lowerBound].contains("- [services-restart-3]"))
        #expect(!runbook[phase4.upperBound...].contains("[services-"))
    }

    /// The check on each client's host needs `ss` there: preflight looks for it before anything changes.
    @Test func preflightLooksForSSOnTheClientsHosts() throws {
        let plan = try Self.plan()
        let needs = HostClientGroupController(plan: plan, hosts: ClientConfigCheckTests.NoHosts()).preflightNeeds()
        #expect(needs.programs["kafka-1"]?["ss"]?.contains("connects through the service addresses") == true)
        #expect(needs.programs["svc-1"]?["ss"] != nil)
    }

    @Test func switchesAreSeenOnTheClientsHost() throws {
        let ss = """
            0      0      10.200.1.21:41234   10.200.250.1:2181
            0      0      10.200.1.21:22      10.200.0.1:50000
            0      0      [::ffff:10.200.1.21]:41240   [::ffff:10.200.1.12]:2181
            """
        let half = try SocketEvidence.judge(ssOutput: ss, from: "10.200.1.11:2181,10.200.1.12:2181", to: "10.200.250.1:2181,10.200.250.2:2181")
        #expect(half.toTarget == ["10.200.250.1:2181"] && half.toOld == ["10.200.1.12:2181"] && !half.switched)
        let done = try SocketEvidence.judge(ssOutput: String(ss.split(separator: "\n")[0]), from: "10.200.1.11:2181", to: "10.200.250.1:2181/kafka")
        #expect(done.switched)
    }

    /// A connection string of host names: each name counts as what it resolves to on the client's
    /// host (`getent ahosts` there), and an address both strings reach counts for the new one.
    @Test func hostNamesAreMatchedByWhatTheyResolveToOnTheClientsHost() throws {
        let getent = """
            10.200.250.1    STREAM zk-1.zookeeper.svc.cluster.local
            10.200.250.1    DGRAM
            10.200.250.1    RAW
            ::ffff:10.200.250.1 STREAM
            """
        #expect(SocketEvidence.addresses(inGetentOutput: getent) == ["10.200.250.1"])
        #expect(SocketEvidence.addresses(inGetentOutput: "") == [])
        let ss = """
            0      0      10.200.1.21:41234   10.200.250.1:2181
            0      0      10.200.1.21:41236   10.200.1.12:2181
            """
        let resolved = ["zk-1.zookeeper.svc.cluster.local": ["10.200.250.1"], "zk-old-2": ["10.200.1.12"], "zk-old-1": ["10.200.1.11"]]
        let half = try SocketEvidence.judge(
            ssOutput: ss, from: "zk-old-1:2181,zk-old-2:2181", to: "zk-1.zookeeper.svc.cluster.local:2181,10.200.250.2:2181", resolved: resolved)
        #expect(half.toTarget == ["10.200.250.1:2181"] && half.toOld == ["10.200.1.12:2181"] && !half.switched, "\(half)")
        // Unresolved, a name matches no socket: the old connection would go unseen.
        let blind = try SocketEvidence.judge(ssOutput: ss, from: "zk-old-1:2181,zk-old-2:2181", to: "10.200.250.1:2181")
        #expect(blind.switched)
        // The old string names the service address too: that socket counts as switched.
        let shared = try SocketEvidence.judge(
            ssOutput: String(ss.split(separator: "\n")[0]), from: "zk-old-1:2181,10.200.250.1:2181", to: "zk-1.zookeeper.svc.cluster.local:2181",
            resolved: resolved)
        #expect(shared.switched && shared.toOld.isEmpty)
    }
}

extension PlanEnsemble {
    /// The connection string over the servers' current (host) addresses.
    func currentConnectionString(_ chroot: String?) -> String {
        servers.map { "\($0.currentAddress):\($0.clientPort)" }.joined(separator: ",") + (chroot ?? "")
    }
}
