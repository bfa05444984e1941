import Foundation
import KafkaPlanning
import ZooKeeper

/// Reads Kafka's metadata out of ZooKeeper (ZooKeeper mode, Kafka ≤ 3.x). The client's
/// connection string carries Kafka's chroot (e.g. `zk1:2181,zk2:2181/kafka`).
extension KafkaMetadataReader {
    /// Reads every znode `KafkaClusterState` understands, with reads pipelined; `extraPaths` are
    /// read in the same pipeline and returned in `raw` (absent ones left out).
    public static func read(_ zk: ZooKeeperClient, staticMinInsyncReplicas: Int = 1, extraPaths: [String] = []) async throws -> Snapshot {
        var paths = ["/controller", "/controller_epoch", "/admin/reassign_partitions", "/admin/preferred_replica_election", "/config/brokers/<default>"]
        paths += try await children(zk, "/brokers/ids").map { "/brokers/ids/\($0)" }
        paths += try await children(zk, "/config/topics").map { "/config/topics/\($0)" }
        let topics = try await children(zk, "/brokers/topics")
        paths += topics.map { "/brokers/topics/\($0)" }
        let partitionLists = try await withThrowingTaskGroup(of: [String].self) { group in
            for topic in topics {
                group.addTask {
                    try await children(zk, "/brokers/topics/\(topic)/partitions").map { "/brokers/topics/\(topic)/partitions/\($0)/state" }
                }
            }
            var all: [String] = []
            for try await list in group { all += list }
            return all
        }
        paths += partitionLists
        let keptRaw = Set(extraPaths + ["/controller"])
        paths += extraPaths.filter { !paths.contains($0) }
        let read = try await withThrowingTaskGroup(of: (String, [UInt8], Stat)?.self) { group in
            for path in paths {
                group.addTask {
                    do {
                        let (data, stat) = try await zk.getData(path)
                        return (path, data, stat)
                    } catch let error as ZooKeeperError where error.code == .noNode {
                        return nil
                    }
                }
            }
            var all: [(String, [UInt8], Stat)] = []
            for try await entry in group { if let entry { all.append(entry) } }
            return all
        }
        var znodes: [String: Data] = [:]
        var reassignmentStarted: Int64? = nil
        var topicModified: [String: Int64] = [:]
        var raw: [String: RawZNode] = [:]
        for (path, data, stat) in read {
            if keptRaw.contains(path) { raw[path] = RawZNode(data: Data(data), stat: stat) }
            znodes[path] = Data(data)
            if path == "/admin/reassign_partitions" { reassignmentStarted = stat.ctime }
            if path.hasPrefix("/brokers/topics/"), path.dropFirst("/brokers/topics/".count).split(separator: "/").count == 1 {
                topicModified[String(path.dropFirst("/brokers/topics/".count))] = stat.mtime
            }
        }
        let state = try KafkaClusterState(znodes: znodes, staticMinInsyncReplicas: staticMinInsyncReplicas)
        return Snapshot(state: state, reassignmentStarted: reassignmentStarted, topicModified: topicModified, znodesRead: znodes.count, raw: raw)
    }

    /// The sorted children of `path`; none when it does not exist.
    public static func children(_ zk: ZooKeeperClient, _ path: String) async throws -> [String] {
        do {
            return try await zk.getChildren(path).sorted()
        } catch let error as ZooKeeperError where error.code == .noNode {
            return []
        }
    }
}
