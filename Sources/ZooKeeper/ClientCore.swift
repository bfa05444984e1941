import DequeModule
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ZooKeeperProtocol

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

/// A caller's request as the core carries it: the encoded frame (its xid is written when it is
/// sent) and whom to answer.
struct PendingRequest: XidStamped {
    var opCode: OpCode
    var path: String?
    var frame: ByteBuffer
    var promise: EventLoopPromise<ZooKeeperReply>
    var watch: WatchRegistration?
    /// The caller awaiting the reply (`ClientCore.send(_:)`), resumed when `promise` completes;
    /// nil when the caller awaits `promise`'s future instead.
    var waiter: UnsafeContinuation<ZooKeeperReply, any Error>?

    /// Writes the xid into the frame (after its 4-byte length).
    mutating func stamp(xid: Int32) {
        frame.setInteger(xid, at: frame.readerIndex + 4)
    }

    /// Fails the request, and the watch it would have set, with `error`.
    func fail(_ error: any Error) {
        promise.fail(error)
        watch?.promise?.fail(error)
    }

    /// Reads change nothing on the server, so one whose reply was lost with its connection can be
    /// sent again on the next connection of the same session without changing its meaning (the
    /// client's last zxid keeps the answer from going back in time). `sync` only orders reads.
    var isRead: Bool {
        switch opCode {
        case .exists, .getData, .getACL, .getChildren, .getChildren2, .sync, .multiRead, .getEphemerals, .getAllChildrenNumber, .checkWatches:
            true
        default:
            false
        }
    }
}

/// Opens a channel to a server and installs the client's handlers with `initialize`. The default
/// is a TCP `ClientBootstrap`; handler tests pass one that returns a testing channel.
typealias ChannelConnector = @Sendable (
    _ server: ConnectionString.Server,
    _ eventLoop: any EventLoop,
    _ timeout: Duration,
    _ initialize: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
) -> EventLoopFuture<any Channel>

/// The client's I/O: it turns channel events, timers and callers' calls into events of the
/// `ClientStateMachine`, and carries out the actions it gets back (`run(_:)`). The rules — what is
/// sent, queued, resent, failed or cancelled — live in the state machine.
///
/// Concurrency: every stored property but `handedOver` is read and written only on `eventLoop`.
/// All entry points but `handOver(_:)` are reached through `eventLoop.execute`, future callbacks or
/// channel handler callbacks of channels bootstrapped on `eventLoop` (all run on that loop), and
/// each asserts it; `handedOver` is a locked box that callers append to from any thread. That is
/// what makes the `@unchecked Sendable` sound.
final class ClientCore: @unchecked Sendable {
    typealias Machine = ClientStateMachine<PendingRequest, EventLoopPromise<Void>>

    let eventLoop: any EventLoop
    let configuration: ZooKeeperConfiguration
    /// The servers in the order they are tried.
    let servers: [ConnectionString.Server]
    /// `servers[i].description`, made once: every reply names its server.
    private let serverDescriptions: [String]
    let logger: Logger
    private let connector: ChannelConnector

    private var machine: Machine
    private var channel: (any Channel)?
    /// Incremented whenever a channel is abandoned, so events of old channels are ignored.
    private var generation = 0
    private var currentServer = 0
    private var watches = WatchRegistry<EventLoopPromise<WatchedEvent>?>()
    private var eventObservers: [Int: AsyncStream<WatchedEvent>.Continuation] = [:]
    private var lastReceive: NIODeadline
    private var lastSend: NIODeadline
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
    /// Requests callers handed over that the loop has not taken yet (see `handOver(_:)`).
    private let handedOver = NIOLockedValueBox(HandOff())
    private var takenOver = Deque<PendingRequest>()
    private struct HandOff {
        var requests = Deque<PendingRequest>()
        var drainScheduled = false
    }

