import Foundation

/// A Kafka broker id (`broker.id`), as it appears in `/brokers/ids/N` and in replica lists.
public struct BrokerID: RawRepresentable, Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public init(integerLiteral value: Int) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: BrokerID, rhs: BrokerID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
    /// The leader value Kafka writes when a partition has no leader.
    public static let noLeader = BrokerID(-1)
}

/// Maps keyed by broker encode as JSON objects (`{"1":3}`), not as key-value arrays.
extension BrokerID: CodingKeyRepresentable {
    public var codingKey: any CodingKey { rawValue.codingKey }
    public init?<T: CodingKey>(codingKey: T) {
        guard let value = Int(codingKey: codingKey) else { return nil }
        self.init(value)
    }
}

/// One partition of one topic: `orders-3`.
public struct TopicPartition: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var topic: String
    public var partition: Int
    public init(_ topic: String, _ partition: Int) { self.topic = topic; self.partition = partition }
    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
    public var description: String { "\(topic)-\(partition)" }
}

/// A znode whose data could not be understood.
public struct KafkaMetadataError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The znode path, when known.
    public var path: String?
    public var message: String
    public init(path: String? = nil, _ message: String) { self.path = path; self.message = message }
    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}

/// A znode holding one JSON object in one of Kafka's layouts. The object is kept as read, so
/// unknown fields and key order survive a read-modify-write; typed properties read and write it.
public protocol KafkaJSONZNode: Sendable, Hashable, Codable {
    /// The whole object as stored in ZooKeeper.
    var json: JSONObject { get }
    /// Checks that the object has the fields this layout requires, with the right types.
    init(json: JSONObject) throws(KafkaMetadataError)
}

extension KafkaJSONZNode {
    /// Reads the znode's data. `path` only improves the error message.
    public init(data: Data, path: String? = nil) throws(KafkaMetadataError) {
        let value: JSONValue
        do { value = try JSONValue(parsing: data) } catch {
            throw KafkaMetadataError(path: path, "\(error); data was \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        guard case .object(let object) = value else {
            throw KafkaMetadataError(path: path, "expected a JSON object, found \(value.serializedString.prefix(200))")
        }
        do { try self.init(json: object) } catch {
            throw KafkaMetadataError(path: path, error.message)
        }
    }

    /// The bytes to store in the znode: compact JSON, keys in the order read (or Kafka's order).
    public func data() -> Data { JSONValue.object(json).serialized() }

    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        guard case .object(let object) = value else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected an object"))
        }
        try self.init(json: object)
    }
    public func encode(to encoder: any Encoder) throws { try JSONValue.object(json).encode(to: encoder) }
}

/// Checks on a JSON object's fields; messages name the field and what was expected.
struct FieldReader {
    let object: JSONObject
    let layout: String

