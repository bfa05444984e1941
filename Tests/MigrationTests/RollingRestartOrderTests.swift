import Ensemble
import Testing

@testable import Migration
@testable import MigrationPlanning

/// The executor may restart the servers of a rolling restart in any order (it restarts the
/// leader last, and only the running ensemble knows who leads): every order must be safe. The
/// prover explores every such order in one proof (so every shipped plan's proof covers them).
@Suite struct RollingRestartOrders {
    /// A rolling restart whose steps are safe in the written order but not in another the executor
    /// may choose: restart server 1, then stop server 2 (started again after the rolling restart).
    /// Stopping 2 first leaves 1 and 3, and the restart of 1 then leaves 3 alone.
    static func orderSensitivePlan(grouped: Bool) -> Plan {
        let source = Fixtures.source(3)
        let refs = source.refs
        let group = grouped ? "roll" : nil
        return Plan(
            strategy: .replace, source: source, destination: Fixtures.destination(3, after: 3), clientGroups: Fixtures.groups(source: source, staying: false),
            steps: [
                Step(id: "roll-restart-1", title: "restart server 1", why: "test", actions: [.restartServer(refs[0])], rollingRestart: group),
                Step(id: "roll-stop-2", title: "stop server 2", why: "test", actions: [.stopServer(refs[1])], rollingRestart: group),
                Step(id: "start-2", title: "start server 2", why: "test", actions: [.startServer(refs[1])]),
            ],
            pointOfNoReturn: nil, impactWindows: [])
    }

    /// The prover explores every order the executor may choose, not only the written one: the
    /// plan above is refused, and the counterexample shows the order that loses the quorum.
    @Test func anOrderOnlyTheExecutorChoosesIsRefused() throws {
        // In the written order alone the steps are safe.
        #expect(try Prover.check(Self.orderSensitivePlan(grouped: false)).isSafe)
        let result = try Prover.check(Self.orderSensitivePlan(grouped: true))
        let found = try #require(result.counterexample, "the prover accepted an order that loses the quorum")
        #expect(found.violation.invariant == .clientsServed)
        let begun = found.trace.filter { $0.kind == .stepBegins }.compactMap(\.step?.rawValue)
        #expect(begun == ["roll-stop-2", "roll-restart-1"], "\(found)")
        #expect(found.trace.first?.text.contains("in the place of roll-restart-1") == true, "\(found)")
        #expect(found.trace.last?.text.contains("source 1 goes down") == true, "\(found)")
    }

    /// A unit of two steps (stop server 2, start it) run first spans the step between the
    /// rolling restart's places (a restart of server 3), which stays in its place: the prover
    /// explores that order as the executor lays it out, and it loses the quorum.
    @Test func aStepBetweenThePlacesStaysInPlaceInsideAUnit() throws {
        let source = Fixtures.source(3)
        let refs = source.refs
        let plan = Plan(
            strategy: .replace, source: source, destination: Fixtures.destination(3, after: 3), clientGroups: Fixtures.groups(source: source, staying: false),
            steps: [
                Step(id: "roll-restart-1", title: "restart server 1", why: "test", actions: [.restartServer(refs[0])], rollingRestart: "roll"),
                Step(id: "restart-3", title: "restart server 3", why: "test", actions: [.restartServer(refs[2])]),
                Step(id: "roll-stop-2", title: "stop server 2", why: "test", actions: [.stopServer(refs[1])], rollingRestart: "roll", restartUnit: "2"),
                Step(id: "roll-start-2", title: "start server 2", why: "test", actions: [.startServer(refs[1])], rollingRestart: "roll", restartUnit: "2"),
            ],
            pointOfNoReturn: nil, impactWindows: [])
        var written = plan
        for index in written.steps.indices { written.steps[index].rollingRestart = nil }
        #expect(try Prover.check(written).isSafe)
        let found = try #require(try Prover.check(plan).counterexample)
        let begun = found.trace.filter { $0.kind == .stepBegins }.compactMap(\.step?.rawValue)
        #expect(begun == ["roll-stop-2", "restart-3"], "\(found)")
        let group = try #require(RollingRestarts.of(plan.steps).get().groups.first)
        #expect(group.units == [[0], [2, 3]])
        #expect(RollingRestarts(groups: [group]).steps(plan.steps, orders: ["roll": [1, 0]]).map(\.id.rawValue) == ["roll-stop-2", "restart-3", "roll-start-2", "roll-restart-1"])
    }

    /// The executor moves a restart only among its own rolling restart's places: the steps of two
    /// rolling restarts must not interleave, or the plan cannot be checked.
    @Test func interleavedRollingRestartsAreRefused() throws {
        var plan = Self.orderSensitivePlan(grouped: true)
        plan.steps[2].rollingRestart = "other"
        plan.steps.swapAt(1, 2)
        #expect(throws: ProverError.self) { try Prover.check(plan) }
    }

