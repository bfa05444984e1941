/// A ZooKeeper error: what failed (`code`), where (`path`, `server`), and what to do.
public struct ZooKeeperError: Error, Sendable, Hashable, CustomStringConvertible {
    /// ZooKeeper's error codes (`KeeperException.Code`) plus the client's own, as static constants.
    ///
    /// Opaque: compare with the constants (`error.code == .noNode`); only the client makes codes,
    /// so new ones can be added without breaking a `switch` in a program that uses it.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// ZooKeeper's number for the code (`KeeperException.Code.intValue()`; the client's own
        /// codes are positive), for logs and for comparing with other clients.
        public let rawValue: Int32
        package init(rawValue: Int32) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: 0)
        public static let systemError = Code(rawValue: -1)
        public static let runtimeInconsistency = Code(rawValue: -2)
        public static let dataInconsistency = Code(rawValue: -3)
        public static let connectionLoss = Code(rawValue: -4)
        public static let marshallingError = Code(rawValue: -5)
        public static let unimplemented = Code(rawValue: -6)
        public static let operationTimeout = Code(rawValue: -7)
        public static let badArguments = Code(rawValue: -8)
        public static let unknownSession = Code(rawValue: -12)
        public static let newConfigNoQuorum = Code(rawValue: -13)
        public static let reconfigInProgress = Code(rawValue: -14)
        public static let apiError = Code(rawValue: -100)
        public static let noNode = Code(rawValue: -101)
        public static let noAuth = Code(rawValue: -102)
        public static let badVersion = Code(rawValue: -103)
        public static let noChildrenForEphemerals = Code(rawValue: -108)
        public static let nodeExists = Code(rawValue: -110)
        public static let notEmpty = Code(rawValue: -111)
        public static let sessionExpired = Code(rawValue: -112)
        public static let invalidCallback = Code(rawValue: -113)
        public static let invalidACL = Code(rawValue: -114)
        public static let authFailed = Code(rawValue: -115)
        public static let sessionMoved = Code(rawValue: -118)
        public static let notReadOnly = Code(rawValue: -119)
        public static let ephemeralOnLocalSession = Code(rawValue: -120)
        public static let noWatcher = Code(rawValue: -121)
        public static let requestTimeout = Code(rawValue: -122)
        public static let reconfigDisabled = Code(rawValue: -123)
        public static let sessionClosedRequireSaslAuth = Code(rawValue: -124)
        public static let quotaExceeded = Code(rawValue: -125)
        public static let throttledOp = Code(rawValue: -127)

        // Client-side codes (not sent by servers): positive values never collide with the server's.
        /// The client was closed by its owner.
        public static let clientClosed = Code(rawValue: 1001)
        /// A request is larger than the server accepts (`jute.maxbuffer`).
        public static let requestTooLarge = Code(rawValue: 1002)
        /// A path is not a valid znode path.
        public static let invalidPath = Code(rawValue: 1003)
        /// The server answered with bytes the client cannot decode.
        public static let protocolError = Code(rawValue: 1004)
        /// The server does not support an operation (e.g. container nodes on 3.4).
        public static let unsupportedByServer = Code(rawValue: 1005)

        public var name: String {
            switch self {
            case .ok: "ok"
            case .systemError: "systemError"
            case .runtimeInconsistency: "runtimeInconsistency"
            case .dataInconsistency: "dataInconsistency"
            case .connectionLoss: "connectionLoss"
            case .marshallingError: "marshallingError"
            case .unimplemented: "unimplemented"
            case .operationTimeout: "operationTimeout"
            case .badArguments: "badArguments"
            case .unknownSession: "unknownSession"
            case .newConfigNoQuorum: "newConfigNoQuorum"
            case .reconfigInProgress: "reconfigInProgress"
            case .apiError: "apiError"
            case .noNode: "noNode"
            case .noAuth: "noAuth"
            case .badVersion: "badVersion"
            case .noChildrenForEphemerals: "noChildrenForEphemerals"
            case .nodeExists: "nodeExists"
            case .notEmpty: "notEmpty"
            case .sessionExpired: "sessionExpired"
            case .invalidCallback: "invalidCallback"
            case .invalidACL: "invalidACL"
            case .authFailed: "authFailed"
            case .sessionMoved: "sessionMoved"
            case .notReadOnly: "notReadOnly"
            case .ephemeralOnLocalSession: "ephemeralOnLocalSession"
            case .noWatcher: "noWatcher"
            case .requestTimeout: "requestTimeout"
            case .reconfigDisabled: "reconfigDisabled"
            case .sessionClosedRequireSaslAuth: "sessionClosedRequireSaslAuth"
            case .quotaExceeded: "quotaExceeded"
            case .throttledOp: "throttledOp"
            case .clientClosed: "clientClosed"
            case .requestTooLarge: "requestTooLarge"
            case .invalidPath: "invalidPath"
            case .protocolError: "protocolError"
            case .unsupportedByServer: "unsupportedByServer"
            default: "error\(rawValue)"
            }
        }

        public var description: String { "\(name) (\(rawValue))" }

        /// What a person should do about this error, where there is something to say.
        public var advice: String? {
            switch self {
            case .connectionLoss: "no connection to a server; a request in flight may or may not have been applied: check, then retry"
            case .sessionExpired: "the session expired: ephemeral nodes and watches of the old session are gone"
            case .noAuth: "the session lacks permission: add the credentials with addAuth, or check the node's ACL"
            case .authFailed: "the server rejected the credentials"
            case .badVersion: "the node changed since it was read: read it again and retry with the new version"
            case .notEmpty: "delete the node's children first"
            case .noChildrenForEphemerals: "ephemeral nodes cannot have children"
            case .reconfigDisabled: "set reconfigEnabled=true on the servers to allow reconfig"
            case .requestTooLarge: "keep requests under the servers' jute.maxbuffer (default 1 MiB), or raise it on every server and in the client configuration"
            case .unimplemented, .unsupportedByServer: "the server's ZooKeeper version does not support this operation"
            case .notReadOnly: "the server is in read-only mode; writes need a server in a quorum"
            default: nil
            }
        }
    }

    public var code: Code
    /// The znode path the request named, as the caller wrote it.
    public var path: String?
    /// The server the client was talking to, when known.
    public var server: String?
    /// Extra context, e.g. which operation of a multi failed.
    public var message: String?

    public init(_ code: Code, path: String? = nil, server: String? = nil, message: String? = nil) {
        self.code = code
        self.path = path
        self.server = server
        self.message = message
    }

    public var description: String {
        var text = "ZooKeeper error \(code.name)"
        if let path { text += " at \(path)" }
        if let server { text += " (server \(server))" }
        if let message { text += ": \(message)" }
        if let advice = code.advice { text += " — \(advice)" }
        return text
    }
}
