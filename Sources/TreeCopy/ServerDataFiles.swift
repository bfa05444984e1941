import NIOCore
import ZooKeeper
import ZooKeeperProtocol

/// The container and TTL nodes of a tree, read from a server's own files.
///
/// Servers hide both kinds from clients (`DataNode.getClientEphemeralOwner` reports 0), so a
/// copy that reads the tree over the client protocol sees them as persistent. A server's
/// snapshot and transaction logs keep the real `ephemeralOwner` (`EphemeralType`: the container
/// marker `Long.MIN_VALUE`, TTL nodes with the top byte 0xFF) and the create transactions'
/// types, so the copier can create them as what they are.
public struct NodeTypeMap: Sendable, Hashable {
    /// Containers and TTL nodes by absolute path. Every other node is persistent or ephemeral,
    /// and the client protocol tells those apart by itself.
    public var kinds: [String: NodeKind]
    /// The newest transaction the files hold. A node created after it is not in this map.
    public var zxid: Zxid
    /// Where the files were read (host and directory), for messages.
    public var origin: String

    public init(kinds: [String: NodeKind] = [:], zxid: Zxid = .zero, origin: String) {
        self.kinds = kinds
        self.zxid = zxid
        self.origin = origin
    }

    /// The kind the files give a node the client protocol shows as persistent: container or TTL,
    /// or nil when the files say nothing else.
    public func kind(of path: String) -> NodeKind? { kinds[path] }

    public var containers: Int { kinds.values.filter { $0 == .container }.count }
    public var ttlNodes: Int { kinds.count - containers }
}

/// A server's snapshot or transaction log could not be read.
public struct ServerDataFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var reason: String
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { "cannot read \(file): \(reason)" }
}

/// Reads ZooKeeper's on-disk formats (`FileSnap`, `FileTxnLog`) as far as node types need.
///
/// A snapshot is a `FileHeader` ("ZKSN", version, dbid), the sessions (count, then id and
/// timeout each), the ACL cache (count, then a long key and an ACL vector each), then
/// `path`/`DataNode` pairs (data buffer, ACL key, `StatPersisted`) until the path "/". A
/// transaction log is a `FileHeader` ("ZKLG") and entries of a CRC, a length-prefixed
/// `TxnHeader` + transaction record (+ a digest from 3.6 on), and the end-of-record byte 'B',
/// followed by the zeros the server preallocates.
public enum ServerDataFiles {
    static let snapshotMagic: Int32 = 0x5A4B_534E  // "ZKSN"
    static let logMagic: Int32 = 0x5A4B_4C47  // "ZKLG"

    /// The files that hold the tree's newest state: the newest snapshot (`snapshot.<zxid>`),
    /// the log it falls into and every later log (`log.<first zxid>`), in order. Compressed
    /// snapshots (`.gz`, `.snappy`) are not read; the logs then start from the beginning.
    public static func select(files: [String]) -> (snapshot: String?, logs: [String]) {
        func zxid(_ name: String, prefix: String) -> UInt64? {
            guard name.hasPrefix(prefix) else { return nil }
            return UInt64(name.dropFirst(prefix.count), radix: 16)
        }
        let snapshots = files.compactMap { name in zxid(name, prefix: "snapshot.").map { (name, $0) } }.sorted { $0.1 < $1.1 }
        let logs = files.compactMap { name in zxid(name, prefix: "log.").map { (name, $0) } }.sorted { $0.1 < $1.1 }
        guard let newest = snapshots.last else { return (nil, logs.map(\.0)) }
        // The log holding the txn after the snapshot starts at or before it.
        let firstIndex = logs.lastIndex { $0.1 <= newest.1 + 1 } ?? 0
        return (newest.0, logs.isEmpty ? [] : logs[firstIndex...].map(\.0))
    }

    /// The node types after a snapshot and the transactions logged after it.
    public static func nodeTypes(snapshot: (name: String, bytes: [UInt8])?, logs: [(name: String, bytes: [UInt8])], origin: String) throws -> NodeTypeMap {
        var kinds: [String: NodeKind] = [:]
        var last = Zxid.zero
        if let snapshot {
            guard let zxid = UInt64(snapshot.name.split(separator: "/").last?.dropFirst("snapshot.".count) ?? "", radix: 16) else {
                throw ServerDataFileError(file: snapshot.name, reason: "the name is not snapshot.<hex zxid>")
            }
            last = Zxid(Int64(bitPattern: zxid))
            kinds = try readSnapshot(snapshot.bytes, file: snapshot.name)
        }
        // The snapshot is fuzzy: transactions after its zxid may be in it already. Replaying
        // them is harmless, since a create or a delete sets a path's kind outright.
        let snapshotZxid = last
        for log in logs {
            let newest = try replayLog(log.bytes, file: log.name, after: snapshotZxid, into: &kinds)
            last = max(last, newest)
        }
        return NodeTypeMap(kinds: kinds, zxid: last, origin: origin)
    }

