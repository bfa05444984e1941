import Foundation

/// Raises or lowers replication factors with the fewest replica moves: raising adds exactly
/// `target − current` replicas to a partition, lowering removes exactly `current − target`, and
/// every other replica stays where it is. New replicas go to the least loaded brokers, on racks
/// the partition does not use yet; leadership is then balanced across brokers.
public struct ReplicationFactorPlanner: Sendable {
    public struct Options: Sendable, Hashable {
        /// Target replication factor per topic; topics not listed keep theirs.
        public var targets: [String: Int]
        /// Brokers that may receive replicas; `nil` means every registered broker.
        public var brokers: [BrokerID]?
        public var rackAware: Bool
        public var maxConcurrentMovesPerBroker: Int
        public var seed: UInt64
        public init(targets: [String: Int], brokers: [BrokerID]? = nil, rackAware: Bool = true,
                    maxConcurrentMovesPerBroker: Int = 5, seed: UInt64 = 0) {
            self.targets = targets; self.brokers = brokers; self.rackAware = rackAware
            self.maxConcurrentMovesPerBroker = maxConcurrentMovesPerBroker; self.seed = seed
        }
    }

    public var options: Options
    public init(_ options: Options) { self.options = options }

    public func plan(for state: KafkaClusterState) throws(KafkaPlanError) -> ReassignmentPlan {
        let brokers = (options.brokers ?? Array(state.brokers.keys)).sorted()
        try validate(state, brokers: brokers)
        let initial = state.assignment
        var rng = SplitMix64(seed: options.seed)
        var counts = initial.replicaCounts
        var result = initial
        var added: [TopicPartition: [BrokerID]] = [:]

        let touched = initial.partitions.filter { options.targets[$0.topic] != nil }
        var order = touched
        order.shuffle(using: &rng)
        var topicCounts: [String: [BrokerID: Int]] = [:]
        for partition in initial.partitions {
            for broker in initial[partition]! { topicCounts[partition.topic, default: [:]][broker, default: 0] += 1 }
        }
        func rack(_ broker: BrokerID) -> String? { options.rackAware ? state.brokers[broker]?.rack : nil }

        for partition in order {
            let target = options.targets[partition.topic]!
            var replicas = result[partition]!
            while replicas.count < target {
                let racksUsed = replicas.compactMap(rack)
                let candidates = brokers.filter { !replicas.contains($0) }
                let chosen = pickBest(candidates, rng: &rng) { broker in
                    [racksUsed.filter { $0 == rack(broker) }.count, counts[broker, default: 0],
                     topicCounts[partition.topic]![broker, default: 0]]
                }!
                replicas.append(chosen)
                counts[chosen, default: 0] += 1
                topicCounts[partition.topic]![chosen, default: 0] += 1
            }
            while replicas.count > target {
                let racksUsed = replicas.compactMap(rack)
                let chosen = pickBest(replicas, rng: &rng) { broker in
                    // Smaller is removed first: unregistered brokers, crowded racks, loaded brokers,
                    // then followers before the current preferred leader.
                    [state.brokers[broker] == nil ? 0 : 1,
                     -racksUsed.filter { $0 == rack(broker) }.count,
                     -counts[broker, default: 0],
                     broker == replicas.first ? 1 : 0]
                }!
                replicas.removeAll { $0 == chosen }
                counts[chosen, default: 0] -= 1
                topicCounts[partition.topic]![chosen, default: 0] -= 1
            }
            result[partition] = replicas
            let before = Set(initial[partition]!)
            added[partition] = replicas.filter { !before.contains($0) }
        }
        refinePlacement(&result, added: &added, eligible: brokers, rack: rack)
        // Leadership moves only within the topics being changed.
        let balanced = balanceLeaders(result, brokers: brokers, movable: Set(touched))
        let stage = ReassignmentStage(number: 1, before: initial, after: balanced,
                                      batches: batches(from: initial, to: balanced, cap: options.maxConcurrentMovesPerBroker))
        let stages = stage.changedPartitions.isEmpty ? [] : [stage]
        return ReassignmentPlan(seed: options.seed, initial: initial, stages: stages,
                                lowerBound: touched.reduce(0) { $0 + max(0, options.targets[$1.topic]! - initial[$1]!.count) },
                                oldBrokers: nil)
    }

    private func validate(_ state: KafkaClusterState, brokers: [BrokerID]) throws(KafkaPlanError) {
        guard options.maxConcurrentMovesPerBroker >= 1 else {
            throw KafkaPlanError(.invalidOption, "the cap on concurrent moves per broker must be at least 1")
        }
        let unknownBrokers = brokers.filter { state.brokers[$0] == nil }
        guard unknownBrokers.isEmpty else {
            throw KafkaPlanError(.unknownBroker, "brokers \(listed(unknownBrokers)) are not registered under /brokers/ids; "
                + "start them or leave them out of the broker list")
        }
        for (topic, target) in options.targets.sorted(by: { $0.key < $1.key }) {
            guard state.topics[topic] != nil else {
                throw KafkaPlanError(.unknownTopic, "topic \"\(topic)\" does not exist under /brokers/topics; check the name")
            }
            guard target >= 1 else {
                throw KafkaPlanError(.invalidReplicationFactor, "topic \"\(topic)\": target replication factor \(target) must be at least 1")
            }
            guard target <= brokers.count else {
                throw KafkaPlanError(.notEnoughBrokers, "topic \"\(topic)\": target replication factor \(target) needs \(target) brokers "
                    + "but only \(brokers.count) are available (\(listed(brokers, limit: 10))); add brokers or lower the target")
            }
            let minISR = state.minInsyncReplicas(for: topic)
            guard target >= minISR else {
                throw KafkaPlanError(.belowMinInsyncReplicas, "topic \"\(topic)\": replication factor \(target) is below "
                    + "min.insync.replicas=\(minISR), so producers with acks=all would fail; lower min.insync.replicas first "
                    + "or choose a replication factor of at least \(minISR)")
            }
        }
        let busy = state.reassignmentsInProgress.keys.filter { options.targets[$0.topic] != nil }.sorted()
        guard busy.isEmpty else {
            throw KafkaPlanError(.reassignmentInProgress, "partitions \(listed(busy)) are being reassigned "
                + "(/admin/reassign_partitions); wait for that to finish and plan again", partitions: busy)
        }
    }
}
