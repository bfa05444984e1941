import Ensemble
import Testing

@testable import Migration
@testable import MigrationPlanning

/// The executor may restart the servers of a rolling restart in any order (it restarts the
/// leader last, and only the running ensemble knows who leads): every order must be safe.
@Suite struct RollingRestartOrders {
    static func permutations<T>(_ items: [T]) -> [[T]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { index -> [[T]] in
            var rest = items
            let first = rest.remove(at: index)
            return permutations(rest).map { [first] + $0 }
        }
    }

    @Test(arguments: [(StrategyKind.mitosis, 3, 3), (.mitosisObservers, 3, 3)])
    func everyRestartOrderIsSafe(_ strategy: StrategyKind, _ sourceSize: Int, _ destinationSize: Int) throws {
        let plan = try Fixtures.plan(strategy, sourceSize, destinationSize, staying: false)
        let groups = Set(plan.steps.compactMap(\.rollingRestart))
        #expect(!groups.isEmpty, "the plan marks no rolling restart")
        var checked = 0
        for group in groups.sorted() {
            let positions = plan.steps.indices.filter { plan.steps[$0].rollingRestart == group }
            let restarts = positions.map { plan.steps[$0] }
            for order in Self.permutations(restarts) {
                var variant = plan
                for (position, step) in zip(positions, order) { variant.steps[position] = step }
                let proof = try Prover.check(variant)
                #expect(proof.isSafe, "\(group) in the order \(order.map(\.id.rawValue)): \(proof)")
                checked += 1
            }
        }
        #expect(checked > 1)
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
