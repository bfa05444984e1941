/// ZooKeeper request types (`ZooDefs.OpCode`).
package struct OpCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    package var rawValue: Int32
    package init(rawValue: Int32) { self.rawValue = rawValue }

    package static let notification = OpCode(rawValue: 0)
    package static let create = OpCode(rawValue: 1)
    package static let delete = OpCode(rawValue: 2)
    package static let exists = OpCode(rawValue: 3)
    package static let getData = OpCode(rawValue: 4)
    package static let setData = OpCode(rawValue: 5)
    package static let getACL = OpCode(rawValue: 6)
    package static let setACL = OpCode(rawValue: 7)
    package static let getChildren = OpCode(rawValue: 8)
    package static let sync = OpCode(rawValue: 9)
    package static let ping = OpCode(rawValue: 11)
    package static let getChildren2 = OpCode(rawValue: 12)
    package static let check = OpCode(rawValue: 13)
    package static let multi = OpCode(rawValue: 14)
    package static let create2 = OpCode(rawValue: 15)
    package static let reconfig = OpCode(rawValue: 16)
    package static let checkWatches = OpCode(rawValue: 17)
    package static let removeWatches = OpCode(rawValue: 18)
    package static let createContainer = OpCode(rawValue: 19)
    package static let deleteContainer = OpCode(rawValue: 20)
    package static let createTTL = OpCode(rawValue: 21)
    package static let multiRead = OpCode(rawValue: 22)
    package static let auth = OpCode(rawValue: 100)
    package static let setWatches = OpCode(rawValue: 101)
    package static let sasl = OpCode(rawValue: 102)
    package static let getEphemerals = OpCode(rawValue: 103)
    package static let getAllChildrenNumber = OpCode(rawValue: 104)
    package static let setWatches2 = OpCode(rawValue: 105)
    package static let addWatch = OpCode(rawValue: 106)
    package static let whoAmI = OpCode(rawValue: 107)
    package static let createSession = OpCode(rawValue: -10)
    package static let closeSession = OpCode(rawValue: -11)
    package static let error = OpCode(rawValue: -1)

    package var description: String {
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
package enum ReservedXid {
    /// A watch notification from the server.
    package static let notification: Int32 = -1
    package static let ping: Int32 = -2
    package static let auth: Int32 = -4
    package static let setWatches: Int32 = -8
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
    package var flags: Int32 {
        if isContainer { return 4 }
        if ttl != nil { return isSequential ? 6 : 5 }
        switch (isEphemeral, isSequential) {
        case (false, false): return 0
        case (true, false): return 1
        case (false, true): return 2
        case (true, true): return 3
        }
    }

    package init?(flags: Int32) {
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
