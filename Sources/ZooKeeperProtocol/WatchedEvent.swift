import NIOCore

/// What happened to a watched node (`Watcher.Event.EventType`).
public struct WatchEventType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let none = WatchEventType(rawValue: -1)
    public static let nodeCreated = WatchEventType(rawValue: 1)
    public static let nodeDeleted = WatchEventType(rawValue: 2)
    public static let nodeDataChanged = WatchEventType(rawValue: 3)
    public static let nodeChildrenChanged = WatchEventType(rawValue: 4)
    public static let dataWatchRemoved = WatchEventType(rawValue: 5)
    public static let childWatchRemoved = WatchEventType(rawValue: 6)
    public static let persistentWatchRemoved = WatchEventType(rawValue: 7)

    public var description: String {
        switch self {
        case .none: "none"
        case .nodeCreated: "nodeCreated"
        case .nodeDeleted: "nodeDeleted"
        case .nodeDataChanged: "nodeDataChanged"
        case .nodeChildrenChanged: "nodeChildrenChanged"
        case .dataWatchRemoved: "dataWatchRemoved"
        case .childWatchRemoved: "childWatchRemoved"
        case .persistentWatchRemoved: "persistentWatchRemoved"
        default: "event\(rawValue)"
        }
    }
}

/// The session state a notification reports (`Watcher.Event.KeeperState`).
public struct KeeperState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let disconnected = KeeperState(rawValue: 0)
    public static let syncConnected = KeeperState(rawValue: 3)
    public static let authFailed = KeeperState(rawValue: 4)
    public static let connectedReadOnly = KeeperState(rawValue: 5)
    public static let saslAuthenticated = KeeperState(rawValue: 6)
    public static let expired = KeeperState(rawValue: -112)
    public static let closed = KeeperState(rawValue: 7)

    public var description: String {
        switch self {
        case .disconnected: "disconnected"
        case .syncConnected: "syncConnected"
        case .authFailed: "authFailed"
        case .connectedReadOnly: "connectedReadOnly"
        case .saslAuthenticated: "saslAuthenticated"
        case .expired: "expired"
        case .closed: "closed"
        default: "state\(rawValue)"
        }
    }
}

/// A watch notification (`WatcherEvent`), sent by the server with xid -1.
package struct WatcherEvent: Sendable, Hashable {
    package var type: WatchEventType
    package var state: KeeperState
    package var path: String

    package init(type: WatchEventType, state: KeeperState, path: String) {
        self.type = type
        self.state = state
        self.path = path
    }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(state.rawValue)
        buffer.writeJuteString(path)
    }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> WatcherEvent {
        WatcherEvent(
            type: WatchEventType(rawValue: try buffer.readJuteInt("WatcherEvent", "type")),
            state: KeeperState(rawValue: try buffer.readJuteInt("WatcherEvent", "state")),
            path: try buffer.readJuteString("WatcherEvent", "path") ?? ""
        )
    }
}
