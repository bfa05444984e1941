import DequeModule
import Logging
import NIOCore
import NIOPosix

/// A reply as it arrived, before the caller decodes it.
struct ZooKeeperReply: Sendable {
    var header: ReplyHeader
    var body: ByteBuffer
    var server: String
}

/// A watch to arm when the reply to its read arrives.
struct WatchRegistration {
    var kind: WatchKind
    /// Client path.
    var path: String
    /// Completed when the watch fires; nil for watches whose events only go to `watchEvents()`.
    var promise: EventLoopPromise<WatchedEvent>?
}

/// A request waiting to be sent, or sent and waiting for its reply (ZooKeeper answers in order).
struct PendingRequest {
    var xid: Int32 = 0
    var opCode: OpCode
    var path: String?
    var promise: EventLoopPromise<ZooKeeperReply>
    var watch: WatchRegistration?
    /// When it was queued to wait for a connection (nil while it has not had to wait).
    var waitingSince: NIODeadline?
    /// The encoded request, kept while it is in flight if it may be sent again after a lost
    /// connection (reads only, see `isSafeToResend`).
    var resendFrame: ByteBuffer?

    init(opCode: OpCode, path: String?, promise: EventLoopPromise<ZooKeeperReply>, watch: WatchRegistration? = nil) {
        self.opCode = opCode
        self.path = path
        self.promise = promise
        self.watch = watch
    }

    /// Reads change nothing on the server, so one whose reply was lost with its connection can be
    /// sent again on the next connection of the same session without changing its meaning (the
    /// client's last zxid keeps the answer from going back in time). `sync` only orders reads.
    /// Fails the request, and the watch it would have set, with `code`.
    func fail(_ code: ZooKeeperError.Code, server: String, message: String?) {
        promise.fail(ZooKeeperError(code, path: path, server: server, message: message))
        watch?.promise?.fail(ZooKeeperError(code, path: path, server: server, message: "the watch was not set"))
    }

    var isSafeToResend: Bool {
        switch opCode {
        case .exists, .getData, .getACL, .getChildren, .getChildren2, .sync, .multiRead, .getEphemerals, .getAllChildrenNumber, .checkWatches:
            true
        default:
            false
        }
    }
}

/// The client's mutable heart: the state machine, the channel, pending requests and watches.
///
/// Concurrency: every stored property is read and written only on `eventLoop`. All entry points
/// are reached through `eventLoop.execute`, future callbacks or channel handler callbacks of
/// channels bootstrapped on `eventLoop` (all run on that loop), and each asserts it. That is what
/// makes the `@unchecked Sendable` sound.
final class ClientCore: @unchecked Sendable {
    let eventLoop: any EventLoop
    let configuration: ZooKeeperConfiguration
    /// The servers in the order they are tried.
    let servers: [ConnectionString.Server]
    /// `servers[i].description`, made once: every reply names its server.
    private let serverDescriptions: [String]
    let logger: Logger

    private var machine: ConnectionStateMachine
    private var channel: (any Channel)?
    /// Incremented whenever a channel is abandoned, so events of old channels are ignored.
    private var generation = 0
    private var currentServer = 0
    private var pending = Deque<PendingRequest>()
    private var queued = Deque<(request: PendingRequest, frame: ByteBuffer)>()
    private var pendingAuth = Deque<EventLoopPromise<Void>?>()
    private var watches = WatchRegistry<EventLoopPromise<WatchedEvent>?>()
    private var eventObservers: [Int: AsyncStream<WatchedEvent>.Continuation] = [:]
    private var authentication: [(scheme: String, credentials: [UInt8])]
    private var nextXid: Int32 = 1
    private var lastReceive = NIODeadline.now()
    private var lastSend = NIODeadline.now()
    private var ticker: RepeatedTask?
    private var handshakeTimer: Scheduled<Void>?
    private var reconnectTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    private var flushScheduled = false
    private(set) var state: ConnectionState = .connecting
    private var observers: [Int: AsyncStream<ConnectionState>.Continuation] = [:]
    private var nextObserver = 0
    private var connectedWaiters: [EventLoopPromise<Void>] = []
    private var closedWaiters: [EventLoopPromise<Void>] = []
    private let allocator = ByteBufferAllocator()

