import NIOCore
import Testing
import ZooKeeperProtocol

// Known bytes are written by hand from the jute definitions in zookeeper.jute:
// ints and longs big-endian, bool one byte, ustring/buffer as int length + bytes, vector as int count.

@Suite struct RecordCodecTests {
    @Test func connectRequestMatchesTheJuteLayout() {
        var buffer = ByteBuffer()
        ConnectRequest(lastZxidSeen: Zxid(0x1_0000_0002), timeout: 30000, sessionID: 0, password: [], readOnly: false)
            .encode(into: &buffer)
        // protocolVersion 0 | lastZxidSeen | timeOut 30000 | sessionId 0 | passwd: 16 zero bytes | readOnly false
        let expected = hexBuffer("""
            00000000 0000000100000002 00007530 0000000000000000
            00000010 00000000000000000000000000000000 00
            """)
        #expect(hexString(buffer) == hexString(expected))
    }

    @Test func connectResponseWithAndWithoutReadOnlyFlag() throws {
        // 3.4 and later append the read-only flag; very old servers stop after the password.
        let base = "00000000 00001770 0000000000abcdef 00000004 01020304"
        var withFlag = hexBuffer(base + " 01")
        let response = try ConnectResponse.decode(from: &withFlag)
        #expect(response.timeout == 6000)
        #expect(response.sessionID == 0xABCDEF)
        #expect(response.password == [1, 2, 3, 4])
        #expect(response.readOnly)
        var withoutFlag = hexBuffer(base)
        #expect(try ConnectResponse.decode(from: &withoutFlag).readOnly == false)
    }

    @Test func expiredSessionIsATimeoutOfZero() throws {
        var buffer = hexBuffer("00000000 00000000 0000000000000000 00000010 00000000000000000000000000000000 00")
        let response = try ConnectResponse.decode(from: &buffer)
        #expect(response.timeout == 0)
    }

    @Test func createRequestWithOpenACLAndEphemeralSequentialFlags() {
        var buffer = ByteBuffer()
        CreateRequest(path: "/a", data: [0xFF, 0x00], acl: ACL.openUnsafe, mode: .ephemeralSequential).encode(into: &buffer)
        // path "/a", data [ff 00], acl vector of 1: perms 31, "world", "anyone", flags 3
        let expected = "00 00 00 02 2f 61 00 00 00 02 ff 00 00 00 00 01 00 00 00 1f 00 00 00 05 77 6f 72 6c 64 00 00 00 06 61 6e 79 6f 6e 65 00 00 00 03"
        #expect(hexString(buffer) == expected)
    }

    @Test func createOpcodesFollowTheMode() {
        #expect(CreateRequest(path: "/a", data: [], acl: ACL.openUnsafe, mode: .persistent).opCode == .create)
        #expect(CreateRequest(path: "/a", data: [], acl: ACL.openUnsafe, mode: .persistent, returnStat: true).opCode == .create2)
        #expect(CreateRequest(path: "/a", data: [], acl: ACL.openUnsafe, mode: .container).opCode == .createContainer)
        #expect(CreateRequest(path: "/a", data: [], acl: ACL.openUnsafe, mode: .persistentWithTTL(.seconds(5))).opCode == .createTTL)
        #expect(CreateMode.container.flags == 4)
        #expect(CreateMode.persistentWithTTL(.seconds(1)).flags == 5)
        #expect(CreateMode.persistentSequentialWithTTL(.seconds(1)).flags == 6)
    }

    @Test func ttlIsAppendedInMilliseconds() {
        var buffer = ByteBuffer()
        CreateRequest(path: "/t", data: [], acl: ACL.openUnsafe, mode: .persistentWithTTL(.milliseconds(1500))).encode(into: &buffer)
        let bytes = Array(buffer.readableBytesView)
        #expect(Array(bytes.suffix(12)) == [0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0x05, 0xDC])
    }

    @Test func statDecodesEveryFieldInOrder() throws {
        var buffer = hexBuffer("""
            0000000100000002 0000000100000003 0000016a2b3c4d5e 0000016a2b3c4d5f
            00000004 00000005 00000006 0000000000001234 0000000a 00000002 0000000100000009
            """)
        let stat = try Stat.decode(from: &buffer)
        #expect(stat.czxid == Zxid(epoch: 1, counter: 2))
        #expect(stat.mzxid == Zxid(epoch: 1, counter: 3))
        #expect(stat.ctime == 0x16a2b3c4d5e)
        #expect(stat.mtime == 0x16a2b3c4d5f)
        #expect(stat.version == 4)
        #expect(stat.cversion == 5)
        #expect(stat.aversion == 6)
        #expect(stat.ephemeralOwner == 0x1234)
        #expect(stat.dataLength == 10)
        #expect(stat.numChildren == 2)
        #expect(stat.pzxid == Zxid(epoch: 1, counter: 9))
        #expect(buffer.readableBytes == 0)
        var reencoded = ByteBuffer()
        stat.encode(into: &reencoded)
        #expect(reencoded.readableBytes == Stat.encodedSize)
    }

