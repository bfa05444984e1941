import Foundation
import ZooKeeperProtocol

/// Kafka's metadata as read out of ZooKeeper (ZooKeeper mode, Kafka ≤ 3.x): the values. The reads
/// themselves, through a ZooKeeper client, are the `Kafka` module's (`KafkaMetadataReader.read`).
public enum KafkaMetadataReader {
    public struct Snapshot: Sendable {
        public var state: KafkaClusterState
        /// When `/admin/reassign_partitions` was created (ms since 1970), if a reassignment runs.
        public var reassignmentStarted: Int64?
        /// When each `/brokers/topics/T` was last written (ms since 1970): for a reassignment started
        /// through the Admin API, the controller's write that began it (or a later one).
        public var topicModified: [String: Int64] = [:]
        /// Paths read, for the curious.
        public var znodesRead: Int
        /// Data and stat of `/controller` and of every extra path asked for that exists.
        public var raw: [String: RawZNode] = [:]

        public init(state: KafkaClusterState, reassignmentStarted: Int64? = nil, topicModified: [String: Int64] = [:], znodesRead: Int, raw: [String: RawZNode] = [:]) {
            self.state = state; self.reassignmentStarted = reassignmentStarted; self.topicModified = topicModified; self.znodesRead = znodesRead; self.raw = raw
        }
    }

    /// A znode's bytes and stat as read.
    public struct RawZNode: Sendable, Hashable {
        public var data: Data
        public var stat: Stat
        public init(data: Data, stat: Stat) { self.data = data; self.stat = stat }
    }
}
