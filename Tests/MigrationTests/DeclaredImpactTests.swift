import Ensemble
import Foundation
import Testing

@testable import Migration
@testable import MigrationPlanning

/// Every stop or restart of a server clients may use is declared, with or without client groups,
/// and a stall is judged against the windows the plan declares.
@Suite struct DeclaredImpactTests {
    /// The steps that stop or restart a server of `ensemble`.
    static func restarts(_ plan: Plan, of ensemble: String) -> [Step] {
        plan.steps.filter { step in
            step.actions.contains { action in
                switch action {
                case .stopServer(let server), .restartServer(let server): return server.ensemble == ensemble
                default: return false
                }
            }
        }
    }

    @Test(arguments: [StrategyKind.mitosisObservers, .mitosis, .copy, .reconfig, .replace])
    func everySourceRestartIsInAWindowWithAndWithoutClientGroups(_ strategy: StrategyKind) throws {
        // Mitosis 3→3 and reconfig allow no group to stay; block & copy needs a group to move.
        let withGroups = try Fixtures.plan(strategy, 3, 3, staying: strategy != .reconfig && strategy != .mitosis)
        let withoutGroups =
            strategy == .copy ? nil : try Planner.plan(strategy, source: withGroups.source, destination: withGroups.destination, clientGroups: [])
        for plan in [withGroups] + (withoutGroups.map { [$0] } ?? []) {
            let undeclared = Self.restarts(plan, of: plan.source.name).filter { $0.impact == .none }.map(\.id.rawValue)
            #expect(undeclared.isEmpty, "\(strategy): \(undeclared) stop or restart a source server outside every window")
            #expect(try Prover.check(plan).isSafe, "\(strategy) no longer proves safe")
        }
        if let withoutGroups, let window = withoutGroups.window(ServerRestartImpact.windowID) {
            #expect(window.clientGroups.isEmpty)
            #expect(!window.exemptsQuorum)
            #expect(Runbook.render(withoutGroups).contains("server-restart: every client (the inventory lists no client group)"))
        }
    }

    /// The join's rolling restart of the source (the 1.5 s stall the rehearsal saw when the
    /// leader restarted) is declared, for the groups then on the source.
    @Test func theJoinsSourceRestartsAreDeclared() throws {
        let plan = try Fixtures.plan(.mitosisObservers, 3, 3, staying: true)
        let join = plan.steps.filter { $0.id.rawValue.hasPrefix("join-restart-") }
        #expect(join.count == 3)
        #expect(join.allSatisfy { $0.impact == .window(id: ServerRestartImpact.windowID) })
        let window = try #require(plan.window(ServerRestartImpact.windowID))
        #expect(Set(window.clientGroups) == ["kafka", "smartstack"])
        #expect(window.expectedLength == PlanDuration.seconds(5))
    }