    init(configuration: ZooKeeperConfiguration, eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.servers = configuration.shuffleServers ? configuration.connectionString.servers.shuffled() : configuration.connectionString.servers
        self.serverDescriptions = servers.map(\.description)
        self.logger = configuration.logger
        self.authentication = configuration.authentication
        self.machine = ConnectionStateMachine(
            serverCount: max(servers.count, 1),
            requestedTimeout: configuration.sessionTimeout,
            allowReadOnly: configuration.allowReadOnly,
            minimumBackoff: configuration.reconnectBackoff.lowerBound,
            maximumBackoff: configuration.reconnectBackoff.upperBound
        )
    }

    var serverDescription: String { serverDescriptions.isEmpty ? "-" : serverDescriptions[currentServer] }
    var sessionID: Int64? { machine.session.id == 0 ? nil : machine.session.id }
    var negotiatedSessionTimeout: Duration? { machine.session.timeout }
    var lastZxidSeen: Zxid { machine.lastZxidSeen }

    // MARK: Entry points (on the event loop)

    func start() {
        eventLoop.assertInEventLoop()
        run(machine.start())
    }

    func submit(_ request: PendingRequest, frame: ByteBuffer) {
        eventLoop.assertInEventLoop()
        if machine.isClosedOrClosing {
            request.promise.fail(ZooKeeperError(.clientClosed, path: request.path))
            request.watch?.promise?.fail(ZooKeeperError(.clientClosed, path: request.path))
            return
        }
        if machine.isConnected, channel != nil {
            send(request, frame: frame)
        } else {
            enqueue(request, frame: frame)
        }
    }

    private func enqueue(_ request: PendingRequest, frame: ByteBuffer) {
        var request = request
        if request.waitingSince == nil { request.waitingSince = .now() }
        queued.append((request, frame))
    }

    func addAuthentication(scheme: String, credentials: [UInt8], promise: EventLoopPromise<Void>) {
        eventLoop.assertInEventLoop()
        if machine.isClosedOrClosing {
            promise.fail(ZooKeeperError(.clientClosed))
            return
        }
        authentication.append((scheme, credentials))
        if machine.isConnected, channel != nil {
            sendAuth(scheme: scheme, credentials: credentials, promise: promise)
        } else {
            // Sent first thing on the next connection.
            promise.succeed(())
        }
    }

    func waitUntilConnected(timeout: Duration, promise: EventLoopPromise<Void>) {
        eventLoop.assertInEventLoop()
        switch state {
        case .connected:
            promise.succeed(())
            return
        case .closed, .authFailed:
            promise.fail(ZooKeeperError(.clientClosed, message: "the client is \(state)"))
            return
        default:
            break
        }
        connectedWaiters.append(promise)
        let servers = self.servers.map(\.description).joined(separator: ",")
        eventLoop.scheduleTask(in: timeAmount(timeout)) { [self] in
            if let index = connectedWaiters.firstIndex(where: { $0.futureResult === promise.futureResult }) {
                connectedWaiters.remove(at: index)
                promise.fail(ZooKeeperError(.connectionLoss, server: servers, message: "no server answered within \(timeout); check the addresses and that the servers are up and in a quorum"))
            }
        }
    }

    func close(promise: EventLoopPromise<Void>) {
        eventLoop.assertInEventLoop()
        if case .closed = machine.state {
            promise.succeed(())
            return
        }
        closedWaiters.append(promise)
        run(machine.closeRequested())
    }

    func observeStates() -> AsyncStream<ConnectionState> {
        eventLoop.assertInEventLoop()
        let (stream, continuation) = AsyncStream<ConnectionState>.makeStream(bufferingPolicy: .unbounded)
        continuation.yield(state)
        if case .closed = state {
            continuation.finish()
            return stream
        }
        let id = nextObserver
        nextObserver += 1
        observers[id] = continuation
        continuation.onTermination = { [self] _ in
            eventLoop.execute { self.observers[id] = nil }
        }
        return stream
    }

    func observeWatchEvents() -> AsyncStream<WatchedEvent> {
        eventLoop.assertInEventLoop()
        let (stream, continuation) = AsyncStream<WatchedEvent>.makeStream(bufferingPolicy: .unbounded)
        if case .closed = machine.state {
            continuation.finish()
            return stream
        }
        let id = nextObserver
        nextObserver += 1
        eventObservers[id] = continuation
        continuation.onTermination = { [self] _ in
            eventLoop.execute { self.eventObservers[id] = nil }
        }
        return stream
    }

    // MARK: Channel events

