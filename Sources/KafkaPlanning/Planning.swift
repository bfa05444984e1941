import Foundation

/// SplitMix64: a small, fast PRNG whose whole output follows from its seed, so plans are
/// reproducible: the same cluster, options and seed give the same plan on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Why a plan cannot be made, and what to change so it can.
public struct KafkaPlanError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        public static let unknownTopic = Code(rawValue: "unknown-topic")
        public static let unknownBroker = Code(rawValue: "unknown-broker")
        public static let invalidReplicationFactor = Code(rawValue: "invalid-replication-factor")
        public static let notEnoughBrokers = Code(rawValue: "not-enough-brokers")
        public static let belowMinInsyncReplicas = Code(rawValue: "below-min-insync-replicas")
        public static let stagedMoveImpossible = Code(rawValue: "staged-move-impossible")
        public static let brokerInBothSets = Code(rawValue: "broker-in-both-sets")
        public static let replicaOutsideMigration = Code(rawValue: "replica-outside-migration")
        public static let reassignmentInProgress = Code(rawValue: "reassignment-in-progress")
        public static let invalidOption = Code(rawValue: "invalid-option")
    }
    public var code: Code
    public var message: String
    /// The partitions the error is about, when it is about partitions.
    public var partitions: [TopicPartition]
    public init(_ code: Code, _ message: String, partitions: [TopicPartition] = []) {
        self.code = code; self.message = message; self.partitions = partitions
    }
    public var description: String { "\(code): \(message)" }
}

/// The first `limit` items, comma-separated, and how many more there are: for messages.
public func listed<T: CustomStringConvertible>(_ items: [T], limit: Int = 5) -> String {
    let shown = items.prefix(limit).map(\.description).joined(separator: ", ")
    return items.count > limit ? "\(shown) and \(items.count - limit) more" : shown
}

/// Picks the best candidate by `score` (lexicographic, smaller is better); ties are broken by the
/// PRNG so that equal brokers share the work without bias toward low ids.
func pickBest(_ candidates: [BrokerID], rng: inout SplitMix64, score: (BrokerID) -> [Int]) -> BrokerID? {
    guard !candidates.isEmpty else { return nil }
    let scored = candidates.sorted().map { ($0, score($0)) }
    let best = scored.map(\.1).min { $0.lexicographicallyPrecedes($1) }!
    let tied = scored.filter { $0.1 == best }.map(\.0)
    return tied[Int(rng.next(upperBound: UInt64(tied.count)))]
}

/// Chooses a preferred leader for every partition so that leaders per broker differ by at most
/// one wherever the replica placement allows it, changing as few current leaders as it can:
/// leadership moves along chains broker → partition it leads → another replica of that partition,
/// from the most loaded broker to one with at least two fewer, until no chain exists.
/// Only partitions in `movable` (default: all) may change leader; the others still count.
func balanceLeaders(_ assignment: ReplicaAssignment, brokers: [BrokerID],
                    movable: Set<TopicPartition>? = nil) -> ReplicaAssignment {
    let partitions = assignment.partitions
    let canMove = partitions.map { movable?.contains($0) ?? true }
    let replicas = partitions.map { assignment[$0]! }
    var allBrokers = Set(brokers)
    for list in replicas { allBrokers.formUnion(list) }
    let brokerOrder = allBrokers.sorted()
    var leader = replicas.map { $0.first }
    var led: [BrokerID: [Int]] = [:]
    for broker in brokerOrder { led[broker] = [] }
    for (index, current) in leader.enumerated() { if let current { led[current]!.append(index) } }

    while true {
        let maximum = brokerOrder.map { led[$0]!.count }.max() ?? 0
        var shifted = false
        for source in brokerOrder where led[source]!.count == maximum {
            // Breadth-first search over brokers; parent records (previous broker, partition).
            var parent: [BrokerID: (BrokerID, Int)] = [:]
            var visited: Set<BrokerID> = [source]
            var queue = [source]
            var head = 0
            var found: BrokerID?
            search: while head < queue.count {
                let broker = queue[head]
                head += 1
                for partition in led[broker]! where canMove[partition] {
                    for next in replicas[partition] where !visited.contains(next) {
                        visited.insert(next)
                        parent[next] = (broker, partition)
                        if led[next]!.count <= maximum - 2 { found = next; break search }
                        queue.append(next)
                    }
                }
            }
            guard var node = found else { continue }
            while node != source {
                let (previous, partition) = parent[node]!
                led[previous]!.removeAll { $0 == partition }
                led[node]!.append(partition)
                leader[partition] = node
                node = previous
            }
            shifted = true
            break
        }
        if !shifted { break }
    }

    var result = ReplicaAssignment()
    for (index, partition) in partitions.enumerated() {
        var list = replicas[index]
        if let chosen = leader[index], let position = list.firstIndex(of: chosen), position > 0 {
            list.remove(at: position)
            list.insert(chosen, at: 0)
        }
        result[partition] = list
    }
    return result
}

