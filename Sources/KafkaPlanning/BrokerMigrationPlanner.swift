import Foundation

/// Moves every replica from old brokers to new ones in stages, the way Blockport did by hand
/// ([0,1005,1004,1003,1002] → [0,1,2,1005,1004] → [0,1,2,3,4]) but for any cluster:
/// - until the final stage every partition keeps at least `min.insync.replicas` replicas on old
///   brokers, so producers with `acks=all` keep working even if every new broker misbehaves;
/// - every replica moves exactly once (moves equal the lower bound: the replicas on old brokers);
/// - the final placement uses only new brokers, balanced per broker and spread across racks;
/// - each stage is split into batches with at most `maxConcurrentMovesPerBroker` moves per broker;
/// - preferred leaders (first replica) are balanced to within one partition per broker.
public struct BrokerMigrationPlanner: Sendable {
    public struct Options: Sendable, Hashable {
        public var oldBrokers: [BrokerID]
        public var newBrokers: [BrokerID]
        /// At least 1; Blockport used 3.
        public var stages: Int
        public var maxConcurrentMovesPerBroker: Int
        public var rackAware: Bool
        /// Partitions with no more replicas than `min.insync.replicas` cannot move before the
        /// final stage. Refused unless this is set; then they move, whole, in the final stage.
        public var allowUnstagedPartitions: Bool
        public var seed: UInt64
        public init(oldBrokers: [BrokerID], newBrokers: [BrokerID], stages: Int = 3, maxConcurrentMovesPerBroker: Int = 5,
                    rackAware: Bool = true, allowUnstagedPartitions: Bool = false, seed: UInt64 = 0) {
            self.oldBrokers = oldBrokers; self.newBrokers = newBrokers; self.stages = stages
            self.maxConcurrentMovesPerBroker = maxConcurrentMovesPerBroker; self.rackAware = rackAware
            self.allowUnstagedPartitions = allowUnstagedPartitions; self.seed = seed
        }
    }

    public var options: Options
    public init(_ options: Options) { self.options = options }

    public func plan(for state: KafkaClusterState) throws(KafkaPlanError) -> ReassignmentPlan {
        try validate(state)
        let old = Set(options.oldBrokers)
        let newBrokers = options.newBrokers.sorted()
        let initial = state.assignment
        var rng = SplitMix64(seed: options.seed)
        func rack(_ broker: BrokerID) -> String? { options.rackAware ? state.brokers[broker]?.rack : nil }

        // 1. The final placement: keep replicas already on new brokers, add the rest to the least
        //    loaded new brokers, preferring racks the partition does not use yet.
        var order = initial.partitions
        order.shuffle(using: &rng)
        order.sort { initial[$0]!.count > initial[$1]!.count }  // stable: big partitions first
        var counts: [BrokerID: Int] = [:]
        var topicCounts: [String: [BrokerID: Int]] = [:]
        for (partition, replicas) in initial {
            for broker in replicas where !old.contains(broker) {
                counts[broker, default: 0] += 1
                topicCounts[partition.topic, default: [:]][broker, default: 0] += 1
            }
        }
        var additions: [TopicPartition: [BrokerID]] = [:]
        for partition in order {
            let replicas = initial[partition]!
            var kept = replicas.filter { !old.contains($0) }
            var added: [BrokerID] = []
            while kept.count < replicas.count {
                let racksUsed = kept.compactMap(rack)
                let chosen = pickBest(newBrokers.filter { !kept.contains($0) }, rng: &rng) { broker in
                    [racksUsed.filter { $0 == rack(broker) }.count, counts[broker, default: 0],
                     topicCounts[partition.topic, default: [:]][broker, default: 0]]
                }!
                kept.append(chosen)
                added.append(chosen)
                counts[chosen, default: 0] += 1
                topicCounts[partition.topic, default: [:]][chosen, default: 0] += 1
            }
            additions[partition] = added
        }
        var finalPlacement = ReplicaAssignment()
        for (partition, replicas) in initial {
            finalPlacement[partition] = replicas.filter { !old.contains($0) } + additions[partition]!
        }
        refinePlacement(&finalPlacement, added: &additions, eligible: newBrokers, rack: rack)

        // 2. Stages: after stage s < S a partition holds min(RF − minISR, ⌊RF·s/S⌋) new replicas
        //    (never fewer than it already has); the final stage completes it.
        var stages: [ReassignmentStage] = []
        var current = initial
        let stageCount = options.stages
        for number in 1...stageCount {
            var next = current
            var incoming: [BrokerID: Int] = [:]
            var outgoing: [BrokerID: Int] = [:]
            var stageOrder = initial.partitions
            stageOrder.shuffle(using: &rng)
            for partition in stageOrder {
                let replicas = current[partition]!
                let rf = replicas.count
                let onNew = replicas.filter { !old.contains($0) }
                let wanted: Int
                if number == stageCount {
                    wanted = rf
                } else {
                    let minISR = state.minInsyncReplicas(for: partition.topic)
                    wanted = max(onNew.count, min(rf - minISR, rf * number / stageCount))
                }
                var toAdd = wanted - onNew.count
                guard toAdd > 0 else { continue }
                var list = replicas
                var pending = additions[partition]!.filter { !list.contains($0) }
                while toAdd > 0 {
                    let add = pickBest(pending, rng: &rng) { [incoming[$0, default: 0]] }!
                    pending.removeAll { $0 == add }
                    let oldHere = list.filter(old.contains)
                    let racksLeft = oldHere.compactMap(rack)
                    let remove = pickBest(oldHere, rng: &rng) { broker in
                        // Remove from crowded racks and busy old brokers; keep the current leader longest.
                        [-racksLeft.filter { $0 == rack(broker) }.count, outgoing[broker, default: 0],
                         broker == list.first ? 1 : 0]
                    }!
                    list.removeAll { $0 == remove }
                    list.append(add)
                    incoming[add, default: 0] += 1
                    outgoing[remove, default: 0] += 1
                    toAdd -= 1
                }
                next[partition] = list
            }
            let stageBrokers = number == stageCount ? newBrokers : (Set(options.oldBrokers).union(newBrokers)).sorted()
            // Intermediate stages reorder only partitions that move anyway, so no partition is
            // reassigned just for its preferred leader; the final stage balances all of them.
            let moving = Set(current.partitions.filter { Set(current[$0]!) != Set(next[$0]!) })
            next = balanceLeaders(next, brokers: number == stageCount ? stageBrokers : [],
                                  movable: number == stageCount ? nil : moving)
            let stage = ReassignmentStage(number: stages.count + 1, before: current, after: next,
                                          batches: batches(from: current, to: next, cap: options.maxConcurrentMovesPerBroker))
            if !stage.changedPartitions.isEmpty { stages.append(stage) }
            current = next
        }
        let lowerBound = initial.replicasByPartition.values.reduce(0) { $0 + $1.filter(old.contains).count }
        return ReassignmentPlan(seed: options.seed, initial: initial, stages: stages, lowerBound: lowerBound, oldBrokers: old)
    }