    func channelRead(_ frame: ByteBuffer, generation: Int) {
        eventLoop.assertInEventLoop()
        guard generation == self.generation else { return }
        lastReceive = .now()
        var frame = frame
        do {
            if case .handshaking = machine.state {
                let response = try ConnectResponse.decode(from: &frame)
                handshakeTimer?.cancel()
                run(machine.connectResponseReceived(response))
                return
            }
            let header = try ReplyHeader.decode(from: &frame)
            if header.zxid.rawValue > 0 { machine.zxidSeen(header.zxid) }
            switch header.xid {
            case ReservedXid.ping, ReservedXid.setWatches:
                if header.error != .ok {
                    logger.warning("server \(serverDescription) answered xid \(header.xid) with \(header.error)")
                }
            case ReservedXid.notification:
                let event = try WatcherEvent.decode(from: &frame)
                dispatch(event)
            case ReservedXid.auth:
                let promise = pendingAuth.popFirst() ?? nil
                if header.error == .ok {
                    promise?.succeed(())
                } else {
                    promise?.fail(ZooKeeperError(header.error, server: serverDescription, message: "authentication failed"))
                    if header.error == .authFailed {
                        publish(.authFailed)
                        run(machine.closeRequested())
                    }
                }
            default:
                guard let request = pending.popFirst() else {
                    throw ZooKeeperError(.protocolError, server: serverDescription, message: "reply with xid \(header.xid) but no request is outstanding")
                }
                guard request.xid == header.xid else {
                    pending.prepend(request)
                    throw ZooKeeperError(.protocolError, server: serverDescription, message: "reply with xid \(header.xid) where \(request.xid) was expected")
                }
                if let watch = request.watch {
                    if header.error == .ok {
                        watches.add(watch.promise, kind: watch.kind, path: watch.path)
                    } else if header.error == .noNode, request.opCode == .exists {
                        watches.add(watch.promise, kind: .exist, path: watch.path)
                    } else {
                        watch.promise?.fail(ZooKeeperError(header.error, path: watch.path, server: serverDescription, message: "the watch was not set"))
                    }
                }
                request.promise.succeed(ZooKeeperReply(header: header, body: frame, server: serverDescription))
                if request.opCode == .closeSession {
                    closeTimer?.cancel()
                    run(machine.closeCompleted())
                }
            }
        } catch {
            logger.error("closing the connection to \(serverDescription): \(error)")
            run(machine.connectionLost())
        }
    }

    func channelInactive(generation: Int) {
        eventLoop.assertInEventLoop()
        guard generation == self.generation else { return }
        logger.debug("connection to \(serverDescription) closed")
        run(machine.connectionLost())
    }

    // MARK: Actions

    private func run(_ actions: [ConnectionStateMachine.Action]) {
        for action in actions { run(action) }
    }

