import Ensemble
import Foundation
import ZooKeeperProtocol

/// What a ZooKeeper → KRaft migration check needs from ZooKeeper: Kafka's cluster state plus
/// `/cluster/id`, `/controller` with its stat, `/migration`, `/admin/delete_topics` and the dynamic
/// broker configs. A plain value, so every check and the status are pure functions of it.
public struct KRaftZooKeeperView: Sendable {
    public var state: KafkaClusterState
    /// `/cluster/id` as read (nil when absent).
    public var clusterID: KafkaMetadataReader.RawZNode?
    /// `/controller` as read (nil when absent).
    public var controller: KafkaMetadataReader.RawZNode?
    /// `/migration` as read (nil when absent).
    public var migration: KafkaMetadataReader.RawZNode?
    /// Children of `/admin/delete_topics`.
    public var pendingTopicDeletions: [String]
    /// `/config/brokers/N` and `/config/brokers/<default>`: entity → config (values as stored).
    public var brokerConfigs: [String: [String: String]]

    public init(state: KafkaClusterState, clusterID: KafkaMetadataReader.RawZNode? = nil, controller: KafkaMetadataReader.RawZNode? = nil,
                migration: KafkaMetadataReader.RawZNode? = nil, pendingTopicDeletions: [String] = [],
                brokerConfigs: [String: [String: String]] = [:]) {
        self.state = state; self.clusterID = clusterID; self.controller = controller; self.migration = migration
        self.pendingTopicDeletions = pendingTopicDeletions; self.brokerConfigs = brokerConfigs
    }

    /// Every replica id in any assignment (current and being added).
    public var replicaIDs: Set<BrokerID> {
        var ids = Set<BrokerID>()
        for topic in state.topics.values {
            for replicas in topic.partitions.values { ids.formUnion(replicas) }
            for replicas in topic.addingReplicas.values { ids.formUnion(replicas) }
        }
        return ids
    }
}

/// `/migration` as found: absent, unreadable (null data, not JSON, missing fields), or decoded.
public enum MigrationZNodeReading: Sendable, Hashable {
    case absent
    case malformed(reason: String)
    case present(MigrationZNode, dataVersion: Int32, mtime: Int64)

    public init(_ raw: KafkaMetadataReader.RawZNode?) {
        guard let raw else { self = .absent; return }
        if raw.data.isEmpty || String(decoding: raw.data, as: UTF8.self).trimmingCharacters(in: .whitespaces) == "null" {
            self = .malformed(reason: "it exists with null data (as zookeeper-security-migration can leave it; KAFKA-19480)")
            return
        }
        do {
            let node = try MigrationZNode(data: raw.data, path: MigrationZNode.path)
            if node.version != MigrationZNode.supportedVersion {
                self = .malformed(reason: "its version is \(node.version); Kafka's decoder accepts only \(MigrationZNode.supportedVersion)")
                return
            }
            self = .present(node, dataVersion: raw.stat.version, mtime: raw.stat.mtime)
        } catch {
            self = .malformed(reason: error.description)
        }
    }
}

/// Who owns `/controller`.
public enum ControllerOwner: Sendable, Hashable {
    case none
    /// A ZooKeeper-mode broker (ephemeral znode).
    case zookeeper(broker: BrokerID, kraftControllerEpoch: Int?)
    /// A KRaft controller in migration (persistent znode, `kraftControllerEpoch` > 0).
    case kraft(node: Int, kraftControllerEpoch: Int)
    case unreadable(reason: String)

    public init(_ raw: KafkaMetadataReader.RawZNode?) {
        guard let raw else { self = .none; return }
        do {
            let node = try ControllerZNode(data: raw.data, path: ControllerZNode.path)
            let epoch = node.kraftControllerEpoch
            if raw.stat.ephemeralOwner == 0, let epoch, epoch >= 0 {
                self = .kraft(node: node.brokerID.rawValue, kraftControllerEpoch: epoch)
            } else {
                self = .zookeeper(broker: node.brokerID, kraftControllerEpoch: epoch)
            }
        } catch {
            self = .unreadable(reason: error.description)
        }
    }
}

// MARK: - server.properties of brokers and controllers

/// One node's `server.properties` for the migration checks: a broker (ZooKeeper, migration or
/// KRaft mode) or a KRaft controller.
public struct KafkaNodeFile: Sendable {
    public enum Role: String, Sendable, Codable { case broker, controller }
    /// Where it came from: a path, or `member on host:path`.
    public var source: String
    public var role: Role
    public var config: KafkaBrokerConfig

    public init(source: String, role: Role, text: String) {
        self.source = source; self.role = role; self.config = KafkaBrokerConfig(parsing: text)
    }