    func fail(_ key: String, _ expected: String) -> KafkaMetadataError {
        let found = object[key].map { $0.serializedString } ?? "nothing"
        return KafkaMetadataError("\(layout): field \"\(key)\" should be \(expected), found \(found)")
    }
    func int(_ key: String) throws(KafkaMetadataError) -> Int {
        guard let value = object[key]?.intValue else { throw fail(key, "an integer") }
        return value
    }
    func optionalString(_ key: String) throws(KafkaMetadataError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw fail(key, "a string or null") }
        return text
    }
    func intArray(_ key: String) throws(KafkaMetadataError) -> [Int] {
        guard let values = object[key]?.arrayValue else { throw fail(key, "an array of integers") }
        var result: [Int] = []
        for value in values {
            guard let int = value.intValue else { throw fail(key, "an array of integers") }
            result.append(int)
        }
        return result
    }
    func stringArray(_ key: String) throws(KafkaMetadataError) -> [String] {
        guard let values = object[key]?.arrayValue else { throw fail(key, "an array of strings") }
        var result: [String] = []
        for value in values {
            guard let text = value.stringValue else { throw fail(key, "an array of strings") }
            result.append(text)
        }
        return result
    }
    /// `{"0":[1,2]}` maps keyed by partition number.
    func partitionMap(_ key: String, required: Bool) throws(KafkaMetadataError) -> [Int: [BrokerID]] {
        guard let value = object[key], !value.isNull else {
            if required { throw fail(key, "an object of partition → replica list") }
            return [:]
        }
        guard let map = value.objectValue else { throw fail(key, "an object of partition → replica list") }
        var result: [Int: [BrokerID]] = [:]
        for (partition, replicas) in map {
            guard let number = Int(partition), let list = replicas.arrayValue else {
                throw fail(key, "an object of partition → replica list")
            }
            var ids: [BrokerID] = []
            for id in list {
                guard let int = id.intValue else { throw fail(key, "replica lists of integers") }
                ids.append(BrokerID(int))
            }
            result[number] = ids
        }
        return result
    }
    func stringMap(_ key: String, required: Bool) throws(KafkaMetadataError) -> [String: String] {
        guard let value = object[key], !value.isNull else {
            if required { throw fail(key, "an object of strings") }
            return [:]
        }
        guard let map = value.objectValue else { throw fail(key, "an object of strings") }
        var result: [String: String] = [:]
        for (name, entry) in map {
            guard let text = entry.stringValue else { throw fail(key, "an object of strings") }
            result[name] = text
        }
        return result
    }
    func topicPartitions(_ key: String) throws(KafkaMetadataError) -> [TopicPartition] {
        guard let values = object[key]?.arrayValue else { throw fail(key, "an array of {topic, partition}") }
        var result: [TopicPartition] = []
        for value in values {
            guard let entry = value.objectValue, let topic = entry["topic"]?.stringValue,
                  let partition = entry["partition"]?.intValue
            else { throw fail(key, "an array of {topic, partition}") }
            result.append(TopicPartition(topic, partition))
        }
        return result
    }
}

extension JSONValue {
    static func brokerList(_ ids: [BrokerID]) -> JSONValue { .array(ids.map { .int($0.rawValue) }) }
    static func partitionMap(_ map: [Int: [BrokerID]], keepingOrderOf old: JSONValue?) -> JSONValue {
        var object = JSONObject()
        let previousOrder = old?.objectValue?.keys.compactMap(Int.init) ?? []
        for partition in previousOrder where map[partition] != nil { object[String(partition)] = brokerList(map[partition]!) }
        for partition in map.keys.sorted() where object[String(partition)] == nil {
            object[String(partition)] = brokerList(map[partition]!)
        }
        return .object(object)
    }
    static func stringMap(_ map: [String: String], keepingOrderOf old: JSONValue?) -> JSONValue {
        var object = JSONObject()
        for key in old?.objectValue?.keys ?? [] where map[key] != nil { object[key] = .string(map[key]!) }
        for key in map.keys.sorted() where object[key] == nil { object[key] = .string(map[key]!) }
        return .object(object)
    }
}

// MARK: - /brokers/ids/N

/// `/brokers/ids/N`: a live broker's registration (ephemeral). Versions 1–5.
/// `{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://h:9092"],
///   "jmx_port":-1,"host":"h","timestamp":"1554112343245","port":9092,"version":4}`
public struct BrokerRegistration: KafkaJSONZNode {
    public private(set) var json: JSONObject