    init(configuration: ZooKeeperConfiguration, eventLoop: any EventLoop, connector: ChannelConnector? = nil) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.servers = configuration.shuffleServers ? configuration.connectionString.servers.shuffled() : configuration.connectionString.servers
        self.serverDescriptions = servers.map(\.description)
        self.logger = configuration.logger
        self.connector = connector ?? ClientCore.tcpConnector
        self.lastReceive = eventLoop.now
        self.lastSend = eventLoop.now
        self.machine = Machine(
            connection: ConnectionStateMachine(
                serverCount: max(servers.count, 1),
                requestedTimeout: configuration.sessionTimeout,
                allowReadOnly: configuration.allowReadOnly,
                minimumBackoff: configuration.reconnectBackoff.lowerBound,
                maximumBackoff: configuration.reconnectBackoff.upperBound
            ),
            configuration: .init(
                resendReadsAfterConnectionLoss: configuration.resendReadsAfterConnectionLoss,
                queuedRequestTimeout: configuration.queuedRequestTimeout
            ),
            authentication: configuration.authentication
        )
    }

    var serverDescription: String { serverDescriptions.isEmpty ? "-" : serverDescriptions[currentServer] }
    var sessionID: Int64? { machine.connection.session.id == 0 ? nil : machine.connection.session.id }
    var negotiatedSessionTimeout: Duration? { machine.connection.session.timeout }
    var lastZxidSeen: Zxid { machine.connection.lastZxidSeen }

    // MARK: Entry points (on the event loop)

    func start() {
        eventLoop.assertInEventLoop()
        run(machine.start())
    }

    func submit(_ request: consuming PendingRequest) {
        eventLoop.assertInEventLoop()
        let isRead = request.isRead
        if let waiter = request.waiter {
            // On the loop, so the callback is added here and now, before anything can complete it.
            request.promise.futureResult.whenComplete { waiter.resume(with: $0) }
        }
        if let action = machine.submit(request, isRead: isRead, now: eventLoop.now) { run(action) }
    }

    /// Hands a caller's request to the event loop, from any thread, in call order. Requests handed
    /// over before the loop gets to them are submitted together: a window of requests costs one
    /// `execute` (one closure, at most one wake-up of the loop), not one each.
    func handOver(_ request: consuming PendingRequest) {
        let scheduleDrain = handedOver.withLockedValue { handOff in
            handOff.requests.append(request)
            if handOff.drainScheduled { return false }
            handOff.drainScheduled = true
            return true
        }
        if scheduleDrain { eventLoop.execute { self.submitHandedOver() } }
    }

    private func submitHandedOver() {
        eventLoop.assertInEventLoop()
        // Swapped with the (empty) deque of the last batch, so both keep their capacity.
        handedOver.withLockedValue { handOff in
            swap(&takenOver, &handOff.requests)
            handOff.drainScheduled = false
        }
        while let request = takenOver.popFirst() { submit(request) }
    }

    /// The caller awaiting `future` was cancelled.
    func cancel(_ future: EventLoopFuture<ZooKeeperReply>) {
        eventLoop.assertInEventLoop()
        run(machine.cancel { $0.promise.futureResult === future })
    }

    func addAuthentication(scheme: String, credentials: [UInt8], promise: EventLoopPromise<Void>) {
        eventLoop.assertInEventLoop()
        run(machine.addAuthentication(scheme: scheme, credentials: credentials, waiter: promise))
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
        if case .closed = machine.connection.state {
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
        if case .closed = machine.connection.state {
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
        lastReceive = eventLoop.now
        var frame = frame
        do {
            if case .handshaking = machine.connection.state {
                let response = try ConnectResponse.decode(from: &frame)
                handshakeTimer?.cancel()
                run(machine.connectResponseReceived(response, now: eventLoop.now))
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
                run(machine.authReplyReceived(header.error))
            default:
                let (reply, then) = machine.replyReceived(xid: header.xid)
                switch reply {
                case .deliver(let request):
                    deliver(request, header: header, body: frame)
                case .discard(let request):
                    logger.debug("the reply to the cancelled \(request.opCode) of \(request.path ?? "-") arrived and was discarded")
                case .protocolViolation(let message):
                    throw ZooKeeperError(.protocolError, server: serverDescription, message: message)
                }
                run(then)
            }
        } catch {
            logger.error("closing the connection to \(serverDescription): \(error)")
            run(machine.connectionLost(now: eventLoop.now))
        }
    }

    func channelInactive(generation: Int) {
        eventLoop.assertInEventLoop()
        guard generation == self.generation else { return }
        logger.debug("connection to \(serverDescription) closed")
        run(machine.connectionLost(now: eventLoop.now))
    }

    /// Completes a request with its reply, arming the watch it asked for if the server set it.
    private func deliver(_ request: PendingRequest, header: ReplyHeader, body: ByteBuffer) {
        if let watch = request.watch {
            if header.error == .ok {
                watches.add(watch.promise, kind: watch.kind, path: watch.path)
            } else if header.error == .noNode, request.opCode == .exists {
                watches.add(watch.promise, kind: .exist, path: watch.path)
            } else {
                watch.promise?.fail(ZooKeeperError(header.error, path: watch.path, server: serverDescription, message: "the watch was not set"))
            }
        }
        request.promise.succeed(ZooKeeperReply(header: header, body: body, server: serverDescription))
    }

    // MARK: Actions

    private func run(_ actions: [Machine.Action]) {
        for action in actions { run(action) }
    }

    private func run(_ action: Machine.Action) {
        switch action {
        case .connect(let server, let timeout):
            openConnection(to: server, timeout: timeout)

        case .sendConnectRequest(let request):
            var buffer = allocator.buffer(capacity: 64)
            buffer.writeZooKeeperFrame { request.encode(into: &$0) }
            channel?.writeAndFlush(buffer, promise: nil)
            lastSend = eventLoop.now

        case .established(let info):
            currentServer = info.server
            logger.debug("session 0x\(String(UInt64(bitPattern: info.sessionID), radix: 16)) \(info.resumed ? "resumed" : "established") with \(serverDescription), timeout \(info.timeout)")
            startTicker(sessionTimeout: info.timeout)

        case .rearmWatches:
            for request in watches.setWatchesRequests(relativeZxid: machine.connection.lastZxidSeen, serverPath: configuration.connectionString.serverPath) {
                writeFrame(xid: ReservedXid.setWatches, request)
            }

        case .dropWatches(let code, let message):
            let server = code == .clientClosed ? nil : serverDescription
            for promise in watches.removeAll() {
                promise?.fail(ZooKeeperError(code, server: server, message: message))
            }

        case .reportConnected(let info):
            publish(.connected(sessionID: info.sessionID, server: serverDescription, readOnly: info.readOnly))

        case .reportSuspended:
            stopTicker()
            publish(.suspended)

        case .reportExpired(let sessionID):
            stopTicker()
            logger.warning("session 0x\(String(UInt64(bitPattern: sessionID), radix: 16)) expired; starting a new session")
            publish(.expired(sessionID: sessionID))

        case .reportAuthFailed:
            publish(.authFailed)

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
            run(machine.closeSessionRequested(PendingRequest(opCode: .closeSession, path: nil, frame: frame, promise: promise)))

        case .scheduleCloseTimeout(let wait):
            closeTimer = eventLoop.scheduleTask(in: timeAmount(wait)) { [self] in
                run(machine.closeCompleted())
            }

        case .cancelCloseTimeout:
            closeTimer?.cancel()

        case .reportClosed:
            stopTicker()
            reconnectTimer?.cancel()
            closeTimer?.cancel()
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

        case .send(let request, let xid):
            guard let channel else {
                // The machine sends only while connected, and a connection has a channel.
                logger.error("no channel to send xid \(xid) on; reconnecting")
                run(machine.connectionLost(now: eventLoop.now))
                return
            }
            channel.write(request.frame, promise: nil)
            lastSend = eventLoop.now
            scheduleFlush()

        case .fail(let request, let code, let message):
            let server = serverDescription
            request.promise.fail(ZooKeeperError(code, path: request.path, server: server, message: message))
            request.watch?.promise?.fail(ZooKeeperError(code, path: request.path, server: server, message: "the watch was not set"))

        case .cancelled(let request, let outcomeUnknown):
            if outcomeUnknown {
                logger.info("the \(request.opCode) of \(request.path ?? "-") was cancelled after it was sent to \(serverDescription); whether the server applied it is unknown")
            }
            request.fail(CancellationError())

        case .sendAuth(let scheme, let credentials):
            writeFrame(xid: ReservedXid.auth, AuthRequest(scheme: scheme, auth: credentials))

        case .succeedAuth(let promise):
            promise.succeed(())

        case .failAuth(let promise, let code, let message):
            promise.fail(ZooKeeperError(code, server: serverDescription, message: message))
        }
    }

    // MARK: Connections

    static let tcpConnector: ChannelConnector = { server, eventLoop, timeout, initialize in
        // Nothing is sent to a sandbox address from outside the sandbox's namespaces.
        SandboxAddressGuard.check(server.host, on: eventLoop).flatMap {
            ClientBootstrap(group: eventLoop)
                .connectTimeout(timeAmount(timeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer(initialize)
                .connect(host: server.host, port: server.port)
        }
    }

    private func openConnection(to server: Int, timeout: Duration) {
        generation += 1
        let generation = self.generation
        let address = servers[server]
        currentServer = server
        logger.debug("connecting to \(address)")
        let maximumFrame = configuration.maximumResponseSize
        connector(address, eventLoop, timeout) { [self] channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ZooKeeperFrameDecoder(maximumFrameLength: maximumFrame)))
                try channel.pipeline.syncOperations.addHandler(ZooKeeperChannelHandler(core: self, generation: generation))
            }
        }
        .whenComplete { [self] result in
            switch result {
            case .success(let channel):
                guard generation == self.generation else {
                    channel.close(promise: nil)
                    return
                }
                self.channel = channel
                lastReceive = eventLoop.now
                handshakeTimer = eventLoop.scheduleTask(in: timeAmount(timeout)) { [self] in
                    guard generation == self.generation else { return }
                    logger.debug("\(address) did not complete the handshake within \(timeout)")
                    run(machine.connectFailed(now: eventLoop.now))
                }
                run(machine.channelConnected())
            case .failure(let error):
                guard generation == self.generation else { return }
                logger.debug("cannot connect to \(address): \(error)")
                run(machine.connectFailed(now: eventLoop.now))
            }
        }
    }

    private func startTicker(sessionTimeout: Duration) {
        stopTicker()
        let interval = timeAmount(max(sessionTimeout / 10, .milliseconds(10)))
        let generation = self.generation
        ticker = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            guard generation == self.generation, let readTimeout = machine.connection.readTimeout, let pingInterval = machine.connection.pingInterval else { return }
            let now = eventLoop.now
            if now - lastReceive > timeAmount(readTimeout) {
                logger.info("no answer from \(serverDescription) for \(readTimeout); reconnecting")
                run(machine.connectionLost(now: now))
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

    /// Coalesces the flushes of requests submitted in the same event-loop tick into one syscall.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { [self] in
            flushScheduled = false
            channel?.flush()
        }
    }

    private func writeFrame(xid: Int32, _ record: some ZooKeeperRequestRecord) {
        var frame = allocator.buffer(capacity: 64)
        frame.writeZooKeeperFrame { buffer in
            RequestHeader(xid: xid, opCode: record.opCode).encode(into: &buffer)
            record.encode(into: &buffer)
        }
        channel?.write(frame, promise: nil)
        lastSend = eventLoop.now
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
