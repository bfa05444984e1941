import Foundation
import ZooKeeperProtocol

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

    /// Keys in the order Kafka writes them: `MigrationZNode.encode` builds a five-entry Scala 2.13
    /// immutable `Map` (a CHAMP `HashMap`, ordered by the keys' improved hashes) and Jackson writes
    /// it in iteration order. The same rule gives the partition state's known order
    /// (`controller_epoch, leader, version, leader_epoch, isr`). Readers must not rely on order.
    public init(controllerID: Int, controllerEpoch: Int, metadataOffset: Int64, metadataEpoch: Int, version: Int = 0) {
        json = JSONObject([
            ("version", .int(version)), ("kraft_metadata_offset", .number(String(metadataOffset))), ("kraft_controller_id", .int(controllerID)),
            ("kraft_metadata_epoch", .int(metadataEpoch)), ("kraft_controller_epoch", .int(controllerEpoch)),
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

    /// Version 2 as Kafka 3.4+ writes it (`ControllerZNode.encode`, a four-entry Scala `Map` that
    /// keeps its order): `{"version":2,"brokerid":B,"timestamp":"ms","kraftControllerEpoch":E}`,
    /// E = -1 from a ZooKeeper-mode controller, the KRaft leader epoch from a KRaft controller.
    public init(kraftController brokerID: Int, timestamp: Int64, kraftControllerEpoch: Int) {
        let json = JSONObject([("version", .int(2)), ("brokerid", .int(brokerID)), ("timestamp", .string(String(timestamp))),
                               ("kraftControllerEpoch", .int(kraftControllerEpoch))])
        // Built with both required fields; the initializer's checks cannot fail.
        do { self = try ControllerZNode(json: json) } catch { self.init(brokerID: BrokerID(brokerID), timestamp: String(timestamp)) }
    }
}

// MARK: - /brokers/ids/N written by a Kafka 3.x broker

extension BrokerRegistration {
    /// Version 5 exactly as `BrokerIdZNode.encode` writes it on Kafka 3.x (Scala 2.13): a
    /// `mutable.HashMap` of 16 buckets, iterated by bucket (`hash ^ hash >>> 16`, low four bits),
    /// so the keys come out as `features, listener_security_protocol_map, endpoints, rack,
    /// jmx_port, port, host, version, timestamp` — the order real 3.x registrations show.
    /// `features` is `{}` (a ZooKeeper-mode broker's `BrokerFeatures.createEmpty()`); the protocol
    /// map keeps the endpoints' order (a Scala `Map` of up to four entries keeps insertion order).
    public static func kafka3(host: String?, port: Int, endpoints: [String], listenerSecurityProtocolMap: [(String, String)],
                              rack: String?, jmxPort: Int = -1, timestamp: String) -> BrokerRegistration {
        var protocols = JSONObject()
        for (listener, securityProtocol) in listenerSecurityProtocolMap where protocols[listener] == nil { protocols[listener] = .string(securityProtocol) }
        var json = JSONObject()
        json["features"] = .object(JSONObject())
        json["listener_security_protocol_map"] = .object(protocols)
        json["endpoints"] = .array(endpoints.map { .string($0) })
        if let rack { json["rack"] = .string(rack) }
        json["jmx_port"] = .int(jmxPort)
        json["port"] = .int(port)
        json["host"] = host.map { .string($0) } ?? .null
        json["version"] = .int(5)
        json["timestamp"] = .string(timestamp)
        // Built from a valid layout; the initializer's checks cannot fail.
        return (try? BrokerRegistration(json: json)) ?? BrokerRegistration(version: 5, host: host, port: port, endpoints: endpoints, timestamp: timestamp)
    }
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
