import Foundation
import KafkaPlanning
import ZooKeeper

// The view's reads through a ZooKeeper client; the view itself is a plain value (KafkaPlanning).
extension KRaftZooKeeperView {
    /// Reads the view through Kafka's one metadata reader (the client's chroot is Kafka's).
    public static func read(_ zk: ZooKeeperClient) async throws -> KRaftZooKeeperView {
        let deletions = try await KafkaMetadataReader.children(zk, "/admin/delete_topics")
        let configPaths = try await KafkaMetadataReader.children(zk, "/config/brokers").map { "/config/brokers/\($0)" }
        let snapshot = try await KafkaMetadataReader.read(zk, extraPaths: [ClusterIDZNode.path, MigrationZNode.path] + configPaths)
        var configs: [String: [String: String]] = [:]
        for path in configPaths {
            guard let raw = snapshot.raw[path] else { continue }
            configs[String(path.dropFirst("/config/brokers/".count))] = try EntityConfigZNode(data: raw.data, path: path).config
        }
        return KRaftZooKeeperView(state: snapshot.state, clusterID: snapshot.raw[ClusterIDZNode.path],
                                  controller: snapshot.raw[ControllerZNode.path], migration: snapshot.raw[MigrationZNode.path],
                                  pendingTopicDeletions: deletions, brokerConfigs: configs)
    }

    /// Reads `/migration` alone (nil when absent): the second sample of a dual-write liveness check.
    public static func readMigration(_ zk: ZooKeeperClient) async throws -> KafkaMetadataReader.RawZNode? {
        do {
            let (data, stat) = try await zk.getData(MigrationZNode.path)
            return KafkaMetadataReader.RawZNode(data: Data(data), stat: stat)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }
}
