import Foundation
import ZooKeeper

// The znodes of a ZooKeeper → KRaft migration (KIP-866), as Kafka 3.6–3.9 writes them.
// Facts and their sources in Kafka's code: ../shared/KRAFT.md §2.

// MARK: - /migration

/// `/migration` (persistent; Kafka's `MigrationZNode`):
/// `{"version":0,"kraft_controller_id":3000,"kraft_controller_epoch":5,"kraft_metadata_offset":120,"kraft_metadata_epoch":5}`.
/// Every migration-enabled controller creates it at driver start with all values `-1`; the
/// initial load is complete once `kraft_metadata_offset > 0`. Kafka's decoder rejects a version
/// other than 0; this type keeps any integer version so a check can name it.
public struct MigrationZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject
    public static let path = "/migration"
    /// The only version Kafka's decoder accepts.
    public static let supportedVersion = 0

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "migration state")
        for key in ["version", "kraft_controller_id", "kraft_controller_epoch", "kraft_metadata_offset", "kraft_metadata_epoch"] {
            _ = try reader.int(key)
        }
        self.json = json
    }

    /// Keys in the order KRAFT.md §2 lists them (Kafka encodes a Scala map, so readers must not rely on order).
    public init(controllerID: Int, controllerEpoch: Int, metadataOffset: Int64, metadataEpoch: Int, version: Int = 0) {
        json = JSONObject([
            ("version", .int(version)), ("kraft_controller_id", .int(controllerID)), ("kraft_controller_epoch", .int(controllerEpoch)),
            ("kraft_metadata_offset", .number(String(metadataOffset))), ("kraft_metadata_epoch", .int(metadataEpoch)),
        ])
    }

    /// What a migration-enabled controller writes when it finds no `/migration`.
    public static let empty = MigrationZNode(controllerID: -1, controllerEpoch: -1, metadataOffset: -1, metadataEpoch: -1)

    public var version: Int { json["version"]?.intValue ?? -1 }
    public var controllerID: Int { json["kraft_controller_id"]?.intValue ?? -1 }
    public var controllerEpoch: Int { json["kraft_controller_epoch"]?.intValue ?? -1 }
    public var metadataOffset: Int64 { json["kraft_metadata_offset"]?.intValue.map { Int64($0) } ?? -1 }
    public var metadataEpoch: Int { json["kraft_metadata_epoch"]?.intValue ?? -1 }
    /// Kafka's `ZkMigrationLeadershipState.initialZkMigrationComplete`.
    public var initialLoadComplete: Bool { metadataOffset > 0 }
}

// MARK: - /cluster/id

/// `/cluster/id`: `{"version":"1","id":"Y8Lk3YQwQ1q0rZ0eR1vJ1A"}` (the version is a string). The id
/// the KRaft controllers must be formatted with (`kafka-storage format -t ID`).
public struct ClusterIDZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject
    public static let path = "/cluster/id"

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "cluster id")
        guard let id = try reader.optionalString("id"), !id.isEmpty else { throw reader.fail("id", "a non-empty string") }
        self.json = json
    }
    public init(id: String) { json = JSONObject([("version", .string("1")), ("id", .string(id))]) }
    public var id: String { json["id"]?.stringValue ?? "" }
}

// MARK: - /controller written by a KRaft controller

extension ControllerZNode {
    /// `kraftControllerEpoch` (version 2, Kafka 3.4+): `-1` when a ZooKeeper-mode controller
    /// wrote the znode, the KRaft leader epoch when a migrating KRaft controller did; nil in
    /// version 1 znodes.
    public var kraftControllerEpoch: Int? { json["kraftControllerEpoch"]?.intValue }
}

// MARK: - encrypted dynamic passwords

/// Kafka stores dynamic password configs (`kafka-configs --alter --entity-type brokers`) encrypted
/// with `password.encoder.secret` as `key:value` pairs joined by commas, one of them
/// `encryptedPassword:…` (`EncryptingPasswordEncoder.encode`).
public enum EncryptedPassword {
    public static let marker = "encryptedPassword"
    public static func isEncrypted(_ value: String) -> Bool {
        value.split(separator: ",").contains { $0.split(separator: ":", maxSplits: 1).first.map(String.init) == marker }
    }
}
