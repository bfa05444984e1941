import Foundation
import Testing
@testable import Kafka
@testable import KafkaPlanning

private func bytes(_ text: String) -> Data { Data(text.utf8) }
private func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

@Suite("Kafka znode layouts")
struct ZNodeCodingTests {
    @Test func brokerRegistrationVersion4RoundTripsExactly() throws {
        let written = #"{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},"endpoints":["PLAINTEXT://kafka1:9092","SSL://kafka1:9093"],"rack":"us-east-1a","jmx_port":9999,"host":"kafka1","timestamp":"1554112343245","port":9092,"version":4}"#
        let node = try BrokerRegistration(data: bytes(written))
        #expect(node.version == 4)
        #expect(node.host == "kafka1")
        #expect(node.port == 9092)
        #expect(node.endpoints == ["PLAINTEXT://kafka1:9092", "SSL://kafka1:9093"])
        #expect(node.rack == "us-east-1a")
        #expect(node.jmxPort == 9999)
        #expect(node.timestamp == "1554112343245")
        #expect(node.listenerSecurityProtocolMap == ["PLAINTEXT": "PLAINTEXT", "SSL": "SSL"])
        #expect(text(node.data()) == written)
        let built = BrokerRegistration(host: "kafka1", port: 9092, endpoints: ["PLAINTEXT://kafka1:9092", "SSL://kafka1:9093"],
                                       rack: "us-east-1a", jmxPort: 9999, timestamp: "1554112343245",
                                       listenerSecurityProtocolMap: ["SSL": "SSL", "PLAINTEXT": "PLAINTEXT"])
        #expect(text(built.data()) == written)
    }

    @Test func brokerRegistrationOldAndNewVersions() throws {
        let v1 = #"{"version":1,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666"}"#
        let node1 = try BrokerRegistration(data: bytes(v1))
        #expect(node1.endpoints.isEmpty && node1.rack == nil && node1.host == "localhost")
        #expect(text(node1.data()) == v1)
        // Version 5 adds "features"; a broker with only an SSL listener registers host null, port -1.
        let v5 = #"{"features":{"metadata.version":{"min_version":1,"max_version":7}},"listener_security_protocol_map":{"SSL":"SSL"},"endpoints":["SSL://kafka2:9093"],"jmx_port":-1,"host":null,"timestamp":"1700000000000","port":-1,"version":5}"#
        var node5 = try BrokerRegistration(data: bytes(v5))
        #expect(node5.host == nil && node5.port == -1)
        node5.rack = "eu-west-1b"
        #expect(text(node5.data()) == v5.dropLast() + #","rack":"eu-west-1b"}"#)
    }

    @Test func topicAssignmentLayouts() throws {
        let v1 = #"{"version":1,"partitions":{"1":[1002,1003],"0":[1001,1002]}}"#
        let node1 = try TopicAssignmentZNode(data: bytes(v1))
        #expect(node1.partitions == [0: [1001, 1002], 1: [1002, 1003]])
        #expect(node1.addingReplicas.isEmpty)
        #expect(text(node1.data()) == v1)

        let v3 = #"{"version":3,"partitions":{"0":[1,2,3],"1":[2,3,4]},"adding_replicas":{"1":[4]},"removing_replicas":{"1":[1]},"topic_id":"W8oFfwr7R2mbn5aVbTbEtA"}"#
        var node3 = try TopicAssignmentZNode(data: bytes(v3))
        #expect(node3.addingReplicas == [1: [4]])
        #expect(node3.removingReplicas == [1: [1]])
        #expect(node3.topicID == "W8oFfwr7R2mbn5aVbTbEtA")
        #expect(text(node3.data()) == v3)
        // Finishing the reassignment: partition 1 settles on [2,3,4]; order of keys is kept.
        node3.addingReplicas = [:]
        node3.removingReplicas = [:]
        #expect(text(node3.data()) == #"{"version":3,"partitions":{"0":[1,2,3],"1":[2,3,4]},"adding_replicas":{},"removing_replicas":{},"topic_id":"W8oFfwr7R2mbn5aVbTbEtA"}"#)

        let built = TopicAssignmentZNode(partitions: [1: [2, 3], 0: [1, 2]])
        #expect(text(built.data()) == #"{"version":2,"partitions":{"0":[1,2],"1":[2,3]},"adding_replicas":{},"removing_replicas":{}}"#)
    }

    @Test func partitionStateKeepsUnknownFieldsThroughAnUpdate() throws {
        let written = #"{"controller_epoch":12,"leader":1002,"version":1,"leader_epoch":7,"isr":[1002,1001],"future_field":{"a":[1,2.5e3,true,null]}}"#
        var node = try PartitionStateZNode(data: bytes(written))
        #expect(node.leader == 1002 && node.leaderEpoch == 7 && node.controllerEpoch == 12 && node.isr == [1002, 1001])
        #expect(text(node.data()) == written)
        node.isr = [1002]
        node.leaderEpoch = 8
        #expect(text(node.data()) == #"{"controller_epoch":12,"leader":1002,"version":1,"leader_epoch":8,"isr":[1002],"future_field":{"a":[1,2.5e3,true,null]}}"#)
        let built = PartitionStateZNode(leader: .noLeader, leaderEpoch: 3, controllerEpoch: 2, isr: [])
        #expect(text(built.data()) == #"{"controller_epoch":2,"leader":-1,"version":1,"leader_epoch":3,"isr":[]}"#)
    }

