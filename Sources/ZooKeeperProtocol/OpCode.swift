/// ZooKeeper request types (`ZooDefs.OpCode`).
public struct OpCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let notification = OpCode(rawValue: 0)
    public static let create = OpCode(rawValue: 1)
    public static let delete = OpCode(rawValue: 2)
    public static let exists = OpCode(rawValue: 3)
    public static let getData = OpCode(rawValue: 4)
    public static let setData = OpCode(rawValue: 5)
    public static let getACL = OpCode(rawValue: 6)
    public static let setACL = OpCode(rawValue: 7)
    public static let getChildren = OpCode(rawValue: 8)
    public static let sync = OpCode(rawValue: 9)
    public static let ping = OpCode(rawValue: 11)
    public static let getChildren2 = OpCode(rawValue: 12)
    public static let check = OpCode(rawValue: 13)
    public static let multi = OpCode(rawValue: 14)
    public static let create2 = OpCode(rawValue: 15)
    public static let reconfig = OpCode(rawValue: 16)
    public static let checkWatches = OpCode(rawValue: 17)
    public static let removeWatches = OpCode(rawValue: 18)
    public static let createContainer = OpCode(rawValue: 19)
    public static let deleteContainer = OpCode(rawValue: 20)
    public static let createTTL = OpCode(rawValue: 21)
    public static let multiRead = OpCode(rawValue: 22)
    public static let auth = OpCode(rawValue: 100)
    public static let setWatches = OpCode(rawValue: 101)
    public static let sasl = OpCode(rawValue: 102)
    public static let getEphemerals = OpCode(rawValue: 103)
    public static let getAllChildrenNumber = OpCode(rawValue: 104)
    public static let setWatches2 = OpCode(rawValue: 105)
    public static let addWatch = OpCode(rawValue: 106)
    public static let whoAmI = OpCode(rawValue: 107)
    public static let createSession = OpCode(rawValue: -10)
    public static let closeSession = OpCode(rawValue: -11)
    public static let error = OpCode(rawValue: -1)

    public var description: String {
        switch self {
        case .create: "create"
        case .delete: "delete"
        case .exists: "exists"
        case .getData: "getData"
        case .setData: "setData"
        case .getACL: "getACL"
        case .setACL: "setACL"
        case .getChildren: "getChildren"
        case .sync: "sync"
        case .ping: "ping"
        case .getChildren2: "getChildren2"
        case .check: "check"
        case .multi: "multi"
        case .multiRead: "multiRead"
        case .create2: "create2"
        case .reconfig: "reconfig"
        case .createContainer: "createContainer"
        case .createTTL: "createTTL"
        case .auth: "auth"
        case .setWatches: "setWatches"
        case .closeSession: "closeSession"
        default: "op\(rawValue)"
        }
    }
}

/// Reserved xids (request ids) the protocol uses for messages that are not ordinary requests.
public enum ReservedXid {
    /// A watch notification from the server.
    public static let notification: Int32 = -1
    public static let ping: Int32 = -2
    public static let auth: Int32 = -4
    public static let setWatches: Int32 = -8
}

/// How a znode is created (`CreateMode`).
public struct CreateMode: Sendable, Hashable, CustomStringConvertible {
    public var isEphemeral: Bool
    public var isSequential: Bool
    public var isContainer: Bool
    /// Time to live for TTL nodes (3.5.3+ with `zookeeper.extendedTypesEnabled=true`).
    public var ttl: Duration?

    public init(ephemeral: Bool = false, sequential: Bool = false, container: Bool = false, ttl: Duration? = nil) {
        self.isEphemeral = ephemeral
        self.isSequential = sequential
        self.isContainer = container
        self.ttl = ttl
    }

    public static let persistent = CreateMode()
    public static let persistentSequential = CreateMode(sequential: true)
    public static let ephemeral = CreateMode(ephemeral: true)
    public static let ephemeralSequential = CreateMode(ephemeral: true, sequential: true)
    public static let container = CreateMode(container: true)
    public static func persistentWithTTL(_ ttl: Duration) -> CreateMode { CreateMode(ttl: ttl) }
    public static func persistentSequentialWithTTL(_ ttl: Duration) -> CreateMode { CreateMode(sequential: true, ttl: ttl) }

    /// The flags value sent on the wire.
    public var flags: Int32 {
        if isContainer { return 4 }
        if ttl != nil { return isSequential ? 6 : 5 }
        switch (isEphemeral, isSequential) {
        case (false, false): return 0
        case (true, false): return 1
        case (false, true): return 2
        case (true, true): return 3
        }
    }

    public init?(flags: Int32) {
        switch flags {
        case 0: self = .persistent
        case 1: self = .ephemeral
        case 2: self = .persistentSequential
        case 3: self = .ephemeralSequential
        case 4: self = .container
        default: return nil
        }
    }

    public var description: String {
        if isContainer { return "container" }
        var text = isEphemeral ? "ephemeral" : "persistent"
        if isSequential { text += "-sequential" }
        if let ttl { text += " ttl=\(ttl)" }
        return text
    }
}
