import Foundation
import Kafka
import Testing
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    @Suite struct KafkaMetadataTests {
        /// Writes Kafka's exact znode layout, as a 3-broker cluster under /kafka would have it.
        static func writeKafkaLayout(_ zk: ZooKeeperClient) async throws {
            func create(_ path: String, _ json: String, mode: CreateMode = .persistent) async throws {
                var prefix = ""
                for segment in ZooKeeperPath.parent(of: path).split(separator: "/") {
                    prefix += "/" + segment
                    do { try await zk.create(prefix) } catch let error as ZooKeeperError where error.code == .nodeExists {}
                }
                try await zk.create(path, data: Array(json.utf8), mode: mode)
            }
            for id in 1...3 {
                try await create("/brokers/ids/\(id)", #"{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://kafka-\#(id):9092"],"jmx_port":-1,"features":{},"host":"kafka-\#(id)","timestamp":"1700000000000","port":9092,"version":5,"rack":"r\#(id)"}"#, mode: .ephemeral)
            }
            try await create("/controller", #"{"version":1,"brokerid":2,"timestamp":"1700000000000"}"#, mode: .ephemeral)
            try await create("/controller_epoch", "7")
            try await create("/brokers/topics/orders", #"{"version":2,"partitions":{"0":[1,2,3],"1":[2,3,1]},"adding_replicas":{},"removing_replicas":{}}"#)
            try await create("/brokers/topics/orders/partitions/0/state", #"{"controller_epoch":7,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2,3]}"#)
            try await create("/brokers/topics/orders/partitions/1/state", #"{"controller_epoch":7,"leader":2,"version":1,"leader_epoch":4,"isr":[2]}"#)
            try await create("/brokers/topics/logs", #"{"version":2,"partitions":{"0":[3,1]},"adding_replicas":{},"removing_replicas":{}}"#)
            try await create("/brokers/topics/logs/partitions/0/state", #"{"controller_epoch":7,"leader":-1,"version":1,"leader_epoch":9,"isr":[]}"#)
            try await create("/config/topics/orders", #"{"version":1,"config":{"min.insync.replicas":"2"}}"#)
            try await create("/admin/reassign_partitions", #"{"version":1,"partitions":[{"topic":"logs","partition":0,"replicas":[1,2]}]}"#)
        }

        @Test func statusReadsKafkasLayoutFromRealZooKeeper() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                _ = try await ZooKeeperClient.withClient(ensemble.connectionString) { root in
                    try await root.create("/kafka")
                }
                try await ZooKeeperClient.withClient(ensemble.connectionString + "/kafka") { zk in
                    try await Self.writeKafkaLayout(zk)
                    let snapshot = try await KafkaMetadataReader.read(zk)
                    let state = snapshot.state
                    #expect(state.brokers.keys.sorted() == [1, 2, 3])
                    #expect(state.brokers[2]?.rack == "r2")
                    #expect(state.brokers[1]?.endpoints == ["PLAINTEXT://kafka-1:9092"])
                    #expect(state.controller == 2)
                    #expect(state.controllerEpoch == 7)
                    #expect(state.replicationFactor(of: "orders") == 3)
                    #expect(state.underReplicatedPartitions == [TopicPartition("logs", 0), TopicPartition("orders", 1)])
                    #expect(state.offlinePartitions == [TopicPartition("logs", 0)])
                    #expect(state.underMinInsyncReplicasPartitions.contains(TopicPartition("orders", 1)), "ISR 1 < min.insync.replicas 2")
                    #expect(state.reassignmentsInProgress[TopicPartition("logs", 0)] == [1, 2])
                    #expect(snapshot.reassignmentStarted != nil)
                    #expect(state.reassigningPartitions == [TopicPartition("logs", 0): ReassignmentInFlight(target: [1, 2], adding: [], removing: [], listedInZNode: true)])
                    #expect(snapshot.topicModified.keys.sorted() == ["logs", "orders"])
                    #expect(state.partitionsNotOnPreferredLeader.isEmpty)
                }
            }
        }
    }
}
