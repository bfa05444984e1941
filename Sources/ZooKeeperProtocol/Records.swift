import NIOCore

// One type per wire record. Requests encode into a buffer; responses decode from one.

/// A request body with the opcode that carries it.
package protocol ZooKeeperRequestRecord: Sendable {
    var opCode: OpCode { get }
    func encode(into buffer: inout ByteBuffer)
}

/// A response body.
package protocol ZooKeeperResponseRecord: Sendable {
    static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> Self
}

// MARK: - Session establishment

/// The first message of every connection (`ConnectRequest`).
package struct ConnectRequest: Sendable, Hashable {
    package var protocolVersion: Int32
    package var lastZxidSeen: Zxid
    /// Requested session timeout, milliseconds.
    package var timeout: Int32
    /// 0 for a new session; the id of the session to resume otherwise.
    package var sessionID: Int64
    package var password: [UInt8]
    /// Whether the client accepts a read-only server (a server not in a quorum).
    package var readOnly: Bool

    package init(protocolVersion: Int32 = 0, lastZxidSeen: Zxid, timeout: Int32, sessionID: Int64, password: [UInt8], readOnly: Bool) {
        self.protocolVersion = protocolVersion
        self.lastZxidSeen = lastZxidSeen
        self.timeout = timeout
        self.sessionID = sessionID
        self.password = password
        self.readOnly = readOnly
    }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(protocolVersion)
        buffer.writeInteger(lastZxidSeen.rawValue)
        buffer.writeInteger(timeout)
        buffer.writeInteger(sessionID)
        buffer.writeJuteBuffer(password.isEmpty ? [UInt8](repeating: 0, count: 16) : password)
        buffer.writeJuteBool(readOnly)
    }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> ConnectRequest {
        let version = try buffer.readJuteInt("ConnectRequest", "protocolVersion")
        let zxid = try buffer.readJuteLong("ConnectRequest", "lastZxidSeen")
        let timeout = try buffer.readJuteInt("ConnectRequest", "timeOut")
        let session = try buffer.readJuteLong("ConnectRequest", "sessionId")
        let password = try buffer.readJuteBytes("ConnectRequest", "passwd") ?? []
        let readOnly = buffer.readableBytes > 0 ? try buffer.readJuteBool("ConnectRequest", "readOnly") : false
        return ConnectRequest(protocolVersion: version, lastZxidSeen: Zxid(zxid), timeout: timeout, sessionID: session, password: password, readOnly: readOnly)
    }
}

/// The server's answer to `ConnectRequest`. A timeout of 0 or less means the session expired.
package struct ConnectResponse: Sendable, Hashable {
    package var protocolVersion: Int32
    /// Negotiated session timeout, milliseconds.
    package var timeout: Int32
    package var sessionID: Int64
    package var password: [UInt8]
    /// The server is not in a quorum and serves reads only.
    package var readOnly: Bool

    package init(protocolVersion: Int32 = 0, timeout: Int32, sessionID: Int64, password: [UInt8], readOnly: Bool = false) {
        self.protocolVersion = protocolVersion
        self.timeout = timeout
        self.sessionID = sessionID
        self.password = password
        self.readOnly = readOnly
    }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(protocolVersion)
        buffer.writeInteger(timeout)
        buffer.writeInteger(sessionID)
        buffer.writeJuteBuffer(password)
        buffer.writeJuteBool(readOnly)
    }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> ConnectResponse {
        let version = try buffer.readJuteInt("ConnectResponse", "protocolVersion")
        let timeout = try buffer.readJuteInt("ConnectResponse", "timeOut")
        let session = try buffer.readJuteLong("ConnectResponse", "sessionId")
        let password = try buffer.readJuteBytes("ConnectResponse", "passwd") ?? []
        // Old servers omit the read-only flag.
        let readOnly = buffer.readableBytes > 0 ? try buffer.readJuteBool("ConnectResponse", "readOnly") : false
        return ConnectResponse(protocolVersion: version, timeout: timeout, sessionID: session, password: password, readOnly: readOnly)
    }
}

// MARK: - Headers

package struct RequestHeader: Sendable, Hashable {
    package var xid: Int32
    package var opCode: OpCode

    package init(xid: Int32, opCode: OpCode) {
        self.xid = xid
        self.opCode = opCode
    }

    package static let encodedSize = 8

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(xid)
        buffer.writeInteger(opCode.rawValue)
    }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> RequestHeader {
        RequestHeader(
            xid: try buffer.readJuteInt("RequestHeader", "xid"),
            opCode: OpCode(rawValue: try buffer.readJuteInt("RequestHeader", "type"))
        )
    }
}

package struct ReplyHeader: Sendable, Hashable {
    package var xid: Int32
    /// The last zxid the server had committed when it answered.
    package var zxid: Zxid
    package var error: ZooKeeperError.Code

    package init(xid: Int32, zxid: Zxid, error: ZooKeeperError.Code) {
        self.xid = xid
        self.zxid = zxid
        self.error = error
    }

    package static let encodedSize = 16

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(xid)
        buffer.writeInteger(zxid.rawValue)
        buffer.writeInteger(error.rawValue)
    }

    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> ReplyHeader {
        ReplyHeader(
            xid: try buffer.readJuteInt("ReplyHeader", "xid"),
            zxid: Zxid(try buffer.readJuteLong("ReplyHeader", "zxid")),
            error: ZooKeeperError.Code(rawValue: try buffer.readJuteInt("ReplyHeader", "err"))
        )
    }
}