    @Test func truncatedStatIsADecodingErrorNotACrash() {
        var buffer = hexBuffer("00000001")
        #expect(throws: JuteDecodingError.self) { try Stat.decode(from: &buffer) }
    }

    @Test func replyHeaderCarriesXidZxidAndError() throws {
        var buffer = hexBuffer("00000007 0000000200000001 ffffff9b")
        let header = try ReplyHeader.decode(from: &buffer)
        #expect(header.xid == 7)
        #expect(header.zxid.epoch == 2)
        #expect(header.error == .noNode)
    }

    @Test func watcherEventDecodes() throws {
        var buffer = hexBuffer("00000003 00000003 00000004 2f612f62")
        let event = try WatcherEvent.decode(from: &buffer)
        #expect(event.type == .nodeDataChanged)
        #expect(event.state == .syncConnected)
        #expect(event.path == "/a/b")
    }

    @Test func getChildrenWithNullVectorIsEmpty() throws {
        var buffer = hexBuffer("ffffffff")
        #expect(try GetChildrenResponse.decode(from: &buffer).children == [])
    }

    @Test func absurdVectorCountsAreRejected() {
        var buffer = hexBuffer("7fffffff 00000000")
        #expect(throws: JuteDecodingError.self) { try GetChildrenResponse.decode(from: &buffer) }
    }

    @Test func nullStringAndNullBuffer() throws {
        var buffer = ByteBuffer()
        buffer.writeJuteString(nil)
        buffer.writeJuteBuffer(nil as [UInt8]?)
        #expect(hexString(buffer) == "ff ff ff ff ff ff ff ff")
        #expect(try buffer.readJuteString("t", "s") == nil)
        #expect(try buffer.readJuteBytes("t", "b") == nil)
    }

    @Test func setWatchesLayout() {
        var buffer = ByteBuffer()
        SetWatchesRequest(relativeZxid: Zxid(5), dataWatches: ["/d"], existWatches: [], childWatches: ["/c"]).encode(into: &buffer)
        #expect(hexString(buffer) == "00 00 00 00 00 00 00 05 00 00 00 01 00 00 00 02 2f 64 00 00 00 00 00 00 00 01 00 00 00 02 2f 63")
    }

    @Test func authPacketLayout() {
        var buffer = ByteBuffer()
        AuthRequest(scheme: "digest", auth: Array("u:p".utf8)).encode(into: &buffer)
        #expect(hexString(buffer) == "00 00 00 00 00 00 00 06 64 69 67 65 73 74 00 00 00 03 75 3a 70")
    }

    @Test func reconfigRequestWithNullFields() {
        var buffer = ByteBuffer()
        ReconfigRequest(joiningServers: nil, leavingServers: "3", newMembers: nil, currentConfigID: -1).encode(into: &buffer)
        #expect(hexString(buffer) == "ff ff ff ff 00 00 00 01 33 ff ff ff ff ff ff ff ff ff ff ff ff")
    }
}

@Suite struct MultiCodecTests {
    @Test func multiRequestFramesEachOperationWithAHeader() {
        var buffer = ByteBuffer()
        MultiRequest(operations: [
            .check(CheckVersionRequest(path: "/a", version: 1)),
            .delete(DeleteRequest(path: "/b", version: -1)),
        ]).encode(into: &buffer)
        let expected = [
            "00 00 00 0d 00 ff ff ff ff",  // header: check, done=false, err=-1
            "00 00 00 02 2f 61 00 00 00 01",  // "/a", version 1
            "00 00 00 02 00 ff ff ff ff",  // header: delete
            "00 00 00 02 2f 62 ff ff ff ff",  // "/b", version -1
            "ff ff ff ff 01 ff ff ff ff",  // end: type -1, done=true, err=-1
        ].joined(separator: " ")
        #expect(hexString(buffer) == expected)
    }