    public static func path(_ id: BrokerID) -> String { "/brokers/ids/\(id)" }

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "broker registration")
        let version = try reader.int("version")
        _ = try reader.int("port")
        _ = try reader.optionalString("host")
        if version >= 2 { _ = try reader.stringArray("endpoints") }
        _ = try reader.optionalString("rack")
        _ = try reader.stringMap("listener_security_protocol_map", required: false)
        if json["jmx_port"] != nil { _ = try reader.int("jmx_port") }
        if let timestamp = json["timestamp"], timestamp.stringValue == nil, timestamp.intValue == nil {
            throw reader.fail("timestamp", "milliseconds as a string")
        }
        self.json = json
    }

    /// A registration as a Kafka 2.x broker (version 4) writes it.
    public init(version: Int = 4, host: String?, port: Int, endpoints: [String], rack: String? = nil,
                jmxPort: Int = -1, timestamp: String, listenerSecurityProtocolMap: [String: String] = [:]) {
        var json = JSONObject()
        if !listenerSecurityProtocolMap.isEmpty {
            json["listener_security_protocol_map"] = .stringMap(listenerSecurityProtocolMap, keepingOrderOf: nil)
        }
        json["endpoints"] = .array(endpoints.map { .string($0) })
        if let rack { json["rack"] = .string(rack) }
        json["jmx_port"] = .int(jmxPort)
        json["host"] = host.map { .string($0) } ?? .null
        json["timestamp"] = .string(timestamp)
        json["port"] = .int(port)
        json["version"] = .int(version)
        self.json = json
    }

    public var version: Int { json["version"]?.intValue ?? 0 }
    public var host: String? {
        get { json["host"]?.stringValue }
        set { json["host"] = newValue.map { .string($0) } ?? .null }
    }
    public var port: Int {
        get { json["port"]?.intValue ?? -1 }
        set { json["port"] = .int(newValue) }
    }
    /// `LISTENER://host:port`, one per advertised listener.
    public var endpoints: [String] {
        get { json["endpoints"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        set { json["endpoints"] = .array(newValue.map { .string($0) }) }
    }
    public var rack: String? {
        get { json["rack"]?.stringValue }
        set { json["rack"] = newValue.map { .string($0) } }
    }
    public var jmxPort: Int {
        get { json["jmx_port"]?.intValue ?? -1 }
        set { json["jmx_port"] = .int(newValue) }
    }
    /// Registration time in milliseconds since the epoch; Kafka writes it as a string.
    public var timestamp: String? {
        get { json["timestamp"]?.stringValue ?? json["timestamp"]?.intValue.map { String($0) } }
        set { json["timestamp"] = newValue.map { .string($0) } }
    }
    public var listenerSecurityProtocolMap: [String: String] {
        get { json["listener_security_protocol_map"]?.objectValue.map { Dictionary($0.entries.compactMap { e in e.value.stringValue.map { (e.key, $0) } }, uniquingKeysWith: { a, _ in a }) } ?? [:] }
        set { json["listener_security_protocol_map"] = .stringMap(newValue, keepingOrderOf: json["listener_security_protocol_map"]) }
    }
}

// MARK: - /brokers/topics/T

/// `/brokers/topics/T`: a topic's replica assignment.
/// `{"version":2,"partitions":{"0":[1,2,3]},"adding_replicas":{},"removing_replicas":{}}`;
/// version 3 (Kafka 2.8+) adds `"topic_id"`.
public struct TopicAssignmentZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject

    public static func path(_ topic: String) -> String { "/brokers/topics/\(topic)" }

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "topic assignment")
        _ = try reader.int("version")
        _ = try reader.partitionMap("partitions", required: true)
        _ = try reader.partitionMap("adding_replicas", required: false)
        _ = try reader.partitionMap("removing_replicas", required: false)
        _ = try reader.optionalString("topic_id")
        self.json = json
    }

    public init(version: Int = 2, partitions: [Int: [BrokerID]], addingReplicas: [Int: [BrokerID]] = [:],
                removingReplicas: [Int: [BrokerID]] = [:], topicID: String? = nil) {
        var json = JSONObject()
        json["version"] = .int(version)
        json["partitions"] = .partitionMap(partitions, keepingOrderOf: nil)
        if version >= 2 {
            json["adding_replicas"] = .partitionMap(addingReplicas, keepingOrderOf: nil)
            json["removing_replicas"] = .partitionMap(removingReplicas, keepingOrderOf: nil)
        }
        if let topicID { json["topic_id"] = .string(topicID) }
        self.json = json
    }

    public var version: Int { json["version"]?.intValue ?? 0 }
    private func map(_ key: String) -> [Int: [BrokerID]] {
        (try? FieldReader(object: json, layout: "").partitionMap(key, required: false)) ?? [:]
    }
    public var partitions: [Int: [BrokerID]] {
        get { map("partitions") }
        set { json["partitions"] = .partitionMap(newValue, keepingOrderOf: json["partitions"]) }
    }
    public var addingReplicas: [Int: [BrokerID]] {
        get { map("adding_replicas") }
        set { json["adding_replicas"] = .partitionMap(newValue, keepingOrderOf: json["adding_replicas"]) }
    }
    public var removingReplicas: [Int: [BrokerID]] {
        get { map("removing_replicas") }
        set { json["removing_replicas"] = .partitionMap(newValue, keepingOrderOf: json["removing_replicas"]) }
    }
    public var topicID: String? { json["topic_id"]?.stringValue }
}