    @Test func reassignmentZNodeAndToolFile() throws {
        let znode = #"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[0,1005,1004,1003,1002]},{"topic":"orders","partition":1,"replicas":[1,2,3]}]}"#
        var node = try ReassignPartitionsZNode(data: bytes(znode))
        #expect(node.partitions.map(\.topicPartition) == [TopicPartition("orders", 0), TopicPartition("orders", 1)])
        #expect(node.partitions[0].replicas == [0, 1005, 1004, 1003, 1002])
        #expect(text(node.data()) == znode)
        node.remove([TopicPartition("orders", 0)])  // what the controller does as entries finish
        #expect(text(node.data()) == #"{"version":1,"partitions":[{"topic":"orders","partition":1,"replicas":[1,2,3]}]}"#)

        let file = #"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}"#
        let parsed = try ReassignPartitionsZNode(data: bytes(file))
        #expect(parsed.partitions == [PartitionReassignment(topic: "orders", partition: 0, replicas: [1, 2], logDirs: ["any", "any"])])
        #expect(text(ReassignPartitionsZNode(parsed.partitions).data()) == file)
    }

    @Test func controllerAndEpoch() throws {
        let written = #"{"version":1,"brokerid":1001,"timestamp":"1554112343245"}"#
        let node = try ControllerZNode(data: bytes(written))
        #expect(node.brokerID == 1001 && node.timestamp == "1554112343245")
        #expect(text(node.data()) == written)
        #expect(text(ControllerZNode(brokerID: 1001, timestamp: "1554112343245").data()) == written)
        let epoch = try ControllerEpochZNode(data: bytes("12"))
        #expect(epoch.epoch == 12 && text(epoch.data()) == "12")
        #expect(throws: KafkaMetadataError.self) { try ControllerEpochZNode(data: bytes("twelve")) }
    }

    @Test func configAndChangeNotification() throws {
        let written = #"{"version":1,"config":{"retention.ms":"604800000","min.insync.replicas":"2"}}"#
        var node = try EntityConfigZNode(data: bytes(written))
        #expect(node.config == ["retention.ms": "604800000", "min.insync.replicas": "2"])
        node["follower.replication.throttled.replicas"] = "0:1001,0:0"
        #expect(text(node.data()) == #"{"version":1,"config":{"retention.ms":"604800000","min.insync.replicas":"2","follower.replication.throttled.replicas":"0:1001,0:0"}}"#)
        node["follower.replication.throttled.replicas"] = nil
        #expect(text(node.data()) == written)
        #expect(text(EntityConfigZNode(config: ["b": "2", "a": "1"]).data()) == #"{"version":1,"config":{"a":"1","b":"2"}}"#)

        let change = #"{"version":2,"entity_path":"topics/orders"}"#
        #expect(try ConfigChangeNotificationZNode(data: bytes(change)).entityPath == "topics/orders")
        #expect(text(ConfigChangeNotificationZNode.topic("orders").data()) == change)
        #expect(text(ConfigChangeNotificationZNode.broker(1001).data()) == #"{"version":2,"entity_path":"brokers/1001"}"#)
    }

    @Test func preferredReplicaElection() throws {
        let written = #"{"version":1,"partitions":[{"topic":"orders","partition":0},{"topic":"payments","partition":3}]}"#
        let node = try PreferredReplicaElectionZNode(data: bytes(written))
        #expect(node.partitions == [TopicPartition("orders", 0), TopicPartition("payments", 3)])
        #expect(text(node.data()) == written)
        #expect(text(PreferredReplicaElectionZNode(partitions: node.partitions).data()) == written)
    }

    @Test func errorsNameThePathAndTheField() {
        do {
            _ = try PartitionStateZNode(data: bytes(#"{"version":1,"leader":"one","leader_epoch":1,"controller_epoch":1,"isr":[1]}"#),
                                        path: "/brokers/topics/orders/partitions/0/state")
            Issue.record("a string leader was accepted")
        } catch {
            #expect(error.path == "/brokers/topics/orders/partitions/0/state")
            #expect(error.message.contains("\"leader\"") && error.message.contains("integer"))
        }
        #expect(throws: KafkaMetadataError.self) { try TopicAssignmentZNode(data: bytes(#"{"version":1}"#)) }
        #expect(throws: KafkaMetadataError.self) { try ControllerZNode(data: bytes(#"{"version":1,"brokerid":1"#)) }
        #expect(throws: KafkaMetadataError.self) { try EntityConfigZNode(data: bytes(#"[1,2]"#)) }
    }

    @Test func jsonStringsEscapeLikeJackson() throws {
        let written = #"{"k":"a\"b\\c\n\u0001/é"}"#
        let value = try JSONValue(parsing: bytes(written))
        #expect(value.objectValue?["k"]?.stringValue == "a\"b\\c\n\u{01}/é")
        #expect(text(value.serialized()) == written)
        #expect(try JSONValue(parsing: bytes(#""\ud83d\ude00""#)).stringValue == "😀")
    }

    @Test func codableUsesTheSameFieldNames() throws {
        let node = PartitionStateZNode(leader: 3, leaderEpoch: 1, controllerEpoch: 2, isr: [3, 4])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(node), as: UTF8.self)
                == #"{"controller_epoch":2,"isr":[3,4],"leader":3,"leader_epoch":1,"version":1}"#)
        let decoded = try JSONDecoder().decode(PartitionStateZNode.self, from: encoder.encode(node))
        #expect(decoded.isr == [3, 4] && decoded.leader == 3)
    }
}