/// Splits the partitions a stage changes into batches run one after another, so that no broker
/// takes part in more than `cap` partition moves at once (as the destination of a new replica
/// or the source of a removed one), the way the executor writes `/admin/reassign_partitions`.
func batches(from before: ReplicaAssignment, to after: ReplicaAssignment, cap: Int) -> [[TopicPartition]] {
    let changed = before.changedPartitions(to: after)
    func involved(_ partition: TopicPartition) -> [BrokerID] {
        let old = Set(before[partition] ?? []), new = Set(after[partition] ?? [])
        return Array(old.symmetricDifference(new)).sorted()
    }
    let order = changed.sorted { lhs, rhs in
        let l = involved(lhs).count, r = involved(rhs).count
        return l != r ? l > r : lhs < rhs
    }
    var result: [[TopicPartition]] = []
    var loads: [[BrokerID: Int]] = []
    for partition in order {
        let brokers = involved(partition)
        if let index = loads.indices.first(where: { i in brokers.allSatisfy { loads[i][$0, default: 0] < cap } }) {
            result[index].append(partition)
            for broker in brokers { loads[index][broker, default: 0] += 1 }
        } else {
            result.append([partition])
            loads.append(Dictionary(uniqueKeysWithValues: brokers.map { ($0, 1) }))
        }
    }
    return result.map { $0.sorted() }
}

/// One stage: a reassignment that must complete before the next stage starts.
public struct ReassignmentStage: Sendable, Hashable, Codable {
    /// 1-based.
    public var number: Int
    /// The full assignment before and after this stage.
    public var before: ReplicaAssignment
    public var after: ReplicaAssignment
    /// The changed partitions, in batches that respect the per-broker cap.
    public var batches: [[TopicPartition]]

    public var changedPartitions: [TopicPartition] { before.changedPartitions(to: after) }
    /// Replicas created by this stage (copies of partition data).
    public var replicasMoved: Int { before.replicasAdded(to: after) }

    /// What to give `kafka-reassign-partitions --execute` for this stage.
    public var executeJSON: ReassignPartitionsZNode { after.reassignmentJSON(partitions: changedPartitions) }
    /// The assignment before the stage, for the same partitions: running it undoes the stage.
    public var rollbackJSON: ReassignPartitionsZNode { before.reassignmentJSON(partitions: changedPartitions) }
    /// One batch as it goes into `/admin/reassign_partitions` (no `log_dirs`).
    public func batchZNode(_ index: Int) -> ReassignPartitionsZNode {
        after.reassignmentJSON(partitions: batches[index], logDirs: false)
    }
}

/// Per-stage numbers for the report.
public struct StageReport: Sendable, Hashable, Codable {
    public var number: Int
    public var partitionsChanged: Int
    public var replicasMoved: Int
    public var batches: Int
    /// Most partition moves any one broker takes part in within one batch.
    public var maxConcurrentMovesPerBroker: Int
    /// For migrations: the fewest replicas any partition keeps on old brokers after this stage.
    public var minReplicasOnOldBrokers: Int?
}

/// What a plan does, in numbers.
public struct ReassignmentReport: Sendable, Hashable, Codable, CustomStringConvertible {
    public var replicasMoved: Int
    /// The fewest replica copies any plan reaching the same goal must make.
    public var lowerBound: Int
    /// Replicas deleted (a migration removes every replica it copies; lowering RF only removes).
    public var replicasRemoved: Int
    /// Preferred leaders (first replica) per broker.
    public var leadersPerBrokerBefore: [BrokerID: Int]
    public var leadersPerBrokerAfter: [BrokerID: Int]
    public var replicasPerBrokerBefore: [BrokerID: Int]
    public var replicasPerBrokerAfter: [BrokerID: Int]
    public var stages: [StageReport]

