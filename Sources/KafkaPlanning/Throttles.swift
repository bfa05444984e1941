import Foundation

/// The topic-level throttle entries for a reassignment, as `kafka-reassign-partitions --throttle`
/// sets them in `/config/topics/T`: `leader.replication.throttled.replicas` lists the current
/// replicas of each moving partition (they serve the copy), `follower.replication.throttled.replicas`
/// the replicas being added (they fetch it). Values are `partition:broker` pairs joined by commas.
public struct ReplicationThrottles: Sendable, Hashable, Codable {
    public static let leaderKey = "leader.replication.throttled.replicas"
    public static let followerKey = "follower.replication.throttled.replicas"
    /// Broker-level rates, in bytes per second, set in `/config/brokers/N`.
    public static let leaderRateKey = "leader.replication.throttled.rate"
    public static let followerRateKey = "follower.replication.throttled.rate"

    /// Topic → value of `leader.replication.throttled.replicas`.
    public var leaderReplicas: [String: String]
    /// Topic → value of `follower.replication.throttled.replicas`.
    public var followerReplicas: [String: String]
    /// Brokers that take part (both ends), which get the rate settings.
    public var brokers: [BrokerID]

    /// Throttles for moving `partitions` (default: all that change) from `before` to `after`.
    public init(from before: ReplicaAssignment, to after: ReplicaAssignment, partitions: [TopicPartition]? = nil) {
        var leaders: [String: [(Int, BrokerID)]] = [:]
        var followers: [String: [(Int, BrokerID)]] = [:]
        var involved: Set<BrokerID> = []
        for partition in (partitions ?? before.changedPartitions(to: after)).sorted() {
            let current = before[partition] ?? [], target = after[partition] ?? []
            let adding = target.filter { !current.contains($0) }
            guard !adding.isEmpty else { continue }
            for broker in current.sorted() { leaders[partition.topic, default: []].append((partition.partition, broker)) }
            for broker in adding.sorted() { followers[partition.topic, default: []].append((partition.partition, broker)) }
            involved.formUnion(current)
            involved.formUnion(adding)
        }
        func render(_ pairs: [(Int, BrokerID)]) -> String { pairs.map { "\($0.0):\($0.1)" }.joined(separator: ",") }
        leaderReplicas = leaders.mapValues(render)
        followerReplicas = followers.mapValues(render)
        brokers = involved.sorted()
    }

    public init(stage: ReassignmentStage, batch: Int? = nil) {
        self.init(from: stage.before, to: stage.after, partitions: batch.map { stage.batches[$0] })
    }

    /// Topics whose config the executor must change (and clear afterwards).
    public var topics: [String] { Set(leaderReplicas.keys).union(followerReplicas.keys).sorted() }

    /// `config` with this reassignment's throttle entries set for `topic`.
    public func applied(to config: EntityConfigZNode, topic: String) -> EntityConfigZNode {
        var config = config
        config[Self.leaderKey] = leaderReplicas[topic]
        config[Self.followerKey] = followerReplicas[topic]
        return config
    }

    /// `config` with every replication throttle entry removed, whatever set it.
    public static func cleared(_ config: EntityConfigZNode) -> EntityConfigZNode {
        var config = config
        for key in [leaderKey, followerKey, leaderRateKey, followerRateKey] { config[key] = nil }
        return config
    }
}
