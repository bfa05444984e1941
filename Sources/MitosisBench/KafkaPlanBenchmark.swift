import ArgumentParser
import Foundation
import Kafka

/// Replicas copied by Mitosis's reassignment plans against a placement computed the way
/// `kafka-reassign-partitions --generate` computes it (Kafka's `AdminUtils.assignReplicasToBrokers`
/// with `java.util.Random`), on the same generated clusters. Pure computation: the same seeds give
/// the same table on every machine.
struct KafkaPlanBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-plans",
        abstract: "Replicas moved by Mitosis's Kafka plans vs Kafka's --generate on generated clusters (deterministic for the seeds)."
    )

    @Option(help: "Cluster seeds, comma-separated.") var seeds = "1,2,3"
    @Option(help: "Topics per generated cluster (1–6 partitions each).") var topics = 200
    @Flag(help: "Print JSON.") var json = false

    struct Row: Codable {
        var scenario: String
        var seed: UInt64
        var partitions: Int
        var ours: Int
        var lowerBound: Int
        var generate: Int
        /// Preferred leaders per target broker: most minus fewest.
        var leaderSpreadOurs: Int
        var leaderSpreadGenerate: Int
        /// Replicas per target broker: most minus fewest.
        var replicaSpreadOurs: Int
        var replicaSpreadGenerate: Int
        /// Staged migrations: did every stage but the last keep min.insync.replicas on old brokers?
        var minISRKeptOnOldBrokers: Bool?
        var stages: Int
    }

    func run() async throws {
        let seedList = try seeds.split(separator: ",").map { text -> UInt64 in
            guard let seed = UInt64(text.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--seeds: '\(text)' is not a number") }
            return seed
        }
        var rows: [Row] = []
        for seed in seedList {
            rows.append(try Self.migration(seed: seed, topics: topics))
            rows.append(try Self.resumedMigration(seed: seed, topics: topics))
            rows.append(try Self.replicationFactor(seed: seed, topics: topics, existing: 1...3, target: 3, name: "raise RF 1–3 → 3"))
            rows.append(try Self.replicationFactor(seed: seed, topics: topics, existing: 3...4, target: 2, name: "lower RF 3–4 → 2"))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print("| scenario | seed | partitions | ours | lower bound | `--generate` | leader spread ours / gen | replica spread ours / gen | min ISR on old brokers |")
        print("|---|---|---|---|---|---|---|---|---|")
        for row in rows {
            let rule = row.minISRKeptOnOldBrokers.map { $0 ? "kept (\(row.stages) stages)" : "BROKEN" } ?? "–"
            print("| \(row.scenario) | \(row.seed) | \(row.partitions) | \(row.ours) | \(row.lowerBound) | \(row.generate) | "
                + "\(row.leaderSpreadOurs) / \(row.leaderSpreadGenerate) | \(row.replicaSpreadOurs) / \(row.replicaSpreadGenerate) | \(rule) |")
        }
        let ours = rows.reduce(0) { $0 + $1.ours }, generate = rows.reduce(0) { $0 + $1.generate }
        let bound = rows.reduce(0) { $0 + $1.lowerBound }
        print("")
        print("total replicas copied: ours \(ours), lower bound \(bound), --generate \(generate) "
            + "(\(String(format: "%.2f", Double(generate) / Double(max(ours, 1))))x ours)")
    }

    static let old = Array(1...5), new = Array(101...110)

    static func spread(_ counts: [BrokerID: Int], over brokers: [BrokerID]) -> Int {
        let values = brokers.map { counts[$0, default: 0] }
        return (values.max() ?? 0) - (values.min() ?? 0)
    }

    static func row(_ scenario: String, seed: UInt64, state: KafkaClusterState, plan: ReassignmentPlan, generated: ReplicaAssignment,
                    brokers: [BrokerID], oldBrokers: Set<BrokerID>? = nil) -> Row {
        var kept: Bool?
        if let oldBrokers {
            kept = plan.stages.dropLast().allSatisfy { stage in
                stage.after.allSatisfy { partition, replicas in
                    // Replicas only leave old brokers, so what remains after a stage was there throughout it.
                    replicas.filter(oldBrokers.contains).count >= min(state.minInsyncReplicas(for: partition.topic), replicas.count)
                }
            }
        }
        return Row(scenario: scenario, seed: seed, partitions: state.assignment.count, ours: plan.report.replicasMoved,
                   lowerBound: plan.report.lowerBound, generate: state.assignment.replicasAdded(to: generated),
                   leaderSpreadOurs: spread(plan.final.leaderCounts, over: brokers), leaderSpreadGenerate: spread(generated.leaderCounts, over: brokers),
                   replicaSpreadOurs: spread(plan.final.replicaCounts, over: brokers), replicaSpreadGenerate: spread(generated.replicaCounts, over: brokers),
                   minISRKeptOnOldBrokers: kept, stages: plan.stages.count)
    }

    /// 5 → 10 brokers, 3 racks, RF 1–4, in three stages that keep min.insync.replicas on old brokers.
    static func migration(seed: UInt64, topics: Int) throws -> Row {
        let state = KafkaClusterGenerator.make(seed: seed, hosting: old, registered: old + new, topicCount: topics)
        let newIDs = new.map { BrokerID($0) }
        let plan = try BrokerMigrationPlanner(.init(oldBrokers: old.map { BrokerID($0) }, newBrokers: newIDs,
                                                    allowUnstagedPartitions: true, seed: seed)).plan(for: state)
        let generated = try KafkaGenerateBaseline.generate(for: state, brokers: newIDs, seed: Int64(seed))
        return row("migration 5→10", seed: seed, state: state, plan: plan, generated: generated, brokers: newIDs,
                   oldBrokers: Set(old.map { BrokerID($0) }))
    }

    /// The same migration interrupted after its first stage and planned again from there.
    static func resumedMigration(seed: UInt64, topics: Int) throws -> Row {
        var state = KafkaClusterGenerator.make(seed: seed, hosting: old, registered: old + new, topicCount: topics)
        let oldIDs = old.map { BrokerID($0) }, newIDs = new.map { BrokerID($0) }
        let first = try BrokerMigrationPlanner(.init(oldBrokers: oldIDs, newBrokers: newIDs, allowUnstagedPartitions: true, seed: seed))
            .plan(for: state).stages[0]
        for (partition, replicas) in first.after { state.topics[partition.topic]!.partitions[partition.partition] = replicas }
        let plan = try BrokerMigrationPlanner(.init(oldBrokers: oldIDs, newBrokers: newIDs, stages: 2, allowUnstagedPartitions: true,
                                                    seed: seed)).plan(for: state)
        let generated = try KafkaGenerateBaseline.generate(for: state, brokers: newIDs, seed: Int64(seed))
        return row("migration resumed after stage 1", seed: seed, state: state, plan: plan, generated: generated, brokers: newIDs,
                   oldBrokers: Set(oldIDs))
    }

    /// Every topic of a 10-broker cluster to `target` replicas; --generate is given the same factors.
    static func replicationFactor(seed: UInt64, topics: Int, existing: ClosedRange<Int>, target: Int, name: String) throws -> Row {
        let brokers = Array(1...10)
        var state = KafkaClusterGenerator.make(seed: seed, hosting: brokers, registered: brokers, topicCount: topics,
                                               replicationFactors: existing)
        for topic in state.topics.keys { state.topics[topic]!.config = [:] }
        let targets = Dictionary(uniqueKeysWithValues: state.topics.keys.map { ($0, target) })
        let ids = brokers.map { BrokerID($0) }
        let plan = try ReplicationFactorPlanner(.init(targets: targets, seed: seed)).plan(for: state)
        let generated = try KafkaGenerateBaseline.generate(for: state, brokers: ids, replicationFactors: targets, seed: Int64(seed))
        return row(name, seed: seed, state: state, plan: plan, generated: generated, brokers: ids)
    }
}
