import NIOCore

/// ZooKeeper permissions: read, write, create, delete, admin.
public struct Permissions: OptionSet, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let read = Permissions(rawValue: 1 << 0)
    public static let write = Permissions(rawValue: 1 << 1)
    public static let create = Permissions(rawValue: 1 << 2)
    public static let delete = Permissions(rawValue: 1 << 3)
    public static let admin = Permissions(rawValue: 1 << 4)
    public static let all: Permissions = [.read, .write, .create, .delete, .admin]

    /// The letters `zkCli.sh` prints: `cdrwa`.
    public var description: String {
        var text = ""
        if contains(.create) { text += "c" }
        if contains(.delete) { text += "d" }
        if contains(.read) { text += "r" }
        if contains(.write) { text += "w" }
        if contains(.admin) { text += "a" }
        return text
    }
}

/// An identity in an ACL: a scheme (`world`, `digest`, `ip`, `auth`, `sasl`, `x509`) and an id.
public struct ACLIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public var scheme: String
    public var id: String

    public init(scheme: String, id: String) {
        self.scheme = scheme
        self.id = id
    }

    public static let anyone = ACLIdentity(scheme: "world", id: "anyone")
    /// The identities the session has authenticated as (only valid when setting ACLs).
    public static let creator = ACLIdentity(scheme: "auth", id: "")

    public var description: String { "\(scheme):\(id)" }
}

/// One entry of a znode's access control list.
public struct ACL: Sendable, Hashable, Codable, CustomStringConvertible {
    public var permissions: Permissions
    public var identity: ACLIdentity

    public init(permissions: Permissions, identity: ACLIdentity) {
        self.permissions = permissions
        self.identity = identity
    }

    /// `world:anyone` with every permission: what most clients use.
    public static let openUnsafe: [ACL] = [ACL(permissions: .all, identity: .anyone)]
    /// `world:anyone` may read.
    public static let readUnsafe: [ACL] = [ACL(permissions: .read, identity: .anyone)]
    /// Every permission for the identities the session has authenticated as.
    public static let creatorAll: [ACL] = [ACL(permissions: .all, identity: .creator)]

    public var description: String { "\(identity.scheme):\(identity.id):\(permissions)" }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(permissions.rawValue)
        buffer.writeJuteString(identity.scheme)
        buffer.writeJuteString(identity.id)
    }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> ACL {
        let perms = try buffer.readJuteInt("ACL", "perms")
        let scheme = try buffer.readJuteString("ACL", "id.scheme") ?? ""
        let id = try buffer.readJuteString("ACL", "id.id") ?? ""
        return ACL(permissions: Permissions(rawValue: perms), identity: ACLIdentity(scheme: scheme, id: id))
    }
}

extension ByteBuffer {
    package mutating func writeACLs(_ acls: [ACL]) {
        writeInteger(Int32(acls.count))
        for acl in acls { acl.encode(into: &self) }
    }

    package mutating func readACLs(_ record: String) throws(JuteDecodingError) -> [ACL] {
        let count = try readJuteInt(record, "acl")
        if count <= 0 { return [] }
        guard Int(count) <= readableBytes / 12 else {
            throw JuteDecodingError(record: record, field: "acl", reason: "vector of \(count) ACLs cannot fit in \(readableBytes) bytes")
        }
        var acls: [ACL] = []
        acls.reserveCapacity(Int(count))
        for _ in 0..<count { acls.append(try ACL.decode(from: &self)) }
        return acls
    }
}