    /// Reads the node types from a server's `dataDir` (snapshots) and `dataLogDir` (logs; the
    /// `dataDir` when nil), through whatever reaches that server's files: `list` names the
    /// files of a directory, `read` returns a file's bytes.
    public static func read(
        dataDir: String, dataLogDir: String?, origin: String,
        list: (String) async throws -> [String], read: (String) async throws -> [UInt8]?
    ) async throws -> NodeTypeMap {
        let snapshotDir = dataDir.trimmingSuffix("/") + "/version-2"
        let logDir = (dataLogDir ?? dataDir).trimmingSuffix("/") + "/version-2"
        let snapshotNames = try await list(snapshotDir).filter { $0.hasPrefix("snapshot.") }
        let logNames = try await list(logDir).filter { $0.hasPrefix("log.") }
        let chosen = select(files: snapshotNames + logNames)
        // A compressed snapshot newer than every plain one holds what the logs after the plain one
        // may no longer show (old logs are purged): reading around it would miss nodes silently.
        let newestPlain = chosen.snapshot.flatMap { UInt64($0.dropFirst("snapshot.".count), radix: 16) } ?? 0
        if let compressed = snapshotNames.first(where: { name in
            let parts = name.dropFirst("snapshot.".count).split(separator: ".")
            return parts.count == 2 && (parts[1] == "gz" || parts[1] == "snappy") && (UInt64(parts[0], radix: 16) ?? 0) > newestPlain
        }) {
            throw ServerDataFileError(
                file: snapshotDir + "/" + compressed,
                reason: "the newest snapshot is compressed (snapshot.compression.method), which Mitosis does not read; containers and TTL nodes cannot be read from this server's files")
        }
        guard chosen.snapshot != nil || !chosen.logs.isEmpty else {
            throw ServerDataFileError(file: snapshotDir, reason: "no snapshot and no transaction log there (is this the server's dataDir?)")
        }
        var snapshot: (name: String, bytes: [UInt8])? = nil
        if let name = chosen.snapshot {
            guard let bytes = try await read(snapshotDir + "/" + name) else { throw ServerDataFileError(file: snapshotDir + "/" + name, reason: "it vanished while being read (the server removed an old snapshot); read again") }
            snapshot = (snapshotDir + "/" + name, bytes)
        }
        var logs: [(name: String, bytes: [UInt8])] = []
        for name in chosen.logs {
            guard let bytes = try await read(logDir + "/" + name) else { throw ServerDataFileError(file: logDir + "/" + name, reason: "it vanished while being read (the server purged an old log); read again") }
            logs.append((logDir + "/" + name, bytes))
        }
        return try nodeTypes(snapshot: snapshot, logs: logs, origin: origin)
    }

    /// The containers and TTL nodes in a snapshot.
    public static func readSnapshot(_ bytes: [UInt8], file: String) throws -> [String: NodeKind] {
        var buffer = ByteBuffer(bytes: bytes)
        do {
            try readHeader(&buffer, magic: snapshotMagic, file: file, name: "snapshot", note: "; compressed snapshots (snapshot.compression.method) are not read")
            let sessions = try buffer.readJuteInt("snapshot", "count")
            for _ in 0..<max(sessions, 0) {
                _ = try buffer.readJuteLong("session", "id")
                _ = try buffer.readJuteInt("session", "timeout")
            }
            let acls = try buffer.readJuteInt("ACLCache", "map")
            for _ in 0..<max(acls, 0) {
                _ = try buffer.readJuteLong("ACLCache", "long")
                _ = try buffer.readACLs("ACLCache")
            }
            var kinds: [String: NodeKind] = [:]
            while true {
                guard let path = try buffer.readJuteString("DataTree", "path") else {
                    throw ServerDataFileError(file: file, reason: "a null node path at byte \(buffer.readerIndex)")
                }
                if path == "/" { break }
                try buffer.skipJuteBuffer("DataNode", "data")
                _ = try buffer.readJuteLong("DataNode", "acl")
                for field in ["czxid", "mzxid", "ctime", "mtime"] { _ = try buffer.readJuteLong("StatPersisted", field) }
                for field in ["version", "cversion", "aversion"] { _ = try buffer.readJuteInt("StatPersisted", field) }
                let owner = try buffer.readJuteLong("StatPersisted", "ephemeralOwner")
                _ = try buffer.readJuteLong("StatPersisted", "pzxid")
                switch Stat(ephemeralOwner: owner).kind {
                case .container, .ttl: kinds[path] = Stat(ephemeralOwner: owner).kind
                case .persistent, .ephemeral: break
                }
            }
            return kinds
        } catch let error as JuteDecodingError {
            throw ServerDataFileError(file: file, reason: "\(error) at byte \(buffer.readerIndex) (a snapshot cut short, or not a snapshot)")
        }
    }

