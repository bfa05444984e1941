import Foundation
import Testing
@testable import Kafka
@testable import KafkaPlanning

@Suite("Replication throttles")
struct ThrottleTests {
    @Test func throttlesNameCurrentAndAddedReplicas() throws {
        let before = ReplicaAssignment([TopicPartition("orders", 0): [1, 2, 3], TopicPartition("orders", 1): [2, 3, 1],
                                        TopicPartition("audit", 0): [1]])
        var after = before
        after[TopicPartition("orders", 0)] = [11, 2, 3]
        after[TopicPartition("orders", 1)] = [3, 2, 1]  // leader order only: nothing copied, no throttle
        after[TopicPartition("audit", 0)] = [1, 12]
        let throttles = ReplicationThrottles(from: before, to: after)
        #expect(throttles.leaderReplicas == ["orders": "0:1,0:2,0:3", "audit": "0:1"])
        #expect(throttles.followerReplicas == ["orders": "0:11", "audit": "0:12"])
        #expect(throttles.brokers == [1, 2, 3, 11, 12])
        #expect(throttles.topics == ["audit", "orders"])

        let config = try EntityConfigZNode(data: Data(#"{"version":1,"config":{"min.insync.replicas":"2"}}"#.utf8))
        let throttled = throttles.applied(to: config, topic: "orders")
        #expect(String(decoding: throttled.data(), as: UTF8.self)
                == #"{"version":1,"config":{"min.insync.replicas":"2","leader.replication.throttled.replicas":"0:1,0:2,0:3","follower.replication.throttled.replicas":"0:11"}}"#)
        #expect(ReplicationThrottles.cleared(throttled) == config)
    }
}
