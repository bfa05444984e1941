import Logging
import ZooKeeperProtocol

/// How a client connects: servers, session, limits. Timeouts that follow from the session
/// (read timeout 2/3, ping interval 1/3, connect timeout per server) are derived, not set.
public struct ZooKeeperConfiguration: Sendable {
    public var connectionString: ConnectionString
    /// The session timeout to ask for; the server clamps it to [2, 20] × its tickTime.
    public var sessionTimeout: Duration
    /// Accept a server that is not in a quorum and can only serve reads.
    public var allowReadOnly: Bool
    /// Try servers in a random order (as every ZooKeeper client does), or in the given order.
    public var shuffleServers: Bool
    /// The largest request the servers accept (their `jute.maxbuffer`, 1 MiB − 1 by default).
    public var maximumRequestSize: Int
    /// The largest frame accepted from a server.
    public var maximumResponseSize: Int
    /// Credentials sent on every connection, before any request: (scheme, bytes).
    public var authentication: [(scheme: String, credentials: [UInt8])]
    /// Send a read again on the next connection when the connection it was sent on is lost before
    /// its reply (reads change nothing, so this is safe). Writes whose reply was lost always fail
    /// with `connectionLoss`: whether they were applied is unknown.
    public var resendReadsAfterConnectionLoss: Bool
    /// How long a request made while the connection is being re-established may wait for it
    /// before failing with `connectionLoss`; nil means the session timeout. (Before the first
    /// session, requests fail with the first failed attempt.)
    public var queuedRequestTimeout: Duration?
    /// After every server has refused in one round, the client waits before the next round: from
    /// the lower bound, doubling up to the upper bound, plus up to half of it in jitter. The upper
    /// bound is what a client may add to an outage once the servers are back; the Java client
    /// waits up to 1 s before each attempt.
    public var reconnectBackoff: ClosedRange<Duration>
    public var logger: Logger

    public init(
        connectionString: ConnectionString,
        sessionTimeout: Duration = .seconds(10),
        allowReadOnly: Bool = false,
        shuffleServers: Bool = true,
        maximumRequestSize: Int = 0xFFFFF,
        maximumResponseSize: Int = 64 << 20,
        authentication: [(scheme: String, credentials: [UInt8])] = [],
        resendReadsAfterConnectionLoss: Bool = true,
        queuedRequestTimeout: Duration? = nil,
        reconnectBackoff: ClosedRange<Duration> = .milliseconds(50) ... .milliseconds(400),
        logger: Logger = Logger(label: "zookeeper")
    ) {
        self.connectionString = connectionString
        self.sessionTimeout = sessionTimeout
        self.allowReadOnly = allowReadOnly
        self.shuffleServers = shuffleServers
        self.maximumRequestSize = maximumRequestSize
        self.maximumResponseSize = maximumResponseSize
        self.authentication = authentication
        self.resendReadsAfterConnectionLoss = resendReadsAfterConnectionLoss
        self.queuedRequestTimeout = queuedRequestTimeout
        self.reconnectBackoff = reconnectBackoff
        self.logger = logger
    }

    /// Parses the connection string; throws a `ConnectionStringError` that says what is wrong.
    public init(_ connectionString: String, sessionTimeout: Duration = .seconds(10)) throws(ConnectionStringError) {
        self.init(connectionString: try ConnectionString(parsing: connectionString), sessionTimeout: sessionTimeout)
    }
}

/// The connection as a user sees it (kazoo's CONNECTED / SUSPENDED / LOST, with more detail).
public enum ConnectionState: Sendable, Hashable, CustomStringConvertible {
    /// Looking for a server; no session yet.
    case connecting
    /// A session is established through `server`.
    case connected(sessionID: Int64, server: String, readOnly: Bool)
    /// The connection was lost; the session may still be alive and is being resumed.
    case suspended
    /// The session expired: its ephemeral nodes and watches are gone. A new session follows.
    case expired(sessionID: Int64)
    /// The server rejected the credentials.
    case authFailed
    /// The client was closed.
    case closed

    public var description: String {
        switch self {
        case .connecting: "connecting"
        case .connected(let id, let server, let readOnly):
            "connected to \(server) session 0x\(String(UInt64(bitPattern: id), radix: 16))\(readOnly ? " (read-only)" : "")"
        case .suspended: "suspended"
        case .expired(let id): "session 0x\(String(UInt64(bitPattern: id), radix: 16)) expired"
        case .authFailed: "authentication failed"
        case .closed: "closed"
        }
    }
}

/// A fired watch: what happened, and where (a client path, the chroot removed).
public struct WatchedEvent: Sendable, Hashable {
    public var type: WatchEventType
    public var path: String

    public init(type: WatchEventType, path: String) {
        self.type = type
        self.path = path
    }
}
