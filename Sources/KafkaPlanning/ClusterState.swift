import Foundation

/// A registered (live) broker.
public struct Broker: Sendable, Hashable, Codable {
    public var id: BrokerID
    public var rack: String?
    public var endpoints: [String]
    public init(id: BrokerID, rack: String? = nil, endpoints: [String] = []) {
        self.id = id; self.rack = rack; self.endpoints = endpoints
    }
}

/// Leader and ISR of one partition, as the controller last wrote them.
public struct PartitionState: Sendable, Hashable, Codable {
    public var leader: BrokerID
    public var leaderEpoch: Int
    public var controllerEpoch: Int
    public var isr: [BrokerID]
    public init(leader: BrokerID, leaderEpoch: Int = 0, controllerEpoch: Int = 0, isr: [BrokerID]) {
        self.leader = leader; self.leaderEpoch = leaderEpoch; self.controllerEpoch = controllerEpoch; self.isr = isr
    }
}

/// A topic: its replica assignment per partition and its topic-level config overrides.
public struct Topic: Sendable, Hashable, Codable {
    public var name: String
    /// Partition number → replicas, preferred leader first.
    public var partitions: [Int: [BrokerID]]
    public var addingReplicas: [Int: [BrokerID]]
    public var removingReplicas: [Int: [BrokerID]]
    public var topicID: String?
    /// `/config/topics/T` overrides, e.g. `min.insync.replicas`.
    public var config: [String: String]

    public init(name: String, partitions: [Int: [BrokerID]], addingReplicas: [Int: [BrokerID]] = [:],
                removingReplicas: [Int: [BrokerID]] = [:], topicID: String? = nil, config: [String: String] = [:]) {
        self.name = name; self.partitions = partitions; self.addingReplicas = addingReplicas
        self.removingReplicas = removingReplicas; self.topicID = topicID; self.config = config
    }

    /// The largest replica count of any partition (partitions of a topic normally agree).
    public var replicationFactor: Int { partitions.values.map(\.count).max() ?? 0 }
    /// False when partitions of this topic have different replica counts.
    public var hasUniformReplicationFactor: Bool { Set(partitions.values.map(\.count)).count <= 1 }
}

/// Kafka's metadata as read from ZooKeeper, plus the analysis `mitosis kafka status` shows.
public struct KafkaClusterState: Sendable, Hashable, Codable {
    public var brokers: [BrokerID: Broker]
    public var topics: [String: Topic]
    public var partitionStates: [TopicPartition: PartitionState]
    public var controller: BrokerID?
    public var controllerEpoch: Int?
    /// Target replicas of reassignments still listed in `/admin/reassign_partitions`.
    public var reassignmentsInProgress: [TopicPartition: [BrokerID]]
    public var pendingPreferredReplicaElections: [TopicPartition]
    /// `/config/brokers/<default>`: cluster-wide dynamic defaults.
    public var brokerDefaultConfig: [String: String]
    /// Used where neither the topic nor `<default>` sets `min.insync.replicas` (the broker's
    /// static `server.properties` value, which ZooKeeper does not hold; Kafka's default is 1).
    public var staticMinInsyncReplicas: Int