    private func validate(_ state: KafkaClusterState) throws(KafkaPlanError) {
        guard options.stages >= 1 else { throw KafkaPlanError(.invalidOption, "the number of stages must be at least 1") }
        guard options.maxConcurrentMovesPerBroker >= 1 else {
            throw KafkaPlanError(.invalidOption, "the cap on concurrent moves per broker must be at least 1")
        }
        let old = Set(options.oldBrokers), new = Set(options.newBrokers)
        guard !new.isEmpty else { throw KafkaPlanError(.invalidOption, "no new brokers given; list the brokers to move to") }
        let both = old.intersection(new).sorted()
        guard both.isEmpty else {
            throw KafkaPlanError(.brokerInBothSets, "brokers \(listed(both)) are listed as both old and new; each broker is one or the other")
        }
        let unregisteredNew = new.filter { state.brokers[$0] == nil }.sorted()
        guard unregisteredNew.isEmpty else {
            throw KafkaPlanError(.unknownBroker, "new brokers \(listed(unregisteredNew)) are not registered under /brokers/ids; "
                + "start them (with unique broker.id) before planning the move")
        }
        let assignment = state.assignment
        let hosting = Set(assignment.replicasByPartition.values.flatMap { $0 })
        let unknownOld = old.filter { state.brokers[$0] == nil && !hosting.contains($0) }.sorted()
        guard unknownOld.isEmpty else {
            throw KafkaPlanError(.unknownBroker, "old brokers \(listed(unknownOld)) are neither registered nor hold any replica; check the ids")
        }
        var outside: [TopicPartition] = []
        var tooBig: [TopicPartition] = []
        var unwritable: [TopicPartition] = []
        var unstageable: [TopicPartition] = []
        for (partition, replicas) in assignment {
            if replicas.contains(where: { !old.contains($0) && !new.contains($0) }) { outside.append(partition) }
            if replicas.count > new.count { tooBig.append(partition) }
            let minISR = state.minInsyncReplicas(for: partition.topic)
            if minISR > replicas.count { unwritable.append(partition) }
            let onOld = replicas.filter(old.contains).count
            if options.stages > 1, onOld > 0, replicas.count <= minISR { unstageable.append(partition) }
        }
        guard outside.isEmpty else {
            let strays = Set(outside.flatMap { assignment[$0]! }).subtracting(old).subtracting(new).sorted()
            throw KafkaPlanError(.replicaOutsideMigration, "partitions \(listed(outside)) have replicas on brokers \(listed(strays)), "
                + "which are neither old nor new; add them to one of the lists", partitions: outside)
        }
        guard tooBig.isEmpty else {
            throw KafkaPlanError(.notEnoughBrokers, "partitions \(listed(tooBig)) have more replicas than the \(new.count) new brokers; "
                + "add new brokers or lower their replication factor first", partitions: tooBig)
        }
        guard unwritable.isEmpty else {
            throw KafkaPlanError(.belowMinInsyncReplicas, "partitions \(listed(unwritable)) have fewer replicas than "
                + "min.insync.replicas, so acks=all producers already fail on them; raise their replication factor first",
                partitions: unwritable)
        }
        guard unstageable.isEmpty || options.allowUnstagedPartitions else {
            throw KafkaPlanError(.stagedMoveImpossible, "partitions \(listed(unstageable)) have min.insync.replicas ≥ replication factor, "
                + "so no replica can leave the old brokers before the final stage; raise their replication factor to at least "
                + "min.insync.replicas + 1 first (a replication-factor plan), or allow them to move whole in the final stage",
                partitions: unstageable)
        }
        let busy = state.reassignmentsInProgress.keys.sorted()
        guard busy.isEmpty else {
            throw KafkaPlanError(.reassignmentInProgress, "partitions \(listed(busy)) are being reassigned "
                + "(/admin/reassign_partitions); wait for that to finish and plan again", partitions: busy)
        }
    }
}
