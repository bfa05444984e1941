// What `mitosis kafka run` checks of a plan file against the cluster before it moves anything:
// the guarantees `BrokerMigrationPlanner` and `ReplicationFactorPlanner` give, checked again on
// the file as it is now (it may have been edited by hand). Pure: the caller reads the cluster.

/// One partition of one stage that breaks a rule.
public struct PlanSafetyViolation: Sendable, Hashable, CustomStringConvertible {
    public enum Rule: String, Sendable, Hashable, CustomStringConvertible {
        /// Until the last stage each partition keeps `min.insync.replicas` replicas on the brokers
        /// the plan empties (fewer only when it had fewer to begin with).
        case minInsyncReplicasOnOldBrokers = "min.insync.replicas on old brokers"
        /// Every target replica is on a broker registered under `/brokers/ids`.
        case registeredTargets = "targets are registered brokers"
        /// Each move gives its partition the replication factor the plan was made for (recorded
        /// per topic in the plan file; else the one it had).
        case plannedReplicationFactor = "replication factor as planned"
        public var description: String { rawValue }
    }

    public var rule: Rule
    public var stage: Int
    public var partition: TopicPartition
    public var detail: String

    public var description: String { "stage \(stage), \(partition): \(detail) (rule: \(rule))" }
}

extension ReassignmentPlanFile {
    /// The replication factor of each topic in the plan's final placement, for topics whose moved
    /// partitions all end with the same one (what `mitosis kafka plan` records).
    static func plannedReplicationFactors(_ stages: [ExecutionStage]) -> [String: Int] {
        var final: [TopicPartition: Int] = [:]
        for move in stages.flatMap(\.moves) { final[move.topicPartition] = move.after.count }
        var factors: [String: Set<Int>] = [:]
        for (partition, factor) in final { factors[partition.topic, default: []].insert(factor) }
        return factors.compactMapValues { $0.count == 1 ? $0.first : nil }
    }

    /// Every rule the plan breaks against `state` (empty: it may run). A partition that is
    /// already under min.insync.replicas on old brokers in the cluster is reported only if the
    /// plan takes more away.
    public func safetyViolations(against state: KafkaClusterState) -> [PlanSafetyViolation] {
        var violations: [PlanSafetyViolation] = []
        // Where each partition starts (its first move's `before`) and ends (its last move's `after`).
        var initial: [TopicPartition: [BrokerID]] = [:]
        var final: [TopicPartition: [BrokerID]] = [:]
        for move in stages.flatMap(\.moves) {
            if initial[move.topicPartition] == nil { initial[move.topicPartition] = move.before }
            final[move.topicPartition] = move.after
        }
        // The old brokers: those that hold replicas at the start and none at the end.
        let old = Set(initial.values.joined()).subtracting(final.values.joined())

        let registered = Set(state.brokers.keys)
        for stage in stages {
            let isLast = stage.number == stages.last?.number
            for move in stage.moves {
                let partition = move.topicPartition
                let unregistered = move.after.filter { !registered.contains($0) }
                if !unregistered.isEmpty {
                    violations.append(
                        PlanSafetyViolation(
                            rule: .registeredTargets, stage: stage.number, partition: partition,
                            detail: "targets broker\(unregistered.count == 1 ? "" : "s") \(unregistered.map(\.description).joined(separator: ",")), not registered under /brokers/ids (registered: \(registered.sorted().map(\.description).joined(separator: ",")))"))
                }
                // A migration keeps each partition's replication factor in every stage; a change of
                // it happens in one stage (`ReplicationFactorPlanner`), to what the plan recorded.
                let planned = replicationFactors?[partition.topic] ?? move.before.count
                if move.after.count != planned {
                    let source = replicationFactors?[partition.topic] != nil ? "the plan's replication factor for \(partition.topic)" : "its replication factor before the move"
                    violations.append(
                        PlanSafetyViolation(
                            rule: .plannedReplicationFactor, stage: stage.number, partition: partition,
                            detail: "ends with \(move.after.count) replica\(move.after.count == 1 ? "" : "s") \(move.after), not \(planned) (\(source))"))
                }
                if !isLast {
                    let start = (initial[partition] ?? move.before).filter(old.contains).count
                    let required = min(state.minInsyncReplicas(for: partition.topic), start)
                    let kept = move.after.filter(old.contains).count
                    if kept < required {
                        violations.append(
                            PlanSafetyViolation(
                                rule: .minInsyncReplicasOnOldBrokers, stage: stage.number, partition: partition,
                                detail: "keeps \(kept) replica\(kept == 1 ? "" : "s") on old brokers (\(move.after) of old \(old.sorted().map(\.description).joined(separator: ","))); min.insync.replicas is \(state.minInsyncReplicas(for: partition.topic)), so stage \(stage.number) of \(stages.count) must keep \(required)"))
                    }
                }
            }
        }
        return violations
    }

    /// Throws, naming each partition, stage and rule, when the plan breaks a rule against `state`.
    public func checkSafety(against state: KafkaClusterState) throws(KafkaExecutionError) {
        let violations = safetyViolations(against: state)
        guard !violations.isEmpty else { return }
        let shown = violations.prefix(10).map { "  - \($0)" }
        let more = violations.count > 10 ? ["  … and \(violations.count - 10) more"] : []
        throw KafkaExecutionError(
            .unsafePlan,
            "the plan breaks \(violations.count == 1 ? "a rule" : "\(violations.count) rules"); nothing was moved:\n"
                + (shown + more).joined(separator: "\n")
                + "\nMake the plan again with `mitosis kafka plan` (do not edit its stages by hand), or start the missing brokers.",
            partitions: Array(Set(violations.map(\.partition))).sorted())
    }
}

extension KafkaClusterState {
    /// Why no plan should be made from this state (nil: none): partitions offline or
    /// under-replicated. A plan moves replicas off brokers; with copies already missing, a move
    /// can take a partition's last one.
    public var planningHazard: String? {
        let offline = offlinePartitions
        let underReplicated = underReplicatedPartitions.filter { !offline.contains($0) }
        var problems: [String] = []
        if !offline.isEmpty { problems.append("\(offline.count) offline (no live leader): \(listed(offline))") }
        if !underReplicated.isEmpty {
            problems.append("\(underReplicated.count) under-replicated (ISR smaller than the replicas): \(listed(underReplicated))")
        }
        if problems.isEmpty { return nil }
        return "the cluster is not healthy, so nothing was planned: partitions \(problems.joined(separator: "; ")). "
            + "Wait until `mitosis kafka status` shows none (or bring the missing brokers back); --allow-unhealthy plans anyway"
    }
}
