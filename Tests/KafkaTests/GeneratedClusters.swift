import Foundation
@testable import Kafka
@testable import KafkaPlanning

/// Random but reproducible clusters for property tests (the generator the benchmark uses too).
enum GeneratedCluster {
    static let racks = KafkaClusterGenerator.racks

    static func brokers(_ ids: [Int], racks: [String]?) -> [Broker] { KafkaClusterGenerator.brokers(ids, racks: racks) }

    static func make(seed: UInt64, hosting: [Int], registered: [Int], racks: [String]? = GeneratedCluster.racks,
                     topicCount: Int = 200, replicationFactors: ClosedRange<Int> = 1...4) -> KafkaClusterState {
        KafkaClusterGenerator.make(seed: seed, hosting: hosting, registered: registered, racks: racks, topicCount: topicCount,
                                   replicationFactors: replicationFactors)
    }
}

extension Dictionary where Key == BrokerID, Value == Int {
    func spread(over brokers: [BrokerID]) -> Int {
        let values = brokers.map { self[$0, default: 0] }
        return (values.max() ?? 0) - (values.min() ?? 0)
    }
}