    public func value(_ key: String) -> String? {
        config.value(forKey: key)?.trimmingCharacters(in: .whitespaces).nilIfEmpty
    }
    /// `line N` of a key, for messages.
    public func at(_ key: String) -> String {
        config.document.entry(forKey: key).map { "\(source):\($0.line)" } ?? source
    }
    /// `node.id` (KRaft) or `broker.id` (ZooKeeper mode).
    public var nodeID: Int? { (value("node.id") ?? value("broker.id")).flatMap { Int($0) } }
    public var processRoles: [String] { list(value("process.roles")) }
    public var migrationEnabled: Bool { value("zookeeper.metadata.migration.enable")?.lowercased() == "true" }

    /// The node's mode as its file sets it.
    public var mode: KafkaNodeMode {
        switch role {
        case .controller: return migrationEnabled ? .migration : .kraft
        case .broker:
            if !processRoles.isEmpty { return .kraft }
            return migrationEnabled ? .migration : .zookeeper
        }
    }

    /// Listener names from `listeners` (`NAME://host:port`), upper-cased as Kafka does.
    public var listenerNames: [String] {
        list(value("listeners") ?? "PLAINTEXT://:9092").compactMap { entry in
            entry.range(of: "://").map { String(entry[..<$0.lowerBound]).uppercased() }
        }
    }
    /// `listener.security.protocol.map` (names upper-cased); Kafka's default maps each protocol to itself.
    public var securityProtocolMap: [String: String] {
        guard let text = value("listener.security.protocol.map") else {
            return Dictionary(uniqueKeysWithValues: KafkaNodeFile.securityProtocols.map { ($0, $0) })
        }
        var map: [String: String] = [:]
        for pair in list(text) {
            let sides = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if sides.count == 2 { map[sides[0].uppercased()] = sides[1].uppercased() }
        }
        return map
    }
    public var controllerListenerNames: [String] { list(value("controller.listener.names")).map { $0.uppercased() } }
    /// The inter-broker listener: `inter.broker.listener.name`, else the listener named by
    /// `security.inter.broker.protocol` (default PLAINTEXT).
    public var interBrokerListener: String {
        (value("inter.broker.listener.name") ?? value("security.inter.broker.protocol") ?? "PLAINTEXT").uppercased()
    }
    /// `log.dirs`, else `log.dir`, split at commas.
    public var logDirs: [String] { list(value("log.dirs") ?? value("log.dir")) }

    public static let securityProtocols = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]

    private func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// A node's mode during the migration, from its `server.properties`.
public enum KafkaNodeMode: String, Sendable, Codable {
    /// A broker with no migration flag and no `process.roles`.
    case zookeeper = "zk"
    /// `zookeeper.metadata.migration.enable=true` (a migrating broker, or a controller before finalization).
    case migration
    /// `process.roles` set and no migration flag (brokers), or a controller without the flag.
    case kraft
}

/// A Kafka release (`3.9.0`) or an `inter.broker.protocol.version` (`3.7`, `3.7-IV2`, `2.8-IV1`).
public struct KafkaVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var components: [Int]
    /// The `-IVn` suffix of a protocol version; nil means the release's latest.
    public var iv: Int?
    public let text: String

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "-", maxSplits: 1)
        guard let head = parts.first else { return nil }
        let numbers = head.split(separator: ".").map { Int($0) }
        guard numbers.count >= 2, numbers.count <= 3, numbers.allSatisfy({ $0 != nil }) else { return nil }
        components = numbers.map { $0! }
        if parts.count == 2 {
            guard parts[1].hasPrefix("IV"), let iv = Int(parts[1].dropFirst(2)) else { return nil }
            self.iv = iv
        }
        self.text = trimmed
    }

    public var major: Int { components[0] }
    public var minor: Int { components[1] }
    public var patch: Int { components.count > 2 ? components[2] : 0 }
    /// `major.minor`, the part an IBP shares with its release.
    public var release: String { "\(major).\(minor)" }
    public var description: String { text }

    public static func < (lhs: KafkaVersion, rhs: KafkaVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch, lhs.iv ?? Int.max) < (rhs.major, rhs.minor, rhs.patch, rhs.iv ?? Int.max)
    }
    /// Whether this protocol version is at least `major.minor-IVn`, a bare `x.y` meaning x.y's latest.
    public func atLeast(_ major: Int, _ minor: Int, iv: Int = 0) -> Bool {
        if (self.major, self.minor) != (major, minor) { return (self.major, self.minor) > (major, minor) }
        return (self.iv ?? Int.max) >= iv
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
