import Foundation

/// Random but reproducible Kafka clusters, for property tests and benchmarks: the same arguments
/// give the same cluster on every machine.
public enum KafkaClusterGenerator {
    public static let racks = ["rack-a", "rack-b", "rack-c"]

    /// Brokers with the given ids, racks assigned round robin (none when `racks` is nil).
    public static func brokers(_ ids: [Int], racks: [String]?) -> [Broker] {
        ids.enumerated().map { index, id in
            Broker(id: BrokerID(id), rack: racks.map { $0[index % $0.count] }, endpoints: ["PLAINTEXT://broker\(id):9092"])
        }
    }

    /// `topicCount` topics with 1–6 partitions and replication factors in `replicationFactors`,
    /// placed at random on `hosting`; `registered` are the live brokers. Every ISR is full.
    /// min.insync.replicas is RF − 1 (at least 1), set per topic for even topics and left to
    /// `<default>` = 1 otherwise.
    public static func make(seed: UInt64, hosting: [Int], registered: [Int], racks: [String]? = KafkaClusterGenerator.racks,
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
