import Foundation
@testable import Kafka

/// Random but reproducible clusters for property tests.
enum GeneratedCluster {
    static let racks = ["rack-a", "rack-b", "rack-c"]

    static func brokers(_ ids: [Int], racks: [String]?) -> [Broker] {
        ids.enumerated().map { index, id in
            Broker(id: BrokerID(id), rack: racks.map { $0[index % $0.count] }, endpoints: ["PLAINTEXT://broker\(id):9092"])
        }
    }

    /// `topicCount` topics with 1–6 partitions and replication factors in `replicationFactors`,
    /// placed at random on `hosting`; `registered` are the live brokers. min.insync.replicas is
    /// RF − 1 (at least 1), set per topic for even topics and left to `<default>` = 1 otherwise.
    static func make(seed: UInt64, hosting: [Int], registered: [Int], racks: [String]? = GeneratedCluster.racks,
                     topicCount: Int = 200, replicationFactors: ClosedRange<Int> = 1...4) -> KafkaClusterState {
        var rng = SplitMix64(seed: seed)
        var topics: [Topic] = []
        var states: [TopicPartition: PartitionState] = [:]
        for index in 0..<topicCount {
            let name = String(format: "topic-%03d", index)
            let rf = Int.random(in: replicationFactors, using: &rng)
            let partitionCount = Int.random(in: 1...6, using: &rng)
            var partitions: [Int: [BrokerID]] = [:]
            for partition in 0..<partitionCount {
                let replicas = hosting.shuffled(using: &rng).prefix(rf).map { BrokerID($0) }
                partitions[partition] = replicas
                states[TopicPartition(name, partition)] = PartitionState(leader: replicas[0], isr: replicas)
            }
            var config: [String: String] = [:]
            if index % 2 == 0 { config["min.insync.replicas"] = String(max(1, rf - 1)) }
            topics.append(Topic(name: name, partitions: partitions, config: config))
        }
        return KafkaClusterState(brokers: brokers(registered, racks: racks), topics: topics, partitionStates: states,
                                 controller: BrokerID(registered[0]), controllerEpoch: 1,
                                 brokerDefaultConfig: ["min.insync.replicas": "1"])
    }
}

extension Dictionary where Key == BrokerID, Value == Int {
    func spread(over brokers: [BrokerID]) -> Int {
        let values = brokers.map { self[$0, default: 0] }
        return (values.max() ?? 0) - (values.min() ?? 0)
    }
}
