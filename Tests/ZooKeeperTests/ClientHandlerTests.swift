import NIOCore
import NIOEmbedded
import Testing
@testable import ZooKeeper
import ZooKeeperProtocol

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

        /// Sends a request the way the client's operations do, in call order with what the test
        /// does next on the loop.
        func submit(getData path: String, watch: EventLoopPromise<WatchedEvent>? = nil) throws -> EventLoopFuture<ZooKeeperReply> {
            try client.enqueue(PathWatchRequest(.getData, path: path, watch: watch != nil), path: path, watch: watch.map { WatchRegistration(kind: .data, path: path, promise: $0) })
        }

        /// What the client wrote and flushed since the last look, once the loop has run.
        func written(_ channel: NIOAsyncTestingChannel) async throws -> [UInt8]? {
            await loop.run()
            return try await channel.readOutbound(as: ByteBuffer.self).map { Array($0.readableBytesView) }
        }

        /// The outcome of a request once the loop has run: nil while it is still unanswered (so a
        /// broken rule fails the test instead of hanging it).
        func outcome<T: Sendable>(of future: EventLoopFuture<T>) async throws -> Result<T, any Error>? {
            await loop.run()
            return try await loop.executeInContext {
                let box = NIOLoopBoundBox<Result<T, any Error>?>(nil, eventLoop: future.eventLoop)
                future.whenComplete { box.value = $0 }
                return box.value
            }
        }

        /// Cancels the caller of `future`, as `withTaskCancellationHandler` does.
        func cancel(_ future: EventLoopFuture<ZooKeeperReply>) async throws {
            let core = client.core
            try await loop.executeInContext { core.cancel(future) }
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
        try #require(!channel.isActive, "4 s of silence: the connection is given up")
        #expect(await harness.client.state == .suspended)
        // The next connection resumes the session with its id and password.
        _ = try await harness.connect(expectedSession: 0x42, expectedPassword: Array(1...16))
        #expect(await harness.client.state == .connected(sessionID: 0x42, server: "127.0.0.1:2181", readOnly: false))
        try await harness.shutdown()
    }

    @Test func aReadLostWithItsConnectionIsSentAgainAndAWriteFails() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        let read = try harness.submit(getData: "/a")
        let write = try harness.client.enqueue(DeleteRequest(path: "/b", version: -1), path: "/b")
        #expect(try await harness.written(channel) == Self.getDataRequest(xid: 1, path: "/a"))
        #expect(try await harness.written(channel) != nil, "the delete")
        try await channel.close()
        guard case .failure(let error as ZooKeeperError) = try await harness.outcome(of: write) else {
            Issue.record("the write in flight should have failed")
            return
        }
        #expect(error.code == .connectionLoss, "a write's outcome is unknown: connectionLoss")
        #expect(try await harness.outcome(of: read) == nil, "the read waits for the next connection")
        let second = try await harness.connect(expectedSession: 0x42, expectedPassword: Array(1...16))
        #expect(try await harness.written(second) == Self.getDataRequest(xid: 3, path: "/a"), "the read again, with the next xid")
        try await second.writeInbound(Self.getDataReply(xid: 3, data: "again"))
        guard case .success(let reply) = try await harness.outcome(of: read) else {
            Issue.record("the resent read should have its reply")
            return
        }
        #expect(reply.header.xid == 3)
        try await harness.shutdown()
    }

    @Test func aCancelledReadInFlightAnswersAtOnceAndLaterRepliesStillMatch() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        let watch = harness.loop.makePromise(of: WatchedEvent.self)
        let cancelled = try harness.submit(getData: "/a", watch: watch)
        #expect(try await harness.written(channel) == frame(int32(1) + int32(4) + int32(2) + Array("/a".utf8) + [1]), "sent, with a watch")
        try await harness.cancel(cancelled)
        guard case .failure(let error) = try await harness.outcome(of: cancelled), error is CancellationError else {
            Issue.record("the cancelled caller should have CancellationError at once")
            return
        }
        guard case .failure(let watchError) = try await harness.outcome(of: watch.futureResult), watchError is CancellationError else {
            Issue.record("the watch of a cancelled request should not be left waiting")
            return
        }
        let read = try harness.submit(getData: "/b")
        #expect(try await harness.written(channel) == Self.getDataRequest(xid: 2, path: "/b"))
        try await channel.writeInbound(Self.getDataReply(xid: 1, data: "for nobody"))
        try await channel.writeInbound(Self.getDataReply(xid: 2, data: "b"))
        guard case .success(let reply) = try await harness.outcome(of: read) else {
            Issue.record("the later reply should still match its request")
            return
        }
        #expect(reply.header.xid == 2, "the cancelled request kept its slot")
        #expect(channel.isActive, "no protocol error")
        try await harness.shutdown()
    }

    @Test func aCancelledRequestNotYetSentIsNeverSent() async throws {
        var harness = try Harness()
        harness.client.start()
        let channel = try await harness.nextChannel()
        #expect(try await harness.written(channel) != nil, "the ConnectRequest")
        let cancelled = try harness.submit(getData: "/a")
        try await harness.cancel(cancelled)
        guard case .failure(let error) = try await harness.outcome(of: cancelled), error is CancellationError else {
            Issue.record("the cancelled caller should have CancellationError at once")
            return
        }
        try await channel.writeInbound(buffer(frame(int32(0) + int32(6000) + int64(0x42) + int32(16) + Array(1...16) + [0])))
        let read = try harness.submit(getData: "/b")
        #expect(try await harness.written(channel) == Self.getDataRequest(xid: 1, path: "/b"), "the first request on the wire is the one not cancelled")
        #expect(try await harness.written(channel) == nil)
        try await channel.writeInbound(Self.getDataReply(xid: 1, data: "b"))
        #expect(try await harness.outcome(of: read) != nil)
        try await harness.shutdown()
    }

    @Test func cancellingAWaitForAWatchEventLeavesTheWatchArmed() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        let armed = harness.loop.makePromise(of: WatchedEvent.self)
        let read = try harness.submit(getData: "/w", watch: armed)
        #expect(try await harness.written(channel) != nil)
        try await channel.writeInbound(Self.getDataReply(xid: 1, data: "w"))
        #expect(try await harness.outcome(of: read) != nil)
        let watch = Watch(future: armed.futureResult)
        let waiting = Task { try await watch.event() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        // A notification: xid -1, zxid, error; WatcherEvent nodeDataChanged (3), syncConnected (3), path.
        try await channel.writeInbound(buffer(frame(int32(-1) + int64(-1) + int32(0) + int32(3) + int32(3) + int32(2) + Array("/w".utf8))))
        guard case .success(let event) = try await harness.outcome(of: armed.futureResult) else {
            Issue.record("the watch should still be armed and fire")
            return
        }
        #expect(event == WatchedEvent(type: .nodeDataChanged, path: "/w"))
        #expect(try await watch.event() == event, "a later wait still gets the event")
        try await harness.shutdown()
    }

    /// The public API's wiring: cancelling the awaiting task is what cancels the request.
    @Test func cancellingTheTaskThrowsCancellationError() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        let client = harness.client
        let task = Task { try await client.getData("/a") }
        _ = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        try await harness.shutdown()
    }

    /// A task cancelled before it asks gets `CancellationError`, and its read is never sent.
    @Test func aTaskCancelledBeforeItAsksGetsCancellationErrorAndSendsNothing() async throws {
        var harness = try Harness()
        let channel = try await harness.connect()
        let client = harness.client
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.getData("/a")
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        let next = try harness.submit(getData: "/b")
        #expect(try await harness.written(channel) == Self.getDataRequest(xid: 1, path: "/b"), "the cancelled read took no xid and was not written")
        try await channel.writeInbound(Self.getDataReply(xid: 1, data: "b"))
        #expect(try await harness.outcome(of: next) != nil)
        try await harness.shutdown()
    }
}

func int32(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
func int64(_ value: Int64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
func frame(_ body: [UInt8]) -> [UInt8] { int32(Int32(body.count)) + body }
func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
