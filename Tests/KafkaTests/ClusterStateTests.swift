import Foundation
import Testing
@testable import Kafka
@testable import KafkaPlanning

@Suite("Cluster state from znodes")
struct ClusterStateTests {
    static let znodes: [String: Data] = [
        "/brokers/ids/1": #"{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://k1:9092"],"rack":"a","jmx_port":-1,"host":"k1","timestamp":"1","port":9092,"version":4}"#,
        "/brokers/ids/2": #"{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://k2:9092"],"rack":"b","jmx_port":-1,"host":"k2","timestamp":"1","port":9092,"version":4}"#,
        "/brokers/topics/orders": #"{"version":2,"partitions":{"0":[1,2,3],"1":[2,1],"2":[3,1]},"adding_replicas":{},"removing_replicas":{}}"#,
        "/brokers/topics/orders/partitions/0/state": #"{"controller_epoch":4,"leader":1,"version":1,"leader_epoch":2,"isr":[1,2]}"#,
        "/brokers/topics/orders/partitions/1/state": #"{"controller_epoch":4,"leader":2,"version":1,"leader_epoch":2,"isr":[2,1]}"#,
        "/brokers/topics/orders/partitions/2/state": #"{"controller_epoch":4,"leader":3,"version":1,"leader_epoch":2,"isr":[3]}"#,
        "/brokers/topics/audit": #"{"version":1,"partitions":{"0":[1]}}"#,
        "/brokers/topics/audit/partitions/0/state": #"{"controller_epoch":4,"leader":-1,"version":1,"leader_epoch":5,"isr":[1]}"#,
        "/config/topics/orders": #"{"version":1,"config":{"min.insync.replicas":"2"}}"#,
        "/config/brokers/<default>": #"{"version":1,"config":{"min.insync.replicas":"1"}}"#,
        "/controller": #"{"version":1,"brokerid":2,"timestamp":"1554112343245"}"#,
        "/controller_epoch": "4",
        "/admin/reassign_partitions": #"{"version":1,"partitions":[{"topic":"orders","partition":1,"replicas":[2,1]}]}"#,
        "/admin/preferred_replica_election": #"{"version":1,"partitions":[{"topic":"orders","partition":0}]}"#,
        "/zookeeper/quota": "",
    ].mapValues { Data($0.utf8) }

    @Test func readsEveryLayoutAndAnalyses() throws {
        let state = try KafkaClusterState(znodes: Self.znodes)
        #expect(state.brokers.keys.sorted() == [1, 2])
        #expect(state.brokers[1]?.rack == "a")
        #expect(state.controller == 2 && state.controllerEpoch == 4)
        #expect(state.replicationFactors == ["orders": 3, "audit": 1])
        #expect(state.topics["orders"]?.hasUniformReplicationFactor == false)
        #expect(state.minInsyncReplicas(for: "orders") == 2 && state.minInsyncReplicas(for: "audit") == 1)
        #expect(state.reassignmentsInProgress == [TopicPartition("orders", 1): [2, 1]])
        #expect(state.pendingPreferredReplicaElections == [TopicPartition("orders", 0)])
        // orders-0 has 2 of 3 in sync; orders-2 is led by broker 3, which is not registered.
        #expect(state.underReplicatedPartitions == [TopicPartition("orders", 0), TopicPartition("orders", 2)])
        #expect(state.offlinePartitions == [TopicPartition("audit", 0), TopicPartition("orders", 2)])
        // orders needs 2 live in-sync replicas: orders-2 has none alive.
        #expect(state.underMinInsyncReplicasPartitions == [TopicPartition("orders", 2)])
    }

    @Test func aBrokenZNodeIsReportedWithItsPath() {
        var znodes = Self.znodes
        znodes["/brokers/topics/orders/partitions/1/state"] = Data(#"{"leader":2}"#.utf8)
        #expect {
            try KafkaClusterState(znodes: znodes)
        } throws: { error in
            (error as? KafkaMetadataError)?.path == "/brokers/topics/orders/partitions/1/state"
        }
    }
}