    public var description: String {
        func row(_ counts: [BrokerID: Int]) -> String {
            counts.keys.sorted().map { "\($0):\(counts[$0]!)" }.joined(separator: " ")
        }
        var lines = [
            "replicas moved \(replicasMoved) (lower bound \(lowerBound)), replicas removed \(replicasRemoved)",
            "leaders before  \(row(leadersPerBrokerBefore))",
            "leaders after   \(row(leadersPerBrokerAfter))",
            "replicas before \(row(replicasPerBrokerBefore))",
            "replicas after  \(row(replicasPerBrokerAfter))",
        ]
        for stage in stages {
            var line = "stage \(stage.number): \(stage.partitionsChanged) partitions, \(stage.replicasMoved) replicas moved, "
                + "\(stage.batches) batches, at most \(stage.maxConcurrentMovesPerBroker) moves per broker at once"
            if let old = stage.minReplicasOnOldBrokers { line += ", ≥\(old) replicas on old brokers" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// A reassignment plan: stages to run in order, and what they achieve.
public struct ReassignmentPlan: Sendable, Hashable, Codable {
    public var seed: UInt64
    public var initial: ReplicaAssignment
    public var stages: [ReassignmentStage]
    public var report: ReassignmentReport
    public var final: ReplicaAssignment { stages.last?.after ?? initial }

    init(seed: UInt64, initial: ReplicaAssignment, stages: [ReassignmentStage], lowerBound: Int,
         oldBrokers: Set<BrokerID>?) {
        self.seed = seed
        self.initial = initial
        self.stages = stages
        let final = stages.last?.after ?? initial
        report = ReassignmentReport(
            replicasMoved: stages.reduce(0) { $0 + $1.replicasMoved },
            lowerBound: lowerBound,
            replicasRemoved: stages.reduce(0) { $0 + $1.before.replicasRemoved(to: $1.after) },
            leadersPerBrokerBefore: initial.leaderCounts,
            leadersPerBrokerAfter: final.leaderCounts,
            replicasPerBrokerBefore: initial.replicaCounts,
            replicasPerBrokerAfter: final.replicaCounts,
            stages: stages.map { stage in
                var maxLoad = 0
                for batch in stage.batches {
                    var load: [BrokerID: Int] = [:]
                    for partition in batch {
                        let old = Set(stage.before[partition] ?? []), new = Set(stage.after[partition] ?? [])
                        for broker in old.symmetricDifference(new) { load[broker, default: 0] += 1 }
                    }
                    maxLoad = max(maxLoad, load.values.max() ?? 0)
                }
                let minOld = oldBrokers.map { old in
                    stage.after.replicasByPartition.values.map { $0.filter(old.contains).count }.min() ?? 0
                }
                return StageReport(number: stage.number, partitionsChanged: stage.changedPartitions.count,
                                   replicasMoved: stage.replicasMoved, batches: stage.batches.count,
                                   maxConcurrentMovesPerBroker: maxLoad, minReplicasOnOldBrokers: minOld)
            })
    }
}

/// Evens out replica counts after a greedy placement by moving replicas the plan adds anyway
/// (never an existing one, so the number of moves does not change) from a broker holding at
/// least two more replicas to one holding fewer, without putting two replicas of a partition on
/// one rack where they were apart. Stops when no such move exists.
func refinePlacement(_ assignment: inout ReplicaAssignment, added: inout [TopicPartition: [BrokerID]],
                     eligible: [BrokerID], rack: (BrokerID) -> String?) {
    var counts = assignment.replicaCounts
    let partitions = added.keys.sorted()
    var improved = true
    while improved {
        improved = false
        for partition in partitions {
            var replicas = assignment[partition]!
            for (slot, from) in added[partition]!.enumerated() {
                let others = replicas.filter { $0 != from }
                func clash(_ broker: BrokerID) -> Int { others.filter { rack($0) != nil && rack($0) == rack(broker) }.count }
                let fromClash = clash(from)
                let fromCount = counts[from, default: 0]
                let target = eligible
                    .filter { !replicas.contains($0) && counts[$0, default: 0] <= fromCount - 2 && clash($0) <= fromClash }
                    .min { (counts[$0, default: 0], $0) < (counts[$1, default: 0], $1) }
                guard let to = target else { continue }
                replicas[replicas.firstIndex(of: from)!] = to
                added[partition]![slot] = to
                counts[from]! -= 1
                counts[to, default: 0] += 1
                improved = true
            }
            assignment[partition] = replicas
        }
    }
}