// MARK: - /brokers/topics/T/partitions/P/state

/// `/brokers/topics/T/partitions/P/state`: leader and ISR, written by the controller.
/// `{"controller_epoch":5,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2,3]}`
public struct PartitionStateZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject

    public static func path(_ partition: TopicPartition) -> String {
        "/brokers/topics/\(partition.topic)/partitions/\(partition.partition)/state"
    }

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "partition state")
        _ = try reader.int("version")
        _ = try reader.int("leader")
        _ = try reader.int("leader_epoch")
        _ = try reader.int("controller_epoch")
        _ = try reader.intArray("isr")
        self.json = json
    }

    public init(leader: BrokerID, leaderEpoch: Int, controllerEpoch: Int, isr: [BrokerID]) {
        var json = JSONObject()
        json["controller_epoch"] = .int(controllerEpoch)
        json["leader"] = .int(leader.rawValue)
        json["version"] = .int(1)
        json["leader_epoch"] = .int(leaderEpoch)
        json["isr"] = .brokerList(isr)
        self.json = json
    }

    public var version: Int { json["version"]?.intValue ?? 0 }
    /// `-1` (``BrokerID/noLeader``) when the partition is offline.
    public var leader: BrokerID {
        get { BrokerID(json["leader"]?.intValue ?? -1) }
        set { json["leader"] = .int(newValue.rawValue) }
    }
    public var leaderEpoch: Int {
        get { json["leader_epoch"]?.intValue ?? 0 }
        set { json["leader_epoch"] = .int(newValue) }
    }
    public var controllerEpoch: Int {
        get { json["controller_epoch"]?.intValue ?? 0 }
        set { json["controller_epoch"] = .int(newValue) }
    }
    public var isr: [BrokerID] {
        get { json["isr"]?.arrayValue?.compactMap { $0.intValue.map { BrokerID($0) } } ?? [] }
        set { json["isr"] = .brokerList(newValue) }
    }
}

// MARK: - /admin/reassign_partitions and the kafka-reassign-partitions file

/// One entry of a reassignment: the replicas a partition should end with.
public struct PartitionReassignment: Sendable, Hashable, Codable {
    public var topic: String
    public var partition: Int
    public var replicas: [BrokerID]
    /// `"any"` per replica in the tool's file; absent in the znode.
    public var logDirs: [String]?

    public init(topic: String, partition: Int, replicas: [BrokerID], logDirs: [String]? = nil) {
        self.topic = topic; self.partition = partition; self.replicas = replicas; self.logDirs = logDirs
    }
    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }

    enum CodingKeys: String, CodingKey {
        case topic, partition, replicas
        case logDirs = "log_dirs"
    }
}

