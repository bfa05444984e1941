import Foundation
import ZooKeeper

/// Dynamic config changes the way Kafka's `AdminZkClient.changeEntityConfig` makes them: the entity's
/// `/config/<type>/<name>` znode is written, then a persistent sequential
/// `/config/changes/config_change_NNNNNNNNNN` with `{"version":2,"entity_path":"<type>/<name>"}`
/// tells every broker to reload it. Here both go in one multi transaction (Kafka writes them one
/// after the other), guarded by the znode's version so a concurrent edit is re-read, not lost.
public enum KafkaConfigChanges {
    /// An entity whose dynamic config lives under `/config`.
    public enum Entity: Sendable, Hashable, CustomStringConvertible {
        case topic(String)
        case broker(BrokerID)

        public var path: String {
            switch self {
            case .topic(let topic): EntityConfigZNode.topicPath(topic)
            case .broker(let id): EntityConfigZNode.brokerPath(id)
            }
        }
        public var notification: ConfigChangeNotificationZNode {
            switch self {
            case .topic(let topic): .topic(topic)
            case .broker(let id): .broker(id)
            }
        }
        public var description: String { notification.entityPath }
    }

    /// The operations that replace `entity`'s config with `config` and announce it: a versioned
    /// `setData` (or a `create` when the znode is missing, `version` nil) and the notification.
    public static func operations(for entity: Entity, config: EntityConfigZNode, version: Int32?) -> [MultiOperation] {
        let write: MultiOperation = if let version {
            .setData(SetDataRequest(path: entity.path, data: Array(config.data()), version: version))
        } else {
            .create(CreateRequest(path: entity.path, data: Array(config.data()), acl: ACL.openUnsafe, mode: .persistent))
        }
        let notify = MultiOperation.create(CreateRequest(
            path: ConfigChangeNotificationZNode.pathPrefix, data: Array(entity.notification.data()),
            acl: ACL.openUnsafe, mode: .persistentSequential))
        return [write, notify]
    }

    /// Applies `change` to the entity's config. Writes (and announces) only when something changed;
    /// returns whether it did. A missing znode is an empty config, created only if `change` adds to it.
    @discardableResult
    public static func change(_ zk: ZooKeeperClient, _ entity: Entity,
                              _ change: @Sendable (EntityConfigZNode) -> EntityConfigZNode) async throws -> Bool {
        try await ensurePath(zk, "/config/changes")
        for _ in 0..<10 {
            var current = EntityConfigZNode()
            var version: Int32? = nil
            do {
                let (data, stat) = try await zk.getData(entity.path)
                current = try EntityConfigZNode(data: Data(data), path: entity.path)
                version = stat.version
            } catch let error as ZooKeeperError where error.code == .noNode {}
            let updated = change(current)
            guard updated.config != current.config else { return false }
            if version == nil { try await ensurePath(zk, ZooKeeperPath.parent(of: entity.path)) }
            do {
                try await zk.multi(operations(for: entity, config: updated, version: version))
                return true
            } catch let error as ZooKeeperError where error.code == .badVersion || error.code == .nodeExists {
                continue  // changed under us: read it again
            }
        }
        throw KafkaMetadataError(path: entity.path, "the config kept changing while it was being updated; try again")
    }

    /// Creates `path` and its missing ancestors (empty, open ACL), as Kafka's `createRecursive` does.
    static func ensurePath(_ zk: ZooKeeperClient, _ path: String) async throws {
        if path == "/" { return }
        if try await zk.exists(path) != nil { return }
        try await ensurePath(zk, ZooKeeperPath.parent(of: path))
        do { try await zk.create(path) } catch let error as ZooKeeperError where error.code == .nodeExists {}
    }
}