    public init(brokers: [Broker] = [], topics: [Topic] = [], partitionStates: [TopicPartition: PartitionState] = [:],
                controller: BrokerID? = nil, controllerEpoch: Int? = nil,
                reassignmentsInProgress: [TopicPartition: [BrokerID]] = [:],
                pendingPreferredReplicaElections: [TopicPartition] = [], brokerDefaultConfig: [String: String] = [:],
                staticMinInsyncReplicas: Int = 1) {
        self.brokers = Dictionary(brokers.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        self.topics = Dictionary(topics.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        self.partitionStates = partitionStates
        self.controller = controller
        self.controllerEpoch = controllerEpoch
        self.reassignmentsInProgress = reassignmentsInProgress
        self.pendingPreferredReplicaElections = pendingPreferredReplicaElections
        self.brokerDefaultConfig = brokerDefaultConfig
        self.staticMinInsyncReplicas = staticMinInsyncReplicas
    }

    /// Assembles the state from znode path → data (paths relative to Kafka's chroot), as read by
    /// a client: `/brokers/ids/N`, `/brokers/topics/T`, `/brokers/topics/T/partitions/P/state`,
    /// `/config/topics/T`, `/config/brokers/<default>`, `/controller`, `/controller_epoch`,
    /// `/admin/reassign_partitions`, `/admin/preferred_replica_election`. Other paths are ignored.
    public init(znodes: [String: Data], staticMinInsyncReplicas: Int = 1) throws(KafkaMetadataError) {
        self.init(staticMinInsyncReplicas: staticMinInsyncReplicas)
        var topicConfigs: [String: [String: String]] = [:]
        for path in znodes.keys.sorted() {
            let data = znodes[path]!
            let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            switch parts.count {
            case 3 where parts[0] == "brokers" && parts[1] == "ids":
                guard let id = Int(parts[2]) else { throw KafkaMetadataError(path: path, "broker id is not an integer") }
                let registration = try BrokerRegistration(data: data, path: path)
                brokers[BrokerID(id)] = Broker(id: BrokerID(id), rack: registration.rack, endpoints: registration.endpoints)
            case 3 where parts[0] == "brokers" && parts[1] == "topics":
                let node = try TopicAssignmentZNode(data: data, path: path)
                topics[parts[2]] = Topic(name: parts[2], partitions: node.partitions, addingReplicas: node.addingReplicas,
                                         removingReplicas: node.removingReplicas, topicID: node.topicID)
            case 6 where parts[0] == "brokers" && parts[1] == "topics" && parts[3] == "partitions" && parts[5] == "state":
                guard let partition = Int(parts[4]) else { throw KafkaMetadataError(path: path, "partition is not an integer") }
                let node = try PartitionStateZNode(data: data, path: path)
                partitionStates[TopicPartition(parts[2], partition)] = PartitionState(
                    leader: node.leader, leaderEpoch: node.leaderEpoch, controllerEpoch: node.controllerEpoch, isr: node.isr)
            case 3 where parts[0] == "config" && parts[1] == "topics":
                topicConfigs[parts[2]] = try EntityConfigZNode(data: data, path: path).config
            case 3 where parts[0] == "config" && parts[1] == "brokers" && parts[2] == "<default>":
                brokerDefaultConfig = try EntityConfigZNode(data: data, path: path).config
            case 1 where parts[0] == "controller":
                controller = try ControllerZNode(data: data, path: path).brokerID
            case 1 where parts[0] == "controller_epoch":
                controllerEpoch = try ControllerEpochZNode(data: data, path: path).epoch
            case 2 where parts[0] == "admin" && parts[1] == "reassign_partitions":
                for entry in try ReassignPartitionsZNode(data: data, path: path).partitions {
                    reassignmentsInProgress[entry.topicPartition] = entry.replicas
                }
            case 2 where parts[0] == "admin" && parts[1] == "preferred_replica_election":
                pendingPreferredReplicaElections = try PreferredReplicaElectionZNode(data: data, path: path).partitions
            default:
                continue
            }
        }
        for (topic, config) in topicConfigs where topics[topic] != nil { topics[topic]!.config = config }
    }

    // MARK: Analysis

    /// Every partition with its replicas, sorted by topic and partition.
    public var assignment: ReplicaAssignment {
        var result = ReplicaAssignment()
        for topic in topics.values {
            for (partition, replicas) in topic.partitions { result[TopicPartition(topic.name, partition)] = replicas }
        }
        return result
    }

    public func replicas(of partition: TopicPartition) -> [BrokerID]? {
        topics[partition.topic]?.partitions[partition.partition]
    }

    /// `min.insync.replicas` in force for a topic: topic override, then `<default>`, then static.
    public func minInsyncReplicas(for topic: String) -> Int {
        if let text = topics[topic]?.config["min.insync.replicas"], let value = Int(text) { return value }
        if let text = brokerDefaultConfig["min.insync.replicas"], let value = Int(text) { return value }
        return staticMinInsyncReplicas
    }

    public func replicationFactor(of topic: String) -> Int? { topics[topic]?.replicationFactor }

    /// Partitions whose ISR is smaller than their replica set (Kafka's definition).
    public var underReplicatedPartitions: [TopicPartition] {
        assignment.partitions.filter { partition in
            guard let state = partitionStates[partition] else { return true }
            return state.isr.count < (replicas(of: partition)?.count ?? 0)
        }
    }

    /// Partitions with no leader (`-1`), a leader that is not registered, or no state znode.
    public var offlinePartitions: [TopicPartition] {
        assignment.partitions.filter { partition in
            guard let state = partitionStates[partition] else { return true }
            return state.leader == .noLeader || brokers[state.leader] == nil
        }
    }

    /// Partitions whose state has no leader (`-1`) or no state znode: offline whether or not the
    /// brokers register in ZooKeeper (KRaft-mode brokers lead partitions without registering).
    public var leaderlessPartitions: [TopicPartition] {
        assignment.partitions.filter { partition in
            guard let state = partitionStates[partition] else { return true }
            return state.leader == .noLeader
        }
    }

    /// Partitions whose in-sync replicas on live brokers are fewer than `min.insync.replicas`:
    /// producers with `acks=all` fail on them.
    public var underMinInsyncReplicasPartitions: [TopicPartition] {
        assignment.partitions.filter { partition in
            let live = partitionStates[partition]?.isr.filter { brokers[$0] != nil }.count ?? 0
            return live < minInsyncReplicas(for: partition.topic)
        }
    }

    public var replicationFactors: [String: Int] { topics.mapValues(\.replicationFactor) }

    /// Every partition being reassigned: those listed in `/admin/reassign_partitions` and those whose
    /// topic znode carries `adding_replicas`/`removing_replicas` (reassignments started through the
    /// Admin API, Kafka 2.4+, appear only there).
    public var reassigningPartitions: [TopicPartition: ReassignmentInFlight] {
        var result: [TopicPartition: ReassignmentInFlight] = [:]
        for topic in topics.values {
            for (partition, replicas) in topic.partitions {
                let adding = topic.addingReplicas[partition] ?? [], removing = topic.removingReplicas[partition] ?? []
                guard !adding.isEmpty || !removing.isEmpty else { continue }
                result[TopicPartition(topic.name, partition)] = ReassignmentInFlight(
                    target: replicas.filter { !removing.contains($0) }, adding: adding, removing: removing, listedInZNode: false)
            }
        }
        for (partition, target) in reassignmentsInProgress {
            let topic = topics[partition.topic]
            result[partition] = ReassignmentInFlight(
                target: target, adding: topic?.addingReplicas[partition.partition] ?? [],
                removing: topic?.removingReplicas[partition.partition] ?? [], listedInZNode: true)
        }
        return result
    }

    /// Partitions with a live leader that is not their preferred (first) replica: what a preferred
    /// leader election (or `auto.leader.rebalance.enable`) would move.
    public var partitionsNotOnPreferredLeader: [TopicPartition] {
        assignment.partitions.filter { partition in
            guard let state = partitionStates[partition], state.leader != .noLeader,
                  let preferred = replicas(of: partition)?.first else { return false }
            return state.leader != preferred
        }
    }
}

/// A partition's reassignment as the znodes show it.
public struct ReassignmentInFlight: Sendable, Hashable, Codable {
    public var target: [BrokerID]
    public var adding: [BrokerID]
    public var removing: [BrokerID]
    /// Listed in `/admin/reassign_partitions` (started through ZooKeeper) rather than only in the topic znode.
    public var listedInZNode: Bool
    public init(target: [BrokerID], adding: [BrokerID], removing: [BrokerID], listedInZNode: Bool) {
        self.target = target; self.adding = adding; self.removing = removing; self.listedInZNode = listedInZNode
    }
}

/// Partition → replicas (preferred leader first).
public struct ReplicaAssignment: Sendable, Hashable, Codable, Sequence {
    public var replicasByPartition: [TopicPartition: [BrokerID]]
    public init(_ replicasByPartition: [TopicPartition: [BrokerID]] = [:]) { self.replicasByPartition = replicasByPartition }

    public subscript(partition: TopicPartition) -> [BrokerID]? {
        get { replicasByPartition[partition] }
        set { replicasByPartition[partition] = newValue }
    }
    public var partitions: [TopicPartition] { replicasByPartition.keys.sorted() }
    public var count: Int { replicasByPartition.count }
    public func makeIterator() -> some IteratorProtocol<(key: TopicPartition, value: [BrokerID])> {
        replicasByPartition.sorted { $0.key < $1.key }.makeIterator()
    }

    /// Replicas hosted per broker.
    public var replicaCounts: [BrokerID: Int] {
        var counts: [BrokerID: Int] = [:]
        for replicas in replicasByPartition.values { for broker in replicas { counts[broker, default: 0] += 1 } }
        return counts
    }
    /// Preferred leaders (first replica) per broker.
    public var leaderCounts: [BrokerID: Int] {
        var counts: [BrokerID: Int] = [:]
        for replicas in replicasByPartition.values { if let first = replicas.first { counts[first, default: 0] += 1 } }
        return counts
    }

    /// Replicas that `target` creates on a broker that did not hold them here: each is one copy of
    /// a partition's data over the network.
    public func replicasAdded(to target: ReplicaAssignment) -> Int {
        target.replicasByPartition.reduce(0) { sum, entry in
            let current = Set(replicasByPartition[entry.key] ?? [])
            return sum + entry.value.filter { !current.contains($0) }.count
        }
    }
    public func replicasRemoved(to target: ReplicaAssignment) -> Int { target.replicasAdded(to: self) }

    /// Partitions whose replica list (set or order) differs in `target`.
    public func changedPartitions(to target: ReplicaAssignment) -> [TopicPartition] {
        target.partitions.filter { replicasByPartition[$0] != target[$0] }
    }

    /// The file for `kafka-reassign-partitions --execute` (or `/admin/reassign_partitions` with
    /// `logDirs: false`), for `partitions` (default: all), sorted by topic and partition.
    public func reassignmentJSON(partitions: [TopicPartition]? = nil, logDirs: Bool = true) -> ReassignPartitionsZNode {
        let selected = (partitions ?? self.partitions).sorted()
        return ReassignPartitionsZNode(selected.compactMap { partition in
            guard let replicas = self[partition] else { return nil }
            return PartitionReassignment(topic: partition.topic, partition: partition.partition, replicas: replicas,
                                         logDirs: logDirs ? Array(repeating: "any", count: replicas.count) : nil)
        })
    }
}