// MARK: - Requests

/// `CreateRequest` (create, create2, createContainer) and `CreateTTLRequest` (createTTL).
public struct CreateRequest: ZooKeeperRequestRecord, Hashable {
    public var path: String
    public var data: [UInt8]
    public var acl: [ACL]
    public var mode: CreateMode
    /// Ask for the created node's stat (opcode create2, 3.5+).
    public var returnStat: Bool

    public init(path: String, data: [UInt8], acl: [ACL], mode: CreateMode, returnStat: Bool = false) {
        self.path = path
        self.data = data
        self.acl = acl
        self.mode = mode
        self.returnStat = returnStat
    }

    package var opCode: OpCode {
        if mode.isContainer { return .createContainer }
        if mode.ttl != nil { return .createTTL }
        return returnStat ? .create2 : .create
    }

    /// Whether the response is `Create2Response` (path and stat) rather than `CreateResponse`.
    package var respondsWithStat: Bool { opCode != .create }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(path)
        buffer.writeJuteBuffer(data)
        buffer.writeACLs(acl)
        buffer.writeInteger(mode.flags)
        if let ttl = mode.ttl {
            buffer.writeInteger(ttl.milliseconds)
        }
    }

    package static func decode(from buffer: inout ByteBuffer, opCode: OpCode) throws(JuteDecodingError) -> CreateRequest {
        let path = try buffer.readJuteString("CreateRequest", "path") ?? ""
        let data = try buffer.readJuteBytes("CreateRequest", "data") ?? []
        let acl = try buffer.readACLs("CreateRequest")
        let flags = try buffer.readJuteInt("CreateRequest", "flags")
        var mode = CreateMode(flags: flags) ?? CreateMode(sequential: flags == 6)
        if opCode == .createTTL {
            mode.ttl = .milliseconds(try buffer.readJuteLong("CreateTTLRequest", "ttl"))
        }
        return CreateRequest(path: path, data: data, acl: acl, mode: mode, returnStat: opCode == .create2)
    }
}

public struct DeleteRequest: ZooKeeperRequestRecord, Hashable {
    public var path: String
    /// -1 deletes whatever the version.
    public var version: Int32

    public init(path: String, version: Int32 = -1) {
        self.path = path
        self.version = version
    }

    package var opCode: OpCode { .delete }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(path)
        buffer.writeInteger(version)
    }
}

/// `ExistsRequest`, `GetDataRequest`, `GetChildrenRequest`, `GetChildren2Request`: a path and a watch flag.
package struct PathWatchRequest: ZooKeeperRequestRecord, Hashable {
    package var opCode: OpCode
    package var path: String
    package var watch: Bool

    package init(_ opCode: OpCode, path: String, watch: Bool) {
        self.opCode = opCode
        self.path = path
        self.watch = watch
    }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(path)
        buffer.writeJuteBool(watch)
    }
}

/// `GetACLRequest`, `SyncRequest`: a path alone.
package struct PathRequest: ZooKeeperRequestRecord, Hashable {
    package var opCode: OpCode
    package var path: String

    package init(_ opCode: OpCode, path: String) {
        self.opCode = opCode
        self.path = path
    }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(path)
    }
}

public struct SetDataRequest: ZooKeeperRequestRecord, Hashable {
    public var path: String
    public var data: [UInt8]
    public var version: Int32

    public init(path: String, data: [UInt8], version: Int32 = -1) {
        self.path = path
        self.data = data
        self.version = version
    }

    package var opCode: OpCode { .setData }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(path)
        buffer.writeJuteBuffer(data)
        buffer.writeInteger(version)
    }
}

package struct SetACLRequest: ZooKeeperRequestRecord, Hashable {
    package var path: String
    package var acl: [ACL]
    package var version: Int32

    package init(path: String, acl: [ACL], version: Int32 = -1) {
        self.path = path
        self.acl = acl
        self.version = version
    }

    package var opCode: OpCode { .setACL }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(path)
        buffer.writeACLs(acl)
        buffer.writeInteger(version)
    }
}

public struct CheckVersionRequest: ZooKeeperRequestRecord, Hashable {
    public var path: String
    public var version: Int32

    public init(path: String, version: Int32) {
        self.path = path
        self.version = version
    }

    package var opCode: OpCode { .check }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(path)
        buffer.writeInteger(version)
    }
}

/// `AuthPacket`, sent with xid -4.
package struct AuthRequest: ZooKeeperRequestRecord, Hashable {
    package var type: Int32
    package var scheme: String
    package var auth: [UInt8]

    package init(type: Int32 = 0, scheme: String, auth: [UInt8]) {
        self.type = type
        self.scheme = scheme
        self.auth = auth
    }

    package var opCode: OpCode { .auth }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(type)
        buffer.writeJuteString(scheme)
        buffer.writeJuteBuffer(auth)
    }
}

