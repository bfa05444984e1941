import NIOCore
import NIOEmbedded
import Testing
@testable import ZooKeeper

/// The client on testing channels: known bytes in and out, and a fake clock (the testing event
/// loop's), so the timers are checked without waiting and without a server.
@Suite struct ClientHandlerTests {
    /// One client on a testing event loop; every connection it opens is a testing channel, handed
    /// to the test through `channels`.
    struct Harness {
        let loop: NIOAsyncTestingEventLoop
        let client: ZooKeeperClient
        var channels: AsyncStream<NIOAsyncTestingChannel>.AsyncIterator

        init(sessionTimeout: Duration = .seconds(6)) throws {
            let loop = NIOAsyncTestingEventLoop()
            let (stream, continuation) = AsyncStream<NIOAsyncTestingChannel>.makeStream()
            let configuration = try ZooKeeperConfiguration("127.0.0.1:2181", sessionTimeout: sessionTimeout)
            self.loop = loop
            self.client = ZooKeeperClient(configuration: configuration, eventLoop: loop) { _, _, _, initialize in
                let channel = NIOAsyncTestingChannel(loop: loop)
                continuation.yield(channel)
                return initialize(channel).flatMap {
                    channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 2181))
                }.map { channel as any Channel }
            }
            self.channels = stream.makeAsyncIterator()
        }

        mutating func nextChannel() async throws -> NIOAsyncTestingChannel {
            guard let channel = await channels.next() else { throw ZooKeeperError(.connectionLoss, message: "no channel was opened") }
            return channel
        }

        /// Starts the client, checks its ConnectRequest and answers it; returns the channel.
        mutating func connect(session: Int64 = 0x42, expectedSession: Int64 = 0, expectedPassword: [UInt8] = Array(repeating: 0, count: 16)) async throws -> NIOAsyncTestingChannel {
            if expectedSession == 0 { client.start() }
            let channel = try await nextChannel()
            let request = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
            // protocolVersion, lastZxidSeen, timeout, sessionId, passwd, readOnly
            #expect(Array(request.readableBytesView) == frame(int32(0) + int64(0) + int32(6000) + int64(expectedSession) + int32(16) + expectedPassword + [0]))
            try await channel.writeInbound(buffer(frame(int32(0) + int32(6000) + int64(session) + int32(16) + Array(1...16) + [0])))
            return channel
        }

        /// Closes the client; the close timeout runs on the fake clock.
        func shutdown() async throws {
            // The close reaches the loop before the clock moves (both go through its queue, in order).
            client.beginClose()
            await loop.advanceTime(by: .seconds(3))
            await client.close()
            #expect(await client.state == .closed)
            await loop.shutdownGracefully()
        }
    }

    static let stat = [UInt8](repeating: 0, count: 68)

    static func getDataRequest(xid: Int32, path: String) -> [UInt8] {
        frame(int32(xid) + int32(4) + int32(Int32(path.utf8.count)) + Array(path.utf8) + [0])
    }

    static func getDataReply(xid: Int32, data: String) -> ByteBuffer {
        buffer(frame(int32(xid) + int64(5) + int32(0) + int32(Int32(data.utf8.count)) + Array(data.utf8) + stat))
    }

    @Test func aRequestAndItsReplyOnTheWire() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        let client = harness.client
        async let read = client.getData("/a")
        let sent = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(Array(sent.readableBytesView) == Self.getDataRequest(xid: 1, path: "/a"), "xid 1, getData (4), the path, no watch")
        try await channel.writeInbound(Self.getDataReply(xid: 1, data: "hi"))
        #expect(try await read.data == Array("hi".utf8))
        #expect(await client.lastZxidSeen == Zxid(5))
        try await harness.shutdown()
    }

    @Test func pingsAtOneThirdAndReadTimeoutAtTwoThirdsOfTheSession() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        // The session is 6 s: a ping after 2 s without sending, a new connection after 4 s without receiving.
        await harness.loop.advanceTime(by: .milliseconds(1900))
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil, "no ping before 1/3 of the session")
        await harness.loop.advanceTime(by: .milliseconds(600))
        let ping = try await channel.readOutbound(as: ByteBuffer.self)
        #expect(ping.map { Array($0.readableBytesView) } == frame(int32(-2) + int32(11)), "xid -2, opcode ping (11)")
        await harness.loop.advanceTime(to: harness.loop.now + .milliseconds(1400))
        #expect(channel.isActive, "still within 2/3 of the session (3.9 s of silence)")
        await harness.loop.advanceTime(by: .milliseconds(400))
        #expect(!channel.isActive, "4 s of silence: the connection is given up")
        #expect(await harness.client.state == .suspended)
        // The next connection resumes the session with its id and password.
        _ = try await harness.connect(expectedSession: 0x42, expectedPassword: Array(1...16))
        #expect(await harness.client.state == .connected(sessionID: 0x42, server: "127.0.0.1:2181", readOnly: false))
        try await harness.shutdown()
    }

    @Test func aReadLostWithItsConnectionIsSentAgainAndAWriteFails() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        let client = harness.client
        async let read = client.getData("/a")
        _ = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        let write = Task { try await client.delete("/b") }
        _ = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        try await channel.close()
        await #expect(throws: ZooKeeperError.self, "a write's outcome is unknown: connectionLoss") { try await write.value }
        let second = try await harness.connect(expectedSession: 0x42, expectedPassword: Array(1...16))
        let resent = try await second.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(Array(resent.readableBytesView) == Self.getDataRequest(xid: 3, path: "/a"), "the read again, with the next xid")
        try await second.writeInbound(Self.getDataReply(xid: 3, data: "again"))
        #expect(try await read.data == Array("again".utf8))
        try await harness.shutdown()
    }

    @Test func aCancelledReadAnswersAtOnceAndLaterRepliesStillMatch() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        let client = harness.client
        let cancelled = Task { try await client.getDataAndWatch("/a") }
        _ = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        async let read = client.getData("/b")
        let sent = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(Array(sent.readableBytesView) == Self.getDataRequest(xid: 2, path: "/b"))
        try await channel.writeInbound(Self.getDataReply(xid: 1, data: "for nobody"))
        try await channel.writeInbound(Self.getDataReply(xid: 2, data: "b"))
        #expect(try await read.data == Array("b".utf8), "the cancelled request kept its slot")
        #expect(channel.isActive, "no protocol error")
        try await harness.shutdown()
    }

    @Test func aCancelledRequestNotYetSentIsNeverSent() async throws {
        var harness = try Harness()
        harness.client.start()
        let channel = try await harness.nextChannel()
        _ = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        let client = harness.client
        let cancelled = Task { try await client.getData("/a") }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        try await channel.writeInbound(buffer(frame(int32(0) + int32(6000) + int64(0x42) + int32(16) + Array(1...16) + [0])))
        async let read = client.getData("/b")
        let sent = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(Array(sent.readableBytesView) == Self.getDataRequest(xid: 1, path: "/b"), "the first request on the wire is the one not cancelled")
        try await channel.writeInbound(Self.getDataReply(xid: 1, data: "b"))
        _ = try await read
        try await harness.shutdown()
    }
}

func int32(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
func int64(_ value: Int64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
func frame(_ body: [UInt8]) -> [UInt8] { int32(Int32(body.count)) + body }
func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