    /// A run that restarted the leader last and was stopped during that later restart resumes it
    /// before any restart it had not begun (else two servers of the round could be down at once).
    @Test func aResumedRunFinishesTheInterruptedRestartFirst() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let group = try #require(RollingRestarts.of(plan.steps).get().groups.first)
        #expect(group.units.count >= 3 && group.units.allSatisfy { $0.count == 1 })
        let last = plan.steps[group.units[group.units.count - 1][0]].id
        // The earlier run moved the last restart forward (the first one's server led) and died in it.
        let state = JournalState(events: [
            ExecutionEvent(kind: .reordered, step: last, summary: "leader last"),
            ExecutionEvent(kind: .stepStarted, step: last, summary: ""),
            ExecutionEvent(kind: .actionStarted, step: last, action: 0, summary: ""),
        ])
        let order = MigrationExecutor.unitOrder(group, steps: plan.steps, state: state)
        #expect(order == [group.units.count - 1] + Array(0..<(group.units.count - 1)))
        let laid = RollingRestarts(groups: [group]).steps(plan.steps, orders: [group.name: order])
        #expect(laid[group.positions[0]].id == last)
        // It is under way: it is not moved again, whoever leads.
        #expect(MigrationExecutor.movingLast(order, place: 0, of: group, steps: plan.steps, state: state) == nil)
        // With nothing begun, the plan's order; steps outside the rolling restart stay in place.
        #expect(MigrationExecutor.unitOrder(group, steps: plan.steps, state: JournalState(events: [])) == Array(group.units.indices))
        let outside = try #require(plan.steps.indices.first { plan.steps[$0].rollingRestart == nil })
        #expect(laid[outside] == plan.steps[outside])
    }

    /// replace: each server's replacement (prepare, stop the old one, move its address, start the
    /// new one) is one unit, and the unit of the server that leads goes last as a whole.
    @Test func replaceMovesTheLeadersUnitLastAsAWhole() throws {
        let plan = try Fixtures.plan(.replace, 3, 3, staying: true, movableAddresses: true)
        let group = try #require(RollingRestarts.of(plan.steps).get().groups.first)
        #expect(group.name == "replace")
        #expect(group.units.map { $0.map { plan.steps[$0].id.rawValue } } == (1...3).map { id in
            ["prepare", "stop-old", "move-address", "start-new"].map { "replace-\(id)-\($0)" }
        })
        #expect(MigrationExecutor.server(of: group.units[0], in: plan.steps) == plan.source.refs[0])
        // Server 1 leads when its unit is about to begin: it goes last, and server 2's unit takes its places.
        let nothing = JournalState(events: [])
        let order = try #require(MigrationExecutor.movingLast([0, 1, 2], place: 0, of: group, steps: plan.steps, state: nothing))
        #expect(order == [1, 2, 0])
        let laid = RollingRestarts(groups: [group]).steps(plan.steps, orders: [group.name: order])
        #expect(group.positions.map { laid[$0].id.rawValue } == [2, 3, 1].flatMap { id in
            ["prepare", "stop-old", "move-address", "start-new"].map { "replace-\(id)-\($0)" }
        })
        // Only where a unit begins, and only while a unit not begun comes after it.
        #expect(MigrationExecutor.movingLast([0, 1, 2], place: 1, of: group, steps: plan.steps, state: nothing) == nil)
        #expect(MigrationExecutor.movingLast([0, 1, 2], place: 8, of: group, steps: plan.steps, state: nothing) == nil)
        // A run stopped in the middle of server 2's unit (moved first) finishes it first on resume.
        let stopped = JournalState(events: [
            ExecutionEvent(kind: .stepStarted, step: "replace-2-prepare", summary: ""),
            ExecutionEvent(kind: .stepFinished, step: "replace-2-prepare", summary: ""),
            ExecutionEvent(kind: .stepStarted, step: "replace-2-stop-old", summary: ""),
        ])
        let resumed = MigrationExecutor.unitOrder(group, steps: plan.steps, state: stopped)
        #expect(resumed == [1, 0, 2])
        #expect(MigrationExecutor.movingLast(resumed, place: 1, of: group, steps: plan.steps, state: stopped) == nil)
        // Every order of the units is proved.
        #expect(try Prover.check(plan).isSafe)
    }

    /// A unit's steps must follow one another among its rolling restart's steps.
    @Test func aSplitUnitIsRefused() throws {
        var plan = try Fixtures.plan(.replace, 3, 3, staying: true)
        let start = try #require(plan.index(of: "replace-1-start-new"))
        let step = plan.steps.remove(at: start)
        plan.steps.insert(step, at: try #require(plan.index(of: "replace-2-stop-old")) + 1)
        #expect(throws: ProverError.self) { try Prover.check(plan) }
    }
}