/// `SetWatches`, sent with xid -8 after a reconnect to re-arm the session's watches.
package struct SetWatchesRequest: ZooKeeperRequestRecord, Hashable {
    package var relativeZxid: Zxid
    package var dataWatches: [String]
    package var existWatches: [String]
    package var childWatches: [String]

    package init(relativeZxid: Zxid, dataWatches: [String], existWatches: [String], childWatches: [String]) {
        self.relativeZxid = relativeZxid
        self.dataWatches = dataWatches
        self.existWatches = existWatches
        self.childWatches = childWatches
    }

    package var opCode: OpCode { .setWatches }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(relativeZxid.rawValue)
        buffer.writeJuteStrings(dataWatches)
        buffer.writeJuteStrings(existWatches)
        buffer.writeJuteStrings(childWatches)
    }
}

/// `ReconfigRequest` (3.5+): incremental (joining/leaving) or bulk (newMembers).
package struct ReconfigRequest: ZooKeeperRequestRecord, Hashable {
    package var joiningServers: String?
    package var leavingServers: String?
    package var newMembers: String?
    /// The config version the change is based on; -1 for any.
    package var currentConfigID: Int64

    package init(joiningServers: String?, leavingServers: String?, newMembers: String?, currentConfigID: Int64 = -1) {
        self.joiningServers = joiningServers
        self.leavingServers = leavingServers
        self.newMembers = newMembers
        self.currentConfigID = currentConfigID
    }

    package var opCode: OpCode { .reconfig }

    package func encode(into buffer: inout ByteBuffer) {
        buffer.writeJuteString(joiningServers)
        buffer.writeJuteString(leavingServers)
        buffer.writeJuteString(newMembers)
        buffer.writeInteger(currentConfigID)
    }
}

/// A request with no body (ping, closeSession).
package struct EmptyRequest: ZooKeeperRequestRecord, Hashable {
    package var opCode: OpCode
    package init(_ opCode: OpCode) { self.opCode = opCode }
    package func encode(into buffer: inout ByteBuffer) {}
}

// MARK: - Responses

package struct EmptyResponse: ZooKeeperResponseRecord, Hashable {
    package init() {}
    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> EmptyResponse { EmptyResponse() }
}

/// `CreateResponse` and `SyncResponse`: a path.
package struct PathResponse: ZooKeeperResponseRecord, Hashable {
    package var path: String
    package init(path: String) { self.path = path }
    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> PathResponse {
        PathResponse(path: try buffer.readJuteString("PathResponse", "path") ?? "")
    }
}

package struct Create2Response: ZooKeeperResponseRecord, Hashable {
    package var path: String
    package var stat: Stat
    package init(path: String, stat: Stat) {
        self.path = path
        self.stat = stat
    }
    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> Create2Response {
        Create2Response(path: try buffer.readJuteString("Create2Response", "path") ?? "", stat: try Stat.decode(from: &buffer))
    }
}

/// `ExistsResponse`, `SetDataResponse`, `SetACLResponse`: a stat.
package struct StatResponse: ZooKeeperResponseRecord, Hashable {
    package var stat: Stat
    package init(stat: Stat) { self.stat = stat }
    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> StatResponse {
        StatResponse(stat: try Stat.decode(from: &buffer))
    }
}

/// `GetDataResponse`, also the answer to reconfig.
package struct GetDataResponse: ZooKeeperResponseRecord, Hashable {
    package var data: [UInt8]
    package var stat: Stat
    package init(data: [UInt8], stat: Stat) {
        self.data = data
        self.stat = stat
    }
    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> GetDataResponse {
        GetDataResponse(data: try buffer.readJuteBytes("GetDataResponse", "data") ?? [], stat: try Stat.decode(from: &buffer))
    }
}

package struct GetACLResponse: ZooKeeperResponseRecord, Hashable {
    package var acl: [ACL]
    package var stat: Stat
    package init(acl: [ACL], stat: Stat) {
        self.acl = acl
        self.stat = stat
    }
    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> GetACLResponse {
        GetACLResponse(acl: try buffer.readACLs("GetACLResponse"), stat: try Stat.decode(from: &buffer))
    }
}

package struct GetChildrenResponse: ZooKeeperResponseRecord, Hashable {
    package var children: [String]
    package init(children: [String]) { self.children = children }
    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> GetChildrenResponse {
        GetChildrenResponse(children: try buffer.readJuteStrings("GetChildrenResponse", "children"))
    }
}

package struct GetChildren2Response: ZooKeeperResponseRecord, Hashable {
    package var children: [String]
    package var stat: Stat
    package init(children: [String], stat: Stat) {
        self.children = children
        self.stat = stat
    }
    package static func decode(from buffer: inout ByteBuffer) throws(JuteDecodingError) -> GetChildren2Response {
        GetChildren2Response(
            children: try buffer.readJuteStrings("GetChildren2Response", "children"),
            stat: try Stat.decode(from: &buffer)
        )
    }
}