    enum TxnType: Int32 {
        case create = 1, delete = 2, multi = 14, create2 = 15, createContainer = 19, deleteContainer = 20, createTTL = 21
    }

    /// Applies a log's creates and deletes after `after` to `kinds`; returns its newest zxid.
    static func replayLog(_ bytes: [UInt8], file: String, after: Zxid, into kinds: inout [String: NodeKind]) throws -> Zxid {
        var buffer = ByteBuffer(bytes: bytes)
        var newest = Zxid.zero
        do {
            try readHeader(&buffer, magic: logMagic, file: file, name: "transaction log", note: "")
            // Entries end at the preallocated zeros, or at an entry the server was still writing.
            while buffer.readableBytes >= 12 {
                _ = try buffer.readJuteLong("TxnEntry", "crc")
                let length = try buffer.readJuteInt("TxnEntry", "txnEntry")
                guard length > 0, var entry = buffer.readSlice(length: Int(length)),
                    buffer.readInteger(as: UInt8.self) == 0x42
                else { break }
                _ = try entry.readJuteLong("TxnHeader", "clientId")
                _ = try entry.readJuteInt("TxnHeader", "cxid")
                let zxid = Zxid(try entry.readJuteLong("TxnHeader", "zxid"))
                _ = try entry.readJuteLong("TxnHeader", "time")
                let type = try entry.readJuteInt("TxnHeader", "type")
                newest = max(newest, zxid)
                guard UInt64(bitPattern: zxid.rawValue) > UInt64(bitPattern: after.rawValue) else { continue }
                try apply(type: type, record: &entry, to: &kinds)
            }
        } catch let error as JuteDecodingError {
            throw ServerDataFileError(file: file, reason: "\(error) at byte \(buffer.readerIndex)")
        }
        return newest
    }

    static func apply(type: Int32, record: inout ByteBuffer, to kinds: inout [String: NodeKind]) throws(JuteDecodingError) {
        guard let type = TxnType(rawValue: type) else { return }
        switch type {
        case .create, .create2, .delete, .deleteContainer:
            // CreateTxn and DeleteTxn both begin with the path: the node is persistent or
            // ephemeral now, or gone; either way no longer a container or TTL node.
            if let path = try record.readJuteString("Txn", "path") { kinds[path] = nil }
        case .createContainer:
            if let path = try record.readJuteString("CreateContainerTxn", "path") { kinds[path] = .container }
        case .createTTL:
            let path = try record.readJuteString("CreateTTLTxn", "path")
            try record.skipJuteBuffer("CreateTTLTxn", "data")
            _ = try record.readACLs("CreateTTLTxn")
            _ = try record.readJuteInt("CreateTTLTxn", "parentCVersion")
            let ttl = try record.readJuteLong("CreateTTLTxn", "ttl")
            if let path { kinds[path] = .ttl(milliseconds: ttl) }
        case .multi:
            let count = try record.readJuteInt("MultiTxn", "txns")
            for _ in 0..<max(count, 0) {
                let subtype = try record.readJuteInt("Txn", "type")
                let length = try record.readJuteInt("Txn", "data")
                guard length >= 0, var sub = record.readSlice(length: Int(length)) else {
                    throw JuteDecodingError(record: "Txn", field: "data", reason: "buffer of \(length) bytes, \(record.readableBytes) left")
                }
                try apply(type: subtype, record: &sub, to: &kinds)
            }
        }
    }

    /// A `FileHeader`: the magic number, the format version and the database id.
    static func readHeader(_ buffer: inout ByteBuffer, magic expected: Int32, file: String, name: String, note: String) throws {
        let magic = try buffer.readJuteInt("FileHeader", "magic")
        guard magic == expected else {
            let text = String(decoding: withUnsafeBytes(of: expected.bigEndian) { Array($0) }, as: UTF8.self)
            throw ServerDataFileError(file: file, reason: "not a ZooKeeper \(name) (magic \(hex(magic)), expected \(text))\(note)")
        }
        _ = try buffer.readJuteInt("FileHeader", "version")
        _ = try buffer.readJuteLong("FileHeader", "dbid")
    }

    static func hex(_ value: Int32) -> String { "0x" + String(UInt32(bitPattern: value), radix: 16) }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        var result = self
        while result.count > 1 && result.hasSuffix(suffix) { result.removeLast(suffix.count) }
        return result
    }
}

extension ByteBuffer {
    fileprivate mutating func skipJuteBuffer(_ record: String, _ field: String) throws(JuteDecodingError) {
        let length = try readJuteInt(record, field)
        guard length > 0 else { return }
        guard readableBytes >= Int(length) else {
            throw JuteDecodingError(record: record, field: field, reason: "buffer of \(length) bytes, \(readableBytes) left")
        }
        moveReaderIndex(forwardBy: Int(length))
    }
}
