import NIOCore
import Testing
import TreeCopy
import ZooKeeper
import ZooKeeperProtocol

/// Reading container and TTL nodes from a server's snapshot and transaction logs, on bytes laid
/// out as `FileSnap` and `FileTxnLog` write them (the real files are read in
/// FidelityCorpusTests, against ZooKeeper's own SnapshotFormatter). No server runs here.
@Suite struct ServerDataFilesTests {
    static let world = ACL.openUnsafe
    static let containerOwner = Int64.min
    static let ttlOwner = Int64(bitPattern: 0xFF00_0000_0000_EA60)  // 60 s

    static func header(_ magic: Int32, into buffer: inout ByteBuffer) {
        buffer.writeInteger(magic)
        buffer.writeInteger(Int32(2))
        buffer.writeInteger(Int64(0))
    }

    static func snapshot(_ nodes: [(String, Int64)]) -> [UInt8] {
        var buffer = ByteBuffer()
        header(0x5A4B_534E, into: &buffer)
        buffer.writeInteger(Int32(1))  // one session
        buffer.writeInteger(Int64(0x1234))
        buffer.writeInteger(Int32(30_000))
        buffer.writeInteger(Int32(1))  // one cached ACL list
        buffer.writeInteger(Int64(1))
        buffer.writeACLs(world)
        for (path, owner) in [("", 0)] + nodes {
            buffer.writeJuteString(path)
            buffer.writeJuteBuffer(Array("data of \(path)".utf8))
            buffer.writeInteger(Int64(1))
            for _ in 0..<4 { buffer.writeInteger(Int64(7)) }
            for _ in 0..<3 { buffer.writeInteger(Int32(1)) }
            buffer.writeInteger(owner)
            buffer.writeInteger(Int64(7))
        }
        buffer.writeJuteString("/")
        buffer.writeInteger(Int64(99))  // the checksum that follows
        return Array(buffer.readableBytesView)
    }

    enum Txn {
        case create(String), createContainer(String), createTTL(String, Int64), delete(String), multi([Txn]), setData(String)
        var type: Int32 {
            switch self {
            case .create: 1
            case .delete: 2
            case .setData: 5
            case .multi: 14
            case .createContainer: 19
            case .createTTL: 21
            }
        }
        func record(into buffer: inout ByteBuffer) {
            switch self {
            case .create(let path):
                buffer.writeJuteString(path); buffer.writeJuteBuffer([1, 2]); buffer.writeACLs(ServerDataFilesTests.world)
                buffer.writeJuteBool(false); buffer.writeInteger(Int32(3))
            case .createContainer(let path):
                buffer.writeJuteString(path); buffer.writeJuteBuffer([]); buffer.writeACLs(ServerDataFilesTests.world); buffer.writeInteger(Int32(3))
            case .createTTL(let path, let ttl):
                buffer.writeJuteString(path); buffer.writeJuteBuffer([0]); buffer.writeACLs(ServerDataFilesTests.world)
                buffer.writeInteger(Int32(3)); buffer.writeInteger(ttl)
            case .delete(let path):
                buffer.writeJuteString(path)
            case .setData(let path):
                buffer.writeJuteString(path); buffer.writeJuteBuffer([9]); buffer.writeInteger(Int32(4))
            case .multi(let txns):
                buffer.writeInteger(Int32(txns.count))
                for txn in txns {
                    var sub = ByteBuffer()
                    txn.record(into: &sub)
                    buffer.writeInteger(txn.type)
                    buffer.writeJuteBuffer(sub)
                }
            }
        }
    }

    static func log(_ txns: [(Int64, Txn)], preallocated: Int = 64) -> [UInt8] {
        var buffer = ByteBuffer()
        header(0x5A4B_4C47, into: &buffer)
        for (zxid, txn) in txns {
            var entry = ByteBuffer()
            entry.writeInteger(Int64(0x1234)); entry.writeInteger(Int32(1)); entry.writeInteger(zxid)
            entry.writeInteger(Int64(0)); entry.writeInteger(txn.type)
            txn.record(into: &entry)
            entry.writeInteger(Int32(0)); entry.writeInteger(Int64(5))  // a 3.6+ digest after the record
            buffer.writeInteger(Int64(42))  // CRC, not checked
            buffer.writeJuteBuffer(entry)
            buffer.writeInteger(UInt8(0x42))
        }
        buffer.writeRepeatingByte(0, count: preallocated)
        return Array(buffer.readableBytesView)
    }