/// `/admin/reassign_partitions` and the file `kafka-reassign-partitions --execute` reads:
/// `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}`.
/// The controller removes entries as they finish and deletes the znode when none are left.
public struct ReassignPartitionsZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject
    public static let path = "/admin/reassign_partitions"

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "partition reassignment")
        _ = try reader.int("version")
        guard let entries = json["partitions"]?.arrayValue else { throw reader.fail("partitions", "an array") }
        for entry in entries {
            guard let object = entry.objectValue else { throw reader.fail("partitions", "an array of objects") }
            let entryReader = FieldReader(object: object, layout: "partition reassignment entry")
            guard object["topic"]?.stringValue != nil else { throw entryReader.fail("topic", "a string") }
            _ = try entryReader.int("partition")
            _ = try entryReader.intArray("replicas")
            if object["log_dirs"] != nil { _ = try entryReader.stringArray("log_dirs") }
        }
        self.json = json
    }

    /// Entries in the order given; `withLogDirs` adds `"log_dirs":["any",…]` as the tool prints it.
    public init(_ reassignments: [PartitionReassignment]) {
        var json = JSONObject()
        json["version"] = .int(1)
        json["partitions"] = .array(reassignments.map { entry in
            var object = JSONObject()
            object["topic"] = .string(entry.topic)
            object["partition"] = .int(entry.partition)
            object["replicas"] = .brokerList(entry.replicas)
            if let logDirs = entry.logDirs { object["log_dirs"] = .array(logDirs.map { .string($0) }) }
            return .object(object)
        })
        self.json = json
    }

    public var version: Int { json["version"]?.intValue ?? 0 }
    public var partitions: [PartitionReassignment] {
        (json["partitions"]?.arrayValue ?? []).compactMap { value in
            guard let object = value.objectValue, let topic = object["topic"]?.stringValue,
                  let partition = object["partition"]?.intValue else { return nil }
            return PartitionReassignment(
                topic: topic, partition: partition,
                replicas: object["replicas"]?.arrayValue?.compactMap { $0.intValue.map { BrokerID($0) } } ?? [],
                logDirs: object["log_dirs"]?.arrayValue?.compactMap(\.stringValue))
        }
    }

    /// Drops the entries for `finished` partitions, keeping everything else as it was.
    public mutating func remove(_ finished: Set<TopicPartition>) {
        let kept = (json["partitions"]?.arrayValue ?? []).filter { value in
            guard let object = value.objectValue, let topic = object["topic"]?.stringValue,
                  let partition = object["partition"]?.intValue else { return true }
            return !finished.contains(TopicPartition(topic, partition))
        }
        json["partitions"] = .array(kept)
    }
}

// MARK: - /controller and /controller_epoch

/// `/controller`: the active controller (ephemeral). `{"version":1,"brokerid":1,"timestamp":"1554112343245"}`
public struct ControllerZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject
    public static let path = "/controller"

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "controller")
        _ = try reader.int("version")
        _ = try reader.int("brokerid")
        self.json = json
    }
    public init(brokerID: BrokerID, timestamp: String) {
        json = JSONObject([("version", .int(1)), ("brokerid", .int(brokerID.rawValue)), ("timestamp", .string(timestamp))])
    }
    public var version: Int { json["version"]?.intValue ?? 0 }
    public var brokerID: BrokerID { BrokerID(json["brokerid"]?.intValue ?? -1) }
    public var timestamp: String? { json["timestamp"]?.stringValue ?? json["timestamp"]?.intValue.map { String($0) } }
}

/// `/controller_epoch`: the controller epoch as plain decimal text, e.g. `5`.
public struct ControllerEpochZNode: Sendable, Hashable, Codable {
    public static let path = "/controller_epoch"
    public var epoch: Int
    public init(epoch: Int) { self.epoch = epoch }
    public init(data: Data, path: String = ControllerEpochZNode.path) throws(KafkaMetadataError) {
        let text = String(decoding: data, as: UTF8.self)
        guard let epoch = Int(text) else {
            throw KafkaMetadataError(path: path, "controller epoch should be a decimal integer, found \"\(text.prefix(50))\"")
        }
        self.epoch = epoch
    }
    public func data() -> Data { Data(String(epoch).utf8) }
}