    /// A destination server joined to the source is a voter that may lead the clients' ensemble:
    /// its restarts in the join are declared too (the rehearsal saw every client stall when the
    /// join restarted a leading destination server).
    @Test func aJoinedDestinationServersRestartIsDeclared() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        var started: Set<ServerRef> = []
        var checked = 0
        for step in plan.steps {
            for action in step.actions {
                guard case .restartServer(let server) = action, server.ensemble == plan.destination.name, started.contains(server) else { continue }
                #expect(step.impact != .none, "\(step.id) restarts \(server), which was started before, outside every window")
                checked += 1
            }
            for action in step.actions {
                if case .startServer(let server) = action { started.insert(server) }
                if case .restartServer(let server) = action { started.insert(server) }
            }
        }
        #expect(checked > 0, "the mitosis join restarts a joined destination server")
    }

    /// A destination server that no client uses yet (the empty destination stopped at preflight)
    /// is no one's window.
    /// A rollback declares its stops like a forward plan: a mitosis stopped after destination
    /// server 4 joined and the source restarted into the larger list goes back by stopping server
    /// 4, which may lead the source by then.
    @Test func aRollbacksStopsAreDeclared() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        var events = [ExecutionEvent(kind: .planStarted, summary: "start", plan: "x")]
        let done = plan.steps.prefix { !$0.id.rawValue.hasPrefix("join-4-synced") }
        #expect(done.contains { $0.id == "join-4-restart-1" })
        for step in done {
            events.append(ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title))
            for index in step.actions.indices {
                events.append(ExecutionEvent(kind: .actionStarted, step: step.id, action: index, summary: "", previousContents: ["/etc/zookeeper/conf/zoo.cfg": "x=1\n"]))
                events.append(ExecutionEvent(kind: .actionFinished, step: step.id, action: index, summary: "", changed: step.id != "preflight", previousContents: ["/etc/zookeeper/conf/zoo.cfg": "x=1\n"]))
            }
            events.append(ExecutionEvent(kind: .stepFinished, step: step.id, summary: step.title))
        }
        let rollback = try Rollback.plan(for: try Prover.prove(plan), journal: JournalState(events: events))
        let stop = try #require(rollback.steps.first { $0.id == "rollback-join-4-start" })
        #expect(stop.actions == [.stopServer(ServerRef(ensemble: "destination", id: 4, host: "zk-destination-4"))])
        #expect(stop.impact == .window(id: ServerRestartImpact.windowID))
        let window = try #require(rollback.window(ServerRestartImpact.windowID))
        #expect(window.clientGroups == ["kafka"] && !window.exemptsQuorum)
        // Every stop or restart of a server clients may use is in a window.
        for step in rollback.steps where step.actions.contains(where: { if case .stopServer = $0 { true } else if case .restartServer = $0 { true } else { false } }) {
            #expect(step.impact != .none, "\(step.id)")
        }
    }

    @Test func anUnusedDestinationServerNeedsNoWindow() throws {
        let plan = try Fixtures.plan(.mitosisObservers, 3, 3, staying: true)
        let preflight = try #require(plan.step("preflight"))
        #expect(preflight.impact == .none)
    }

    /// Plans written before windows said whether they exempt the quorum keep exempting it.
    @Test func anOlderPlansWindowsStillExemptTheQuorum() throws {
        let json = #"{"id":"split","clientGroups":["kafka"],"expectedLength":10000,"reason":"r"}"#
        let window = try JSONDecoder().decode(ImpactWindow.self, from: Data(json.utf8))
        #expect(window.exemptsQuorum)
        let again = try JSONDecoder().decode(ImpactWindow.self, from: try JSONEncoder().encode(ImpactWindow(id: "w", clientGroups: [], expectedLength: .seconds(5), reason: "r", exemptsQuorum: false)))
        #expect(!again.exemptsQuorum)
    }

    static let windows = [
        ImpactWindow(id: "server-restart", clientGroups: [], expectedLength: .seconds(5), reason: "r", exemptsQuorum: false),
        ImpactWindow(id: "split", clientGroups: ["kafka"], expectedLength: .seconds(10), reason: "r"),
    ]
    static let steps = [
        StallJudgement.StepInterval(window: nil, start: 0, end: 10),
        StallJudgement.StepInterval(window: "server-restart", start: 10, end: 12),
        StallJudgement.StepInterval(window: nil, start: 12, end: 20),
        StallJudgement.StepInterval(window: "split", start: 20, end: 25),
    ]

    static func judge(_ group: String, _ start: Double, _ end: Double) -> StallJudgement {
        StallJudgement.judge(group: group, start: start, end: end, steps: steps, windows: windows, grace: 1)
    }

    @Test func aStallInsideItsWindowIsDeclared() {
        #expect(Self.judge("writers", 10.5, 12.0) == .declared(window: "server-restart", seconds: 1.5, allowed: 5))
        // It may end within the grace after the step: the client notices at its next try.
        #expect(Self.judge("writers", 11.8, 12.9).isDeclared)
        #expect(Self.judge("kafka", 21, 29) == .declared(window: "split", seconds: 8, allowed: 10))
    }

    @Test func aStallOutsideEveryWindowOrLongerThanItsWindowIsNot() {
        #expect(Self.judge("writers", 3, 4.5) == .undeclared(seconds: 1.5))
        // After the grace: not the restart's any more.
        #expect(Self.judge("writers", 13.5, 15) == .undeclared(seconds: 1.5))
        // The split window names kafka only.
        #expect(Self.judge("writers", 21, 22) == .undeclared(seconds: 1))
        #expect(Self.judge("writers", 10.2, 16.2) == .longerThanDeclared(window: "server-restart", seconds: 6, allowed: 5))
        #expect(!Self.judge("writers", 10.2, 16.2).isDeclared)
    }
}