    @Test func aSnapshotNamesItsContainersAndTTLNodes() throws {
        let bytes = Self.snapshot([("/a", 0), ("/a/box", Self.containerOwner), ("/a/lease", Self.ttlOwner), ("/a/lock", 0x1234)])
        #expect(try ServerDataFiles.readSnapshot(bytes, file: "snapshot.7") == ["/a/box": .container, "/a/lease": .ttl(milliseconds: 60_000)])
    }

    @Test func logsAfterTheSnapshotAddAndRemoveThem() throws {
        let snapshot = Self.snapshot([("/a", 0), ("/a/box", Self.containerOwner), ("/a/old", Self.containerOwner)])
        let log = Self.log([
            (0x10, .delete("/a/old")),  // at or before the snapshot's zxid 0x10: already in it
            (0x11, .createContainer("/a/new")),
            (0x12, .multi([.setData("/a"), .createTTL("/a/t", 1500), .create("/a/plain")])),
            (0x13, .delete("/a/box")),
            (0x14, .create("/a/box")),  // the same path again, now persistent
        ])
        let map = try ServerDataFiles.nodeTypes(snapshot: ("snapshot.10", snapshot), logs: [("log.1", log)], origin: "zk1:/data")
        #expect(map.kinds == ["/a/old": .container, "/a/new": .container, "/a/t": .ttl(milliseconds: 1500)])
        #expect(map.zxid == Zxid(0x14))
        #expect(map.containers == 2 && map.ttlNodes == 1)
    }

    @Test func theNewestSnapshotAndTheLogsThatMayFollowItAreChosen() {
        let files = ["log.1", "snapshot.0", "log.30", "snapshot.2f", "log.60", "snapshot.1a", "acceptedEpoch"]
        let chosen = ServerDataFiles.select(files: files)
        #expect(chosen.snapshot == "snapshot.2f")
        #expect(chosen.logs == ["log.30", "log.60"])
        #expect(ServerDataFiles.select(files: ["log.1", "log.5"]) == (nil, ["log.1", "log.5"]))
    }

    @Test func aNewerCompressedSnapshotIsRefusedRatherThanReadAround() async throws {
        let files: [String: [UInt8]] = [
            "/data/version-2/snapshot.5": Self.snapshot([("/a", Self.containerOwner)]),
            "/data/version-2/snapshot.9.gz": [0x1F, 0x8B],
            "/data/version-2/log.6": Self.log([(6, .createContainer("/b"))]),
        ]
        let list = { (directory: String) in files.keys.filter { $0.hasPrefix(directory + "/") }.map { String($0.dropFirst(directory.count + 1)) } }
        let refused = await #expect(throws: ServerDataFileError.self) {
            try await ServerDataFiles.read(dataDir: "/data", dataLogDir: nil, origin: "zk1", list: list, read: { files[$0] })
        }
        #expect(refused?.description.contains("snapshot.9.gz") == true && refused?.description.contains("compressed") == true)
        // Without it, the plain snapshot and the log after it are read.
        var plain = files
        plain["/data/version-2/snapshot.9.gz"] = nil
        let listPlain = { (directory: String) in plain.keys.filter { $0.hasPrefix(directory + "/") }.map { String($0.dropFirst(directory.count + 1)) } }
        let map = try await ServerDataFiles.read(dataDir: "/data/", dataLogDir: nil, origin: "zk1", list: listPlain, read: { plain[$0] })
        #expect(map.kinds == ["/a": .container, "/b": .container] && map.zxid == Zxid(6))
    }

    @Test func filesThatAreNotZooKeeperDataAreRefusedByName() throws {
        let notSnapshot = #expect(throws: ServerDataFileError.self) {
            try ServerDataFiles.readSnapshot(Array("hello world, not a snapshot".utf8), file: "/data/version-2/snapshot.5")
        }
        #expect(notSnapshot?.description.contains("/data/version-2/snapshot.5: not a ZooKeeper snapshot") == true)
        let full = Self.snapshot([("/a", Self.containerOwner)])
        let cut = #expect(throws: ServerDataFileError.self) {
            try ServerDataFiles.readSnapshot(Array(full.prefix(full.count - 30)), file: "snapshot.5")
        }
        #expect(cut?.description.contains("cut short") == true)
        // A log whose last entry the server was still writing ends before it.
        let log = Self.log([(1, .createContainer("/c")), (2, .createContainer("/d"))], preallocated: 0)
        let map = try ServerDataFiles.nodeTypes(snapshot: nil, logs: [("log.1", Array(log.dropLast(3)))], origin: "zk1")
        #expect(map.kinds == ["/c": .container])
    }
}