// MARK: - /config/…

/// `/config/topics/T`, `/config/brokers/N` and `/config/brokers/<default>`:
/// `{"version":1,"config":{"min.insync.replicas":"2"}}`. Values are always strings.
public struct EntityConfigZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject

    public static func topicPath(_ topic: String) -> String { "/config/topics/\(topic)" }
    public static func brokerPath(_ id: BrokerID) -> String { "/config/brokers/\(id)" }
    /// Cluster-wide dynamic broker defaults.
    public static let brokerDefaultPath = "/config/brokers/<default>"

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "entity config")
        _ = try reader.int("version")
        _ = try reader.stringMap("config", required: true)
        self.json = json
    }
    public init(config: [String: String] = [:]) {
        json = JSONObject([("version", .int(1)), ("config", .stringMap(config, keepingOrderOf: nil))])
    }
    public var version: Int { json["version"]?.intValue ?? 0 }
    public var config: [String: String] {
        (try? FieldReader(object: json, layout: "").stringMap("config", required: false)) ?? [:]
    }
    /// One entry; setting `nil` removes it, other entries keep their place.
    public subscript(key: String) -> String? {
        get { json["config"]?.objectValue?[key]?.stringValue }
        set {
            var config = json["config"]?.objectValue ?? JSONObject()
            config[key] = newValue.map { .string($0) }
            json["config"] = .object(config)
        }
    }
}

/// `/config/changes/config_change_NNNNNNNNNN` (persistent sequential): tells brokers to reload an
/// entity's config. `{"version":2,"entity_path":"topics/orders"}`
public struct ConfigChangeNotificationZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject
    /// Create with the sequential flag; ZooKeeper appends the ten-digit counter.
    public static let pathPrefix = "/config/changes/config_change_"

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "config change notification")
        _ = try reader.int("version")
        guard try reader.optionalString("entity_path") != nil else { throw reader.fail("entity_path", "a string such as \"topics/T\"") }
        self.json = json
    }
    /// `entityPath` as `topics/T`, `brokers/N` or `brokers/<default>`.
    public init(entityPath: String) {
        json = JSONObject([("version", .int(2)), ("entity_path", .string(entityPath))])
    }
    public static func topic(_ topic: String) -> ConfigChangeNotificationZNode { .init(entityPath: "topics/\(topic)") }
    public static func broker(_ id: BrokerID) -> ConfigChangeNotificationZNode { .init(entityPath: "brokers/\(id)") }
    public var version: Int { json["version"]?.intValue ?? 0 }
    public var entityPath: String { json["entity_path"]?.stringValue ?? "" }
}

// MARK: - /admin/preferred_replica_election

/// `/admin/preferred_replica_election`: partitions whose leadership should move to the preferred
/// (first) replica. `{"version":1,"partitions":[{"topic":"t","partition":0}]}`
public struct PreferredReplicaElectionZNode: KafkaJSONZNode {
    public private(set) var json: JSONObject
    public static let path = "/admin/preferred_replica_election"

    public init(json: JSONObject) throws(KafkaMetadataError) {
        let reader = FieldReader(object: json, layout: "preferred replica election")
        _ = try reader.int("version")
        _ = try reader.topicPartitions("partitions")
        self.json = json
    }
    public init(partitions: [TopicPartition]) {
        json = JSONObject([("version", .int(1)), ("partitions", .array(partitions.map {
            .object(JSONObject([("topic", .string($0.topic)), ("partition", .int($0.partition))]))
        }))])
    }
    public var version: Int { json["version"]?.intValue ?? 0 }
    public var partitions: [TopicPartition] {
        (try? FieldReader(object: json, layout: "").topicPartitions("partitions")) ?? []
    }
}
