import NIOCore

/// Persistent, ephemeral, container or TTL, as read from a stat.
public enum NodeKind: Sendable, Hashable, Codable {
    case persistent
    case ephemeral(owner: Int64)
    case container
    case ttl(milliseconds: Int64)
}

/// A znode's metadata, as every read returns it.
public struct Stat: Sendable, Hashable, Codable {
    /// The zxid of the change that created the node.
    public var czxid: Zxid
    /// The zxid of the change that last modified the node's data.
    public var mzxid: Zxid
    /// Creation time, milliseconds since the epoch.
    public var ctime: Int64
    /// Last modification time, milliseconds since the epoch.
    public var mtime: Int64
    /// Number of changes to the data.
    public var version: Int32
    /// Number of changes to the children; the next sequential child takes its suffix from it.
    public var cversion: Int32
    /// Number of changes to the ACL.
    public var aversion: Int32
    /// The session that owns the node if it is ephemeral, else 0.
    public var ephemeralOwner: Int64
    public var dataLength: Int32
    public var numChildren: Int32
    /// The zxid of the change that last modified the children.
    public var pzxid: Zxid

    public init(
        czxid: Zxid = .zero, mzxid: Zxid = .zero, ctime: Int64 = 0, mtime: Int64 = 0,
        version: Int32 = 0, cversion: Int32 = 0, aversion: Int32 = 0, ephemeralOwner: Int64 = 0,
        dataLength: Int32 = 0, numChildren: Int32 = 0, pzxid: Zxid = .zero
    ) {
        self.czxid = czxid
        self.mzxid = mzxid
        self.ctime = ctime
        self.mtime = mtime
        self.version = version
        self.cversion = cversion
        self.aversion = aversion
        self.ephemeralOwner = ephemeralOwner
        self.dataLength = dataLength
        self.numChildren = numChildren
        self.pzxid = pzxid
    }

    /// What kind of node this is. Inside the server (snapshots, transaction logs) `ephemeralOwner`
    /// also marks container nodes (`Long.MIN_VALUE`) and TTL nodes (top byte 0xFF, the TTL in
    /// milliseconds below it), as `EphemeralType` encodes them. Note that servers hide both from
    /// clients (`DataNode.getClientEphemeralOwner` reports 0), so a stat read over the wire shows
    /// containers and TTL nodes as persistent.
    public var kind: NodeKind {
        if ephemeralOwner == 0 { return .persistent }
        if ephemeralOwner == Int64.min { return .container }
        if UInt64(bitPattern: ephemeralOwner) >> 56 == 0xFF {
            return .ttl(milliseconds: Int64(bitPattern: UInt64(bitPattern: ephemeralOwner) & 0x00FF_FFFF_FFFF_FFFF))
        }
        return .ephemeral(owner: ephemeralOwner)
    }

    /// The node belongs to a session and goes when the session ends.
    public var isEphemeral: Bool {
        if case .ephemeral = kind { return true }
        return false
    }

    package static let encodedSize = 68

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(czxid.rawValue)
        buffer.writeInteger(mzxid.rawValue)
        buffer.writeInteger(ctime)
        buffer.writeInteger(mtime)
        buffer.writeInteger(version)
        buffer.writeInteger(cversion)
        buffer.writeInteger(aversion)
        buffer.writeInteger(ephemeralOwner)
        buffer.writeInteger(dataLength)
        buffer.writeInteger(numChildren)
        buffer.writeInteger(pzxid.rawValue)
    }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> Stat {
        guard buffer.readableBytes >= encodedSize else {
            throw JuteDecodingError(record: "Stat", field: "*", reason: "needs \(encodedSize) bytes, \(buffer.readableBytes) left")
        }
        return Stat(
            czxid: Zxid(try buffer.readJuteLong("Stat", "czxid")),
            mzxid: Zxid(try buffer.readJuteLong("Stat", "mzxid")),
            ctime: try buffer.readJuteLong("Stat", "ctime"),
            mtime: try buffer.readJuteLong("Stat", "mtime"),
            version: try buffer.readJuteInt("Stat", "version"),
            cversion: try buffer.readJuteInt("Stat", "cversion"),
            aversion: try buffer.readJuteInt("Stat", "aversion"),
            ephemeralOwner: try buffer.readJuteLong("Stat", "ephemeralOwner"),
            dataLength: try buffer.readJuteInt("Stat", "dataLength"),
            numChildren: try buffer.readJuteInt("Stat", "numChildren"),
            pzxid: Zxid(try buffer.readJuteLong("Stat", "pzxid"))
        )
    }
}
