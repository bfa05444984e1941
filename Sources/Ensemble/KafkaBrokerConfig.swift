public import ZooKeeperProtocol

/// A Kafka broker's `server.properties` (ZooKeeper mode), typed where Mitosis needs it and
/// lossless everywhere else: switching `zookeeper.connect` rewrites that one line.
public struct KafkaBrokerConfig: Sendable, Hashable, CustomStringConvertible {
    public enum Key {
        public static let brokerID = "broker.id"
        public static let zookeeperConnect = "zookeeper.connect"
        public static let zookeeperSessionTimeoutMs = "zookeeper.session.timeout.ms"
        public static let zookeeperConnectionTimeoutMs = "zookeeper.connection.timeout.ms"
        public static let zookeeperSetACL = "zookeeper.set.acl"
        public static let zookeeperClientCnxnSocket = "zookeeper.clientCnxnSocket"
        public static let zookeeperSSLClientEnable = "zookeeper.ssl.client.enable"
    }

    public var document: PropertiesDocument
    /// The key that holds the connection string (`zookeeper.connect` unless the client group
    /// says otherwise).
    public var connectionStringKey: String

    public init(parsing text: String, connectionStringKey: String = Key.zookeeperConnect) {
        self.document = PropertiesDocument(text)
        self.connectionStringKey = connectionStringKey
    }

    public var rendered: String { document.rendered }
    public var description: String { rendered }

    /// The raw connection string, trimmed, or nil when the key is absent.
    public var zookeeperConnectText: String? {
        document.value(forKey: connectionStringKey)?.trimmingBlanks()
    }

    /// The parsed connection string.
    public func zookeeperConnect() throws(KafkaConfigError) -> ConnectionString {
        guard let text = zookeeperConnectText, let line = document.entry(forKey: connectionStringKey)?.line else {
            throw KafkaConfigError(
                key: connectionStringKey, line: nil,
                reason: "the key is missing; add \(connectionStringKey)=host:2181[,host:2181...][/chroot]")
        }
        do {
            return try ConnectionString(parsing: text)
        } catch {
            throw KafkaConfigError(key: connectionStringKey, line: line, reason: error.description)
        }
    }

    /// Points the broker at another ensemble, changing only the connection-string line.
    public mutating func setZooKeeperConnect(_ connectionString: ConnectionString) {
        document.setValue(connectionString.description, forKey: connectionStringKey)
    }

    public var brokerID: Int? {
        document.value(forKey: Key.brokerID).flatMap { Int($0.trimmingBlanks()) }
    }

    public var zookeeperSessionTimeout: Duration? {
        document.value(forKey: Key.zookeeperSessionTimeoutMs)
            .flatMap { Int64($0.trimmingBlanks()) }
            .map { .milliseconds($0) }
    }

    public var zookeeperConnectionTimeout: Duration? {
        document.value(forKey: Key.zookeeperConnectionTimeoutMs)
            .flatMap { Int64($0.trimmingBlanks()) }
            .map { .milliseconds($0) }
    }

    public func value(forKey key: String) -> String? { document.value(forKey: key) }

    public mutating func setValue(_ value: String, forKey key: String) {
        document.setValue(value, forKey: key)
    }
}

public struct KafkaConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var line: Int?
    public var reason: String

    public var description: String {
        let location = line.map { "server.properties:\($0): " } ?? "server.properties: "
        return location + "\(key): \(reason)"
    }
}