    @Test func failedMultiResponseReportsEachOperation() throws {
        // A check failed with badVersion; the create before it was rolled back (runtimeInconsistency).
        var buffer = hexBuffer("""
            ffffffff 00 fffffffe fffffffe
            ffffffff 00 ffffff99 ffffff99
            ffffffff 01 ffffffff
            """)
        let response = try MultiResponse.decode(from: &buffer)
        #expect(response.results == [.failed(.runtimeInconsistency), .failed(.badVersion)])
    }

    @Test func successfulMultiResponse() throws {
        var stat = ByteBuffer()
        Stat(version: 3).encode(into: &stat)
        var buffer = hexBuffer("00000001 00 00000000 00000002 2f61  00000005 00 00000000")
        buffer.writeImmutableBuffer(stat)
        buffer.writeImmutableBuffer(hexBuffer("ffffffff 01 ffffffff"))
        let response = try MultiResponse.decode(from: &buffer)
        #expect(response.results == [.created(path: "/a", stat: nil), .dataSet(Stat(version: 3))])
    }

    @Test func multiReadRequestFramesEachReadWithAHeader() {
        var buffer = ByteBuffer()
        let request = MultiReadRequest(operations: [.getData(path: "/a"), .getChildren(path: "/b")])
        request.encode(into: &buffer)
        let expected = [
            "00 00 00 04 00 ff ff ff ff",  // header: getData, done=false, err=-1
            "00 00 00 02 2f 61 00",  // "/a", watch=false
            "00 00 00 08 00 ff ff ff ff",  // header: getChildren
            "00 00 00 02 2f 62 00",  // "/b", watch=false
            "ff ff ff ff 01 ff ff ff ff",  // end: type -1, done=true, err=-1
        ].joined(separator: " ")
        #expect(hexString(buffer) == expected)
        #expect(request.opCode.rawValue == 22)
    }

    @Test func multiReadResponseCarriesAResultOrAnErrorPerRead() throws {
        var stat = ByteBuffer()
        Stat(version: 7, dataLength: 2).encode(into: &stat)
        #expect(stat.readableBytes == 68)
        var buffer = hexBuffer("00000004 00 00000000  00000002 6869")  // getData: "hi" and its stat
        buffer.writeImmutableBuffer(stat)
        buffer.writeImmutableBuffer(hexBuffer("""
            ffffffff 00 ffffff9b ffffff9b
            00000008 00 00000000 00000002 00000001 78 00000001 79
            ffffffff 01 ffffffff
            """))  // noNode (-101) for the second read, two children for the third, end
        let response = try MultiReadResponse.decode(from: &buffer)
        #expect(response.results == [.data(Array("hi".utf8), Stat(version: 7, dataLength: 2)), .failed(.noNode), .children(["x", "y"])])
        #expect(response.results[1].error == .noNode)
        #expect(buffer.readableBytes == 0)
    }

    @Test func multiReadResponseRefusesAWriteResult() {
        var buffer = hexBuffer("00000002 00 00000000 ffffffff 01 ffffffff")  // a delete result
        #expect(throws: JuteDecodingError.self) { try MultiReadResponse.decode(from: &buffer) }
    }
}

@Suite struct FramingTests {
    @Test func incompleteFramesAreLeftForLater() throws {
        var buffer = hexBuffer("00 00 00 04 01 02")
        #expect(try ZooKeeperFrameDecoder.nextFrame(from: &buffer, maximumFrameLength: 100) == nil)
        #expect(buffer.readableBytes == 6, "nothing is consumed until the frame is whole")
        buffer.writeBytes([3, 4, 0, 0])
        let frame = try ZooKeeperFrameDecoder.nextFrame(from: &buffer, maximumFrameLength: 100)
        #expect(frame.map(hexString) == "01 02 03 04")
        #expect(buffer.readableBytes == 2)
    }

    @Test func oversizedAndNegativeLengthsAreRefused() {
        var big = hexBuffer("00 10 00 00")
        #expect(throws: ZooKeeperFrameDecoder.FrameTooLong.self) { try ZooKeeperFrameDecoder.nextFrame(from: &big, maximumFrameLength: 1024) }
        var negative = hexBuffer("ff ff ff ff")
        #expect(throws: ZooKeeperFrameDecoder.FrameTooLong.self) { try ZooKeeperFrameDecoder.nextFrame(from: &negative, maximumFrameLength: 1024) }
    }

    @Test func writeFramePrefixesTheLength() {
        var buffer = ByteBuffer()
        buffer.writeZooKeeperFrame { RequestHeader(xid: ReservedXid.ping, opCode: .ping).encode(into: &$0) }
        #expect(hexString(buffer) == "00 00 00 08 ff ff ff fe 00 00 00 0b")
    }
}