    private func run(_ action: ConnectionStateMachine.Action) {
        switch action {
        case .connect(let server, let timeout):
            openConnection(to: server, timeout: timeout)

        case .sendConnectRequest(let request):
            var buffer = allocator.buffer(capacity: 64)
            buffer.writeZooKeeperFrame { request.encode(into: &$0) }
            channel?.writeAndFlush(buffer, promise: nil)
            lastSend = .now()

        case .established(let info):
            currentServer = info.server
            let server = serverDescription
            logger.debug("session 0x\(String(UInt64(bitPattern: info.sessionID), radix: 16)) \(info.resumed ? "resumed" : "established") with \(server), timeout \(info.timeout)")
            startTicker(sessionTimeout: info.timeout)
            for auth in authentication {
                sendAuth(scheme: auth.scheme, credentials: auth.credentials, promise: nil)
            }
            if info.resumed {
                for request in watches.setWatchesRequests(relativeZxid: machine.lastZxidSeen, serverPath: configuration.connectionString.serverPath) {
                    writeFrame(xid: ReservedXid.setWatches, request)
                }
            } else {
                // A new session has no watches on the server: whatever we held belongs to an old one.
                for promise in watches.removeAll() {
                    promise?.fail(ZooKeeperError(.sessionExpired, server: server, message: "the watch belonged to an expired session"))
                }
            }
            while let (request, frame) = queued.popFirst() {
                send(request, frame: frame)
            }
            publish(.connected(sessionID: info.sessionID, server: server, readOnly: info.readOnly))

        case .failInFlight(let code):
            let server = serverDescription
            var resend: [(request: PendingRequest, frame: ByteBuffer)] = []
            while var request = pending.popFirst() {
                if configuration.resendReadsAfterConnectionLoss, request.isSafeToResend, let frame = request.resendFrame {
                    request.resendFrame = nil
                    if request.waitingSince == nil { request.waitingSince = .now() }
                    resend.append((request, frame))
                    continue
                }
                request.fail(code, server: server, message: "the connection to the server was lost before the reply arrived")
            }
            // Sent before anything still queued, so the session's order is kept.
            for entry in resend.reversed() { queued.prepend(entry) }
            if !resend.isEmpty { logger.debug("\(resend.count) read(s) lost with the connection to \(server) will be sent again") }
            failPendingAuthentication(code, server: server)

        case .failStaleQueued:
            let wait = configuration.queuedRequestTimeout ?? machine.session.timeout ?? configuration.sessionTimeout
            let limit = timeAmount(wait)
            let now = NIODeadline.now()
            let isStale = { (entry: (request: PendingRequest, frame: ByteBuffer)) in now - (entry.request.waitingSince ?? now) >= limit }
            let stale = queued.filter(isStale)
            guard !stale.isEmpty else { break }
            queued.removeAll(where: isStale)
            for (request, _) in stale {
                request.fail(.connectionLoss, server: serverDescription, message: "no server could be reached within \(wait) to send it")
            }

        case .failRequests(let code):
            let server = serverDescription
            let message = code == .connectionLoss ? "the connection to the server was lost before the reply arrived" : nil
            while let request = pending.popFirst() {
                request.fail(code, server: server, message: message)
            }
            while let (request, _) = queued.popFirst() {
                request.fail(code, server: server, message: "no connection to any server")
            }
            failPendingAuthentication(code, server: server)

        case .reportSuspended:
            stopTicker()
            publish(.suspended)

        case .reportExpired(let sessionID):
            stopTicker()
            for promise in watches.removeAll() {
                promise?.fail(ZooKeeperError(.sessionExpired, server: serverDescription, message: "the session expired before the watch fired"))
            }
            logger.warning("session 0x\(String(UInt64(bitPattern: sessionID), radix: 16)) expired; starting a new session")
            publish(.expired(sessionID: sessionID))

        case .closeChannel:
            generation += 1
            stopTicker()
            handshakeTimer?.cancel()
            handshakeTimer = nil
            channel?.close(promise: nil)
            channel = nil

        case .scheduleReconnect(let delay):
            // Jitter spreads reconnecting clients so they do not arrive at a server together.
            let jittered = delay + .milliseconds(Int64.random(in: 0...max(1, delay.milliseconds / 2)))
            logger.debug("no server reachable; retrying in \(jittered)")
            reconnectTimer = eventLoop.scheduleTask(in: timeAmount(jittered)) { [self] in
                reconnectTimer = nil
                run(machine.backoffElapsed())
            }

        case .sendCloseSession:
            var frame = allocator.buffer(capacity: 16)
            frame.writeZooKeeperFrame { buffer in
                RequestHeader(xid: 0, opCode: .closeSession).encode(into: &buffer)
            }
            let promise = eventLoop.makePromise(of: ZooKeeperReply.self)
            promise.futureResult.whenComplete { _ in }
            send(PendingRequest(opCode: .closeSession, path: nil, promise: promise), frame: frame)
            closeTimer = eventLoop.scheduleTask(in: timeAmount(min(machine.readTimeout ?? .seconds(2), .seconds(2)))) { [self] in
                run(machine.closeCompleted())
            }

        case .reportClosed:
            stopTicker()
            reconnectTimer?.cancel()
            closeTimer?.cancel()
            run(.failRequests(.clientClosed))
            for promise in watches.removeAll() {
                promise?.fail(ZooKeeperError(.clientClosed, message: "the client was closed before the watch fired"))
            }
            for continuation in eventObservers.values { continuation.finish() }
            eventObservers = [:]
            for promise in connectedWaiters {
                promise.fail(ZooKeeperError(.clientClosed))
            }
            connectedWaiters = []
            publish(.closed)
            for continuation in observers.values { continuation.finish() }
            observers = [:]
            for promise in closedWaiters { promise.succeed(()) }
            closedWaiters = []
        }
    }

    private func failPendingAuthentication(_ code: ZooKeeperError.Code, server: String) {
        while let promise = pendingAuth.popFirst() {
            promise?.fail(ZooKeeperError(code, server: server))
        }
    }

    // MARK: Connections

