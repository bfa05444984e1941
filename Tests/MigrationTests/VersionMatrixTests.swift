import Ensemble
import Testing

@testable import Migration
@testable import MigrationPlanning

/// The version matrix: which strategies each pair of releases allows, and how the others are refused.
@Suite struct VersionMatrixTests {
    /// The pairs operators move between, and the strategies each allows.
    static let matrix: [(source: ZooKeeperVersion, destination: ZooKeeperVersion, possible: [StrategyKind])] = [
        (.v3_4_13, .v3_8_0, [.mitosis, .mitosisObservers, .replace, .copy]),
        (.v3_4_13, .v3_9_3, [.mitosis, .mitosisObservers, .replace, .copy]),
        (.v3_8_0, .v3_9_3, StrategyKind.allCases),
        (.v3_4_13, .v3_4_13, [.mitosis, .mitosisObservers, .replace, .copy]),
        (.v3_8_0, .v3_8_0, StrategyKind.allCases),
        (.v3_9_3, .v3_9_3, StrategyKind.allCases),
    ]

    func refusal(_ body: () throws -> Plan) -> PlanningError? { Fixtures.refusal(body) }

    @Test("each pair allows exactly the strategies of the matrix", arguments: matrix.indices)
    func matrixRow(_ row: Int) throws {
        let (source, destination, possible) = Self.matrix[row]
        #expect(Planner.possibleStrategies(source: source, destination: destination) == possible)
        for strategy in StrategyKind.allCases {
            let error = refusal { try Fixtures.plan(strategy, 3, 3, version: source, destinationVersion: destination, staying: false) }
            if possible.contains(strategy) {
                #expect(error == nil, "\(strategy) \(source) → \(destination) is possible but was refused: \(error.map(\.description) ?? "")")
            } else {
                let error = try #require(error, "\(strategy) \(source) → \(destination) must be refused")
                #expect(error.code == .unsupportedVersion)
                #expect(error.message.contains("came in 3.5.0"), "names the reason: \(error.message)")
                #expect(error.message.contains("\(source) → \(destination): mitosis, mitosis-observers, replace, copy"), "names the possible strategies: \(error.message)")
            }
        }
    }

    @Test("block & copy is possible for every pair, in both directions")
    func copyAlwaysPossible() {
        let versions: [ZooKeeperVersion] = [.v3_4_13, ZooKeeperVersion(3, 4, 5), ZooKeeperVersion(3, 5, 9), .v3_8_0, .v3_9_3]
        for source in versions {
            for destination in versions {
                #expect(Planner.possibleStrategies(source: source, destination: destination).contains(.copy))
            }
        }
    }

    @Test("3.4 servers older than 3.4.6 cannot share a quorum with 3.5+ servers")
    func electionHandshake() throws {
        for strategy in [StrategyKind.mitosis, .mitosisObservers, .replace] {
            let error = try #require(refusal {
                try Fixtures.plan(strategy, 3, 3, version: ZooKeeperVersion(3, 4, 5), destinationVersion: .v3_8_0, staying: false)
            })
            #expect(error.code == .unsupportedVersion)
            #expect(error.message.contains("3.4.6"))
            #expect(error.message.contains("ZOOKEEPER-1633"), "names its source")
            #expect(error.message.hasSuffix("3.4.5 → 3.8.0: copy"), "names the strategy that is possible: \(error.message)")
        }
    }

    @Test("moving a 3.5+ ensemble onto 3.4 servers is refused except by block & copy")
    func downgradeTo34() throws {
        let error = try #require(refusal { try Fixtures.plan(.mitosisObservers, 3, 3, version: .v3_8_0, destinationVersion: .v3_4_13, staying: false) })
        #expect(error.message.contains("container and TTL nodes"))
        #expect(Planner.possibleStrategies(source: .v3_8_0, destination: .v3_4_13) == [.copy])
    }

    @Test("the rules that apply without refusing are known for the pair")
    func notes() {
        let upgrade = Planner.versionVerdict(.mitosis, source: .v3_4_13, destination: .v3_9_3)
        #expect(upgrade.isPossible)
        #expect(Set(upgrade.notes.map(\.id)) == ["multi-address-handshake", "snapshot-trust-empty"])
        #expect(Planner.versionVerdict(.mitosis, source: .v3_8_0, destination: .v3_9_3).notes.isEmpty)
        for fact in upgrade.notes { #expect(!fact.sources.isEmpty) }
    }
}
