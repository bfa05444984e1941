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
        let group = try #require(plan.steps.compactMap(\.rollingRestart).first)
        let positions = plan.steps.indices.filter { plan.steps[$0].rollingRestart == group }
        #expect(positions.count >= 3)
        let first = plan.steps[positions[0]].id, last = plan.steps[positions[positions.count - 1]].id
        // The earlier run moved the last restart forward (the first one's server led) and died in it.
        let state = JournalState(events: [
            ExecutionEvent(kind: .reordered, step: last, summary: "leader last"),
            ExecutionEvent(kind: .stepStarted, step: last, summary: ""),
            ExecutionEvent(kind: .actionStarted, step: last, action: 0, summary: ""),
        ])
        #expect(MigrationExecutor.interruptedRestart(after: positions[0], in: plan.steps, state: state) == positions[positions.count - 1])
        // Once it finished, nothing is moved; nor when the step at hand is itself the interrupted one.
        var done = state
        done.finishedSteps.insert(last)
        #expect(MigrationExecutor.interruptedRestart(after: positions[0], in: plan.steps, state: done) == nil)
        var begun = state
        begun.startedSteps.insert(first)
        #expect(MigrationExecutor.interruptedRestart(after: positions[0], in: plan.steps, state: begun) == nil)
        // Steps outside a rolling restart are never moved.
        let outside = try #require(plan.steps.indices.first { plan.steps[$0].rollingRestart == nil })
        #expect(MigrationExecutor.interruptedRestart(after: outside, in: plan.steps, state: state) == nil)
    }
}