    private func openConnection(to server: Int, timeout: Duration) {
        generation += 1
        let generation = self.generation
        let address = servers[server]
        currentServer = server
        logger.debug("connecting to \(address)")
        let maximumFrame = configuration.maximumResponseSize
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeAmount(timeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ZooKeeperFrameDecoder(maximumFrameLength: maximumFrame)))
                    try channel.pipeline.syncOperations.addHandler(ZooKeeperChannelHandler(core: self, generation: generation))
                }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard generation == self.generation else {
                        channel.close(promise: nil)
                        return
                    }
                    self.channel = channel
                    lastReceive = .now()
                    handshakeTimer = eventLoop.scheduleTask(in: timeAmount(timeout)) { [self] in
                        guard generation == self.generation else { return }
                        logger.debug("\(address) did not complete the handshake within \(timeout)")
                        run(machine.connectFailed())
                    }
                    run(machine.channelConnected())
                case .failure(let error):
                    guard generation == self.generation else { return }
                    logger.debug("cannot connect to \(address): \(error)")
                    run(machine.connectFailed())
                }
            }
    }

    private func startTicker(sessionTimeout: Duration) {
        stopTicker()
        let interval = timeAmount(max(sessionTimeout / 10, .milliseconds(10)))
        let generation = self.generation
        ticker = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            guard generation == self.generation, let readTimeout = machine.readTimeout, let pingInterval = machine.pingInterval else { return }
            let now = NIODeadline.now()
            if now - lastReceive > timeAmount(readTimeout) {
                logger.info("no answer from \(serverDescription) for \(readTimeout); reconnecting")
                run(machine.connectionLost())
            } else if now - lastSend >= timeAmount(pingInterval) {
                var frame = allocator.buffer(capacity: 12)
                frame.writeZooKeeperFrame { RequestHeader(xid: ReservedXid.ping, opCode: .ping).encode(into: &$0) }
                channel?.writeAndFlush(frame, promise: nil)
                lastSend = now
            }
        }
    }

    private func stopTicker() {
        ticker?.cancel()
        ticker = nil
    }

    // MARK: Sending

    private func send(_ request: PendingRequest, frame: ByteBuffer) {
        guard let channel else {
            enqueue(request, frame: frame)
            return
        }
        var request = request
        var frame = frame
        request.xid = nextXid
        nextXid = nextXid == Int32.max ? 1 : nextXid + 1
        frame.setInteger(request.xid, at: frame.readerIndex + 4)
        if configuration.resendReadsAfterConnectionLoss, request.isSafeToResend { request.resendFrame = frame }
        pending.append(request)
        channel.write(frame, promise: nil)
        lastSend = .now()
        scheduleFlush()
    }

    /// Coalesces the flushes of requests submitted in the same event-loop tick into one syscall.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { [self] in
            flushScheduled = false
            channel?.flush()
        }
    }

    private func sendAuth(scheme: String, credentials: [UInt8], promise: EventLoopPromise<Void>?) {
        pendingAuth.append(promise)
        writeFrame(xid: ReservedXid.auth, AuthRequest(scheme: scheme, auth: credentials))
    }

    private func writeFrame(xid: Int32, _ record: some ZooKeeperRequestRecord) {
        var frame = allocator.buffer(capacity: 64)
        frame.writeZooKeeperFrame { buffer in
            RequestHeader(xid: xid, opCode: record.opCode).encode(into: &buffer)
            record.encode(into: &buffer)
        }
        channel?.write(frame, promise: nil)
        lastSend = .now()
        scheduleFlush()
    }

    // MARK: State

    private func dispatch(_ event: WatcherEvent) {
        guard event.type != .none else { return }
        let path = configuration.connectionString.clientPath(event.path)
        let fired = watches.fire(event.type, path: path)
        guard !fired.isEmpty else { return }
        let watched = WatchedEvent(type: event.type, path: path)
        for promise in fired {
            promise?.succeed(watched)
        }
        for continuation in eventObservers.values { continuation.yield(watched) }
    }

    private func publish(_ newState: ConnectionState) {
        state = newState
        for continuation in observers.values { continuation.yield(newState) }
        if case .connected = newState {
            let waiters = connectedWaiters
            connectedWaiters = []
            for promise in waiters { promise.succeed(()) }
        }
    }
}

/// Turns channel events into calls on the core; all logic lives there.
final class ZooKeeperChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let core: ClientCore
    private let generation: Int

    init(core: ClientCore, generation: Int) {
        self.core = core
        self.generation = generation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        core.channelRead(unwrapInboundIn(data), generation: generation)
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.channelInactive(generation: generation)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.logger.debug("connection error: \(error)")
        context.close(promise: nil)
    }
}

func timeAmount(_ duration: Duration) -> TimeAmount {
    let (seconds, attoseconds) = duration.components
    return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
}
