import Ensemble
import Testing

@testable import Migration

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
}
