import Foundation
import Kafka
import ZooKeeper

/// A thread-safe list for events reported through synchronous `@Sendable` callbacks.
/// `@unchecked Sendable`: every access to `items` holds `lock`.
final class Recorded<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []
    func append(_ item: Element) { lock.withLock { items.append(item) } }
    var all: [Element] { lock.withLock { items } }
}

/// Kafka's znode layout for a small cluster, written as brokers and a controller would write it.
enum KafkaLayout {
    static func create(_ zk: ZooKeeperClient, _ path: String, _ text: String, mode: CreateMode = .persistent) async throws {
        var prefix = ""
        for segment in ZooKeeperPath.parent(of: path).split(separator: "/") {
            prefix += "/" + segment
            do { try await zk.create(prefix) } catch let error as ZooKeeperError where error.code == .nodeExists {}
        }
        try await zk.create(path, data: Array(text.utf8), mode: mode)
    }

    static func registration(_ id: Int) -> String {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return #"{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://kafka-\#(id):9092"],"jmx_port":-1,"features":{},"host":"kafka-\#(id)","timestamp":"\#(now)","port":9092,"version":5}"#
    }

    /// Brokers registered through `brokerSession` (ephemeral, as a broker's own session holds them);
    /// topics as name → replica lists; every ISR full; `controller` the active controller.
    static func write(_ zk: ZooKeeperClient, brokerSession: ZooKeeperClient, brokers: [Int], topics: [String: [[Int]]],
                      controller: Int) async throws {
        for id in brokers { try await create(brokerSession, "/brokers/ids/\(id)", registration(id), mode: .ephemeral) }
        try await create(brokerSession, "/controller", #"{"version":1,"brokerid":\#(controller),"timestamp":"1700000000000"}"#, mode: .ephemeral)
        try await create(zk, "/controller_epoch", "7")
        for (topic, partitions) in topics.sorted(by: { $0.key < $1.key }) {
            let assignment = TopicAssignmentZNode(partitions: Dictionary(uniqueKeysWithValues: partitions.enumerated().map {
                ($0.offset, $0.element.map { BrokerID($0) })
            }))
            try await create(zk, "/brokers/topics/\(topic)", String(decoding: assignment.data(), as: UTF8.self))
            for (partition, replicas) in partitions.enumerated() {
                let state = PartitionStateZNode(leader: BrokerID(replicas[0]), leaderEpoch: 0, controllerEpoch: 7, isr: replicas.map { BrokerID($0) })
                try await create(zk, PartitionStateZNode.path(TopicPartition(topic, partition)), String(decoding: state.data(), as: UTF8.self))
            }
        }
    }

    static func read<Node: KafkaJSONZNode>(_ zk: ZooKeeperClient, _ path: String, as type: Node.Type) async throws -> (Node, Stat) {
        let (data, stat) = try await zk.getData(path)
        return (try Node(data: Data(data), path: path), stat)
    }
}

/// Plays Kafka's controller for `/admin/reassign_partitions` the way KafkaController does it in
/// ZooKeeper mode: for each listed partition it writes the union replica set with
/// `adding_replicas`/`removing_replicas` into `/brokers/topics/T`, grows the ISR once the new
/// replicas "caught up", then writes the target as the replica list (leader moved if it left),
/// and finally drops the entry (deleting the znode when none is left). Topics in `reject` are
/// dropped without being moved, as the controller drops a reassignment it refuses.
actor SimulatedController {
    private(set) var frozen = false
    private(set) var reject: Set<String> = []
    /// When frozen and `/controller` is deleted: register broker `electedBroker` as controller and resume.
    private(set) var electOnControllerDeletion = false
    let electedBroker = 5
    /// Each reassignment seen, as written.
    private(set) var seen: [String] = []
    /// For each reassignment seen: were the throttles in place (topics and brokers involved)?
    private(set) var throttledAtStart: [Bool] = []
    private var phases: [TopicPartition: Int] = [:]
    private var lastZNode: Zxid?

    func freeze(_ value: Bool = true) { frozen = value }
    func rejectTopics(_ topics: Set<String>) { reject = topics }
    func electWhenControllerIsDeleted() { electOnControllerDeletion = true }

    /// Runs until cancelled; `session` holds the ephemeral `/controller` a re-election creates.
    func run(_ zk: ZooKeeperClient, session: ZooKeeperClient) async throws {
        while !Task.isCancelled {
            try await step(zk, session: session)
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func step(_ zk: ZooKeeperClient, session: ZooKeeperClient) async throws {
        if frozen, electOnControllerDeletion, try await zk.exists(ControllerZNode.path) == nil {
            try await session.create(ControllerZNode.path, data: Array(ControllerZNode(brokerID: BrokerID(electedBroker), timestamp: "1").data()),
                                     mode: .ephemeral)
            try await zk.setData(ControllerEpochZNode.path, data: Array(ControllerEpochZNode(epoch: 8).data()))
            frozen = false
        }
        guard !frozen else { return }
        let data: [UInt8], stat: Stat
        do {
            (data, stat) = try await zk.getData(ReassignPartitionsZNode.path)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return
        }
        var node = try ReassignPartitionsZNode(data: Data(data))
        if stat.czxid != lastZNode {
            lastZNode = stat.czxid
            seen.append(String(decoding: data, as: UTF8.self))
            throttledAtStart.append(try await throttlesInPlace(zk, node))
        }
        var finished: Set<TopicPartition> = []
        for entry in node.partitions {
            let partition = entry.topicPartition, target = entry.replicas
            if reject.contains(entry.topic) {
                finished.insert(partition)
                continue
            }
            let topicPath = TopicAssignmentZNode.path(entry.topic), statePath = PartitionStateZNode.path(partition)
            var (topic, _) = try await KafkaLayout.read(zk, topicPath, as: TopicAssignmentZNode.self)
            var (state, _) = try await KafkaLayout.read(zk, statePath, as: PartitionStateZNode.self)
            let current = topic.partitions[entry.partition] ?? []
            switch phases[partition, default: 0] {
            case 0:
                var full = target
                for broker in current where !full.contains(broker) { full.append(broker) }
                topic.partitions[entry.partition] = full
                topic.addingReplicas[entry.partition] = full.filter { !current.contains($0) }
                topic.removingReplicas[entry.partition] = full.filter { !target.contains($0) }
                if topic.addingReplicas[entry.partition]!.isEmpty { topic.addingReplicas[entry.partition] = nil }
                if topic.removingReplicas[entry.partition]!.isEmpty { topic.removingReplicas[entry.partition] = nil }
                try await zk.setData(topicPath, data: Array(topic.data()))
                phases[partition] = 1
            case 1:
                state.isr = current
                state.leaderEpoch += 1
                try await zk.setData(statePath, data: Array(state.data()))
                phases[partition] = 2
            default:
                topic.partitions[entry.partition] = target
                topic.addingReplicas[entry.partition] = nil
                topic.removingReplicas[entry.partition] = nil
                try await zk.setData(topicPath, data: Array(topic.data()))
                state.isr = target
                if !target.contains(state.leader) { state.leader = target[0] }
                state.leaderEpoch += 1
                try await zk.setData(statePath, data: Array(state.data()))
                finished.insert(partition)
                phases[partition] = nil
            }
        }
        guard !finished.isEmpty else { return }
        node.remove(finished)
        if node.partitions.isEmpty {
            try await zk.delete(ReassignPartitionsZNode.path, version: stat.version)
        } else {
            try await zk.setData(ReassignPartitionsZNode.path, data: Array(node.data()), version: stat.version)
        }
    }

    private func throttlesInPlace(_ zk: ZooKeeperClient, _ node: ReassignPartitionsZNode) async throws -> Bool {
        var brokers: Set<BrokerID> = []
        for entry in node.partitions {
            let (topicConfig, _) = try await KafkaLayout.read(zk, EntityConfigZNode.topicPath(entry.topic), as: EntityConfigZNode.self)
            guard topicConfig[ReplicationThrottles.leaderKey] != nil, topicConfig[ReplicationThrottles.followerKey] != nil else { return false }
            let (topic, _) = try await KafkaLayout.read(zk, TopicAssignmentZNode.path(entry.topic), as: TopicAssignmentZNode.self)
            brokers.formUnion(entry.replicas.filter { !(topic.partitions[entry.partition] ?? []).contains($0) })
        }
        for broker in brokers {
            let (config, _) = try await KafkaLayout.read(zk, EntityConfigZNode.brokerPath(broker), as: EntityConfigZNode.self)
            guard config[ReplicationThrottles.leaderRateKey] != nil, config[ReplicationThrottles.followerRateKey] != nil else { return false }
        }
        return true
    }
}
