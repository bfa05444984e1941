import Ensemble
import Foundation
import Testing

@testable import MigrationPlanning

/// Plan files written by an earlier mitosis (see PlanFiles/README.md) read as they did: the same
/// plan, the same digests (so `run` accepts them as proved), the same bytes when written again,
/// and the plan today's planner makes from the same inventory.
@Suite struct PlanFileTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("PlanFiles")

    struct Case: Sendable, CustomStringConvertible {
        var file: String
        var strategy: StrategyKind
        var inventory: String
        var description: String { file }
    }

    static let cases = [
        Case(file: "example-mitosis-observers.json", strategy: .mitosisObservers, inventory: Inventory.example),
        Case(
            file: "example-3.8-reconfig.json", strategy: .reconfig,
            inventory: Inventory.example.replacingOccurrences(of: "version: 3.4.13", with: "version: 3.8.0")),
    ]

    @Test(arguments: cases)
    func anOldPlanFileDecodesWithItsDigestsAndBytes(_ planFile: Case) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(planFile.file))
        let plan = try Plan(jsonData: data)
        let proof = try #require(plan.proof)
        #expect(plan.canonicalDigest == proof.digest)
        #expect(plan.steps.map(\.canonicalDigest) == proof.steps.map(\.digest))
        #expect(plan.differencesFromProof.isEmpty)
        #expect(try plan.jsonData() == data)
        // Decoding again what was encoded gives the same value.
        #expect(try Plan(jsonData: plan.jsonData()) == plan)

        let inventory = try Inventory.parse(yaml: planFile.inventory)
        var made = try Prover.prove(Planner.plan(planFile.strategy, inventory: inventory, source: "source", destination: "destination")).recorded
        // The proof record counts what the prover that wrote it explored: prover v2 checked a
        // rolling restart in its written order only, today's prover in every order the executor
        // may choose (more states). The plan, its digests and every other byte are the same.
        #expect(made.proof?.digest == proof.digest && made.proof?.steps == proof.steps)
        #expect(made.proof?.proverVersion == Prover.version)
        #expect((made.proof?.statesExplored ?? 0) >= proof.statesExplored)
        made.proof?.proverVersion = proof.proverVersion
        made.proof?.statesExplored = proof.statesExplored
        #expect(made == plan)
        #expect(try made.jsonData() == data)
    }
}
