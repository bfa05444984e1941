import DequeModule
import NIOCore
import ZooKeeperProtocol

/// The whole client as a pure value: the connection's phases (`ConnectionStateMachine`) plus the
/// requests — queued, in flight and matched to replies by xid — the pending authentications, and
/// the rules for what a lost connection, an expired session, a close or a cancellation does to
/// each of them.
///
/// It holds no channel and does no I/O: every event returns the actions its owner carries out, in
/// order. It is generic over what a request carries (`Request`) and over whoever waits for an
/// authentication (`AuthWaiter`), so the rules are tested with plain values; `ClientCore` uses
/// promises. Time comes in as an argument (`now`), never from a clock.
///
/// The rules:
/// - A request submitted while connected is sent at once with the next xid; otherwise it waits in
///   the queue, in submission order, and is sent first thing on the next connection.
/// - ZooKeeper answers in order: a reply must carry the xid of the oldest request in flight, or the
///   connection is broken (`protocolError`).
/// - A lost connection fails the writes in flight with `connectionLoss` (their outcome is unknown);
///   reads in flight go back to the front of the queue and are sent again on the next connection
///   (`resendReadsAfterConnectionLoss`). Pending authentications fail.
/// - Before the first session every failed attempt fails the queue (an unreachable ensemble is a
///   quick error); once a session exists, queued requests wait for it up to `queuedRequestTimeout`
///   (the negotiated session timeout by default) and fail with `connectionLoss` after that.
/// - An expired session fails everything with `sessionExpired`; a close fails everything with
///   `clientClosed`; an `authFailed` answer to an authentication closes the client.
/// - Cancellation: the caller is answered at once. A request not yet sent is dropped. A request
///   already sent keeps its slot (later replies still match) and its reply is discarded; for a
///   write the outcome is unknown, and the action says so.
struct ClientStateMachine<Request: XidStamped, AuthWaiter> {
    typealias Established = ConnectionStateMachine.Established

    enum Action {
        // The connection, as `ConnectionStateMachine` decides it.
        case connect(server: Int, timeout: Duration)
        case sendConnectRequest(ConnectRequest)
        case closeChannel
        case scheduleReconnect(after: Duration)
        /// A session is established or resumed: start the pings and read timeout, note the server.
        case established(Established)
        /// Re-arm the session's watches with `SetWatches` (a resumed session).
        case rearmWatches
        /// Fail every watch held: it belonged to a session the server no longer has.
        case dropWatches(ZooKeeperError.Code, message: String)
        /// Tell observers the client is connected (after everything queued was sent).
        case reportConnected(Established)
        case reportSuspended
        case reportExpired(sessionID: Int64)
        case reportAuthFailed
        /// Build the `closeSession` request and hand it to `closeSessionRequested(_:)`.
        case sendCloseSession
        /// Wait this long for the answer to `closeSession`, then call `closeCompleted()`.
        case scheduleCloseTimeout(Duration)
        case cancelCloseTimeout
        /// Everything is failed; finish the observers.
        case reportClosed

        // Requests.
        /// Write the request with this xid (the owner flushes).
        case send(Request, xid: Int32)
        /// Fail the request (and any watch it would have set).
        case fail(Request, ZooKeeperError.Code, message: String?)
        /// The caller cancelled: answer it with `CancellationError` now. `outcomeUnknown` for a
        /// write that was already sent: the server may still apply it.
        case cancelled(Request, outcomeUnknown: Bool)

        // Authentication.
        case sendAuth(scheme: String, credentials: [UInt8])
        case succeedAuth(AuthWaiter)
        case failAuth(AuthWaiter, ZooKeeperError.Code, message: String?)
    }

    /// What to do with a reply; a type of its own because every request has one (no array).
    enum Reply {
        /// Complete this request with the reply.
        case deliver(Request)
        /// Its caller cancelled: nobody waits for the reply.
        case discard(Request)
        /// The reply broke the protocol: close the connection (the owner reports `connectionLost`).
        case protocolViolation(String)
    }

    struct Configuration {
        /// Reads in flight on a lost connection are sent again on the next one.
        var resendReadsAfterConnectionLoss = true
        /// How long a queued request waits for a connection once a session exists; nil: the
        /// negotiated session timeout (or the requested one before any).
        var queuedRequestTimeout: Duration?
    }

    private struct InFlight {
        var xid: Int32
        var request: Request
        var isRead: Bool
        var waitingSince: NIODeadline?
        var isCancelled = false
        var isCloseSession = false
    }

    private struct Queued {
        var request: Request
        var isRead: Bool
        var waitingSince: NIODeadline
    }

    private(set) var connection: ConnectionStateMachine
    let configuration: Configuration
    private var inFlight = Deque<InFlight>()
    private var queued = Deque<Queued>()
    private var pendingAuth = Deque<AuthWaiter?>()
    private(set) var authentication: [(scheme: String, credentials: [UInt8])]
    private var nextXid: Int32 = 1

    init(connection: ConnectionStateMachine, configuration: Configuration = .init(), authentication: [(scheme: String, credentials: [UInt8])] = []) {
        self.connection = connection
        self.configuration = configuration
        self.authentication = authentication
    }

    var inFlightCount: Int { inFlight.count }
    var queuedCount: Int { queued.count }
    var pendingAuthenticationCount: Int { pendingAuth.count }

    /// How long a queued request may wait for a connection before it fails.
    var queuedRequestTimeout: Duration {
        configuration.queuedRequestTimeout ?? connection.session.timeout ?? connection.requestedTimeout
    }

    // MARK: Connection events

    mutating func start() -> [Action] { translate(connection.start(), now: nil) }
    mutating func channelConnected() -> [Action] { translate(connection.channelConnected(), now: nil) }
    mutating func connectFailed(now: NIODeadline) -> [Action] { translate(connection.connectFailed(), now: now) }
    mutating func connectResponseReceived(_ response: ConnectResponse, now: NIODeadline) -> [Action] {
        translate(connection.connectResponseReceived(response), now: now)
    }
    mutating func connectionLost(now: NIODeadline) -> [Action] { translate(connection.connectionLost(), now: now) }
    mutating func backoffElapsed() -> [Action] { translate(connection.backoffElapsed(), now: nil) }
    mutating func closeRequested() -> [Action] { translate(connection.closeRequested(), now: nil) }
    mutating func closeCompleted() -> [Action] { translate(connection.closeCompleted(), now: nil) }
    mutating func zxidSeen(_ zxid: Zxid) { connection.zxidSeen(zxid) }

    /// The owner built the `closeSession` request `.sendCloseSession` asked for. It is sent even
    /// though the client is closing, and its reply completes the close.
    mutating func closeSessionRequested(_ request: Request) -> [Action] {
        guard case .closing = connection.state else { return [] }
        let wait = min(connection.readTimeout ?? .seconds(2), .seconds(2))
        return [send(request, isRead: false, waitingSince: nil, isCloseSession: true), .scheduleCloseTimeout(wait)]
    }

    // MARK: Requests

    /// A caller's request: sent now if connected (`.send`), failed if the client is closing
    /// (`.fail`), queued otherwise (nil). `isRead`: it changes nothing on the server, so it may be
    /// sent again. One optional action, not an array: this runs for every request.
    mutating func submit(_ request: consuming Request, isRead: Bool, now: NIODeadline) -> Action? {
        if connection.isClosedOrClosing {
            return .fail(request, .clientClosed, message: nil)
        }
        if connection.isConnected {
            return send(request, isRead: isRead, waitingSince: nil)
        }
        queued.append(Queued(request: request, isRead: isRead, waitingSince: now))
        return nil
    }

    /// A reply with an ordinary xid (not a ping, watch event, auth or SetWatches answer), and the
    /// actions that follow it (the close completing, when it answers `closeSession`).
    mutating func replyReceived(xid: Int32) -> (reply: Reply, then: [Action]) {
        guard let oldest = inFlight.first else {
            return (.protocolViolation("reply with xid \(xid) but no request is outstanding"), [])
        }
        guard oldest.xid == xid else {
            return (.protocolViolation("reply with xid \(xid) where \(oldest.xid) was expected"), [])
        }
        inFlight.removeFirst()
        let reply: Reply = oldest.isCancelled ? .discard(oldest.request) : .deliver(oldest.request)
        guard oldest.isCloseSession else { return (reply, []) }
        return (reply, [.cancelCloseTimeout] + closeCompleted())
    }

    /// The caller of the first request that `matches` stopped waiting. Returns nothing if that
    /// request was already answered (or cancelled).
    mutating func cancel(where matches: (Request) -> Bool) -> [Action] {
        if let index = queued.firstIndex(where: { matches($0.request) }) {
            let entry = queued.remove(at: index)
            return [.cancelled(entry.request, outcomeUnknown: false)]
        }
        if let index = inFlight.firstIndex(where: { !$0.isCancelled && !$0.isCloseSession && matches($0.request) }) {
            inFlight[index].isCancelled = true
            let entry = inFlight[index]
            return [.cancelled(entry.request, outcomeUnknown: !entry.isRead)]
        }
        return []
    }

    // MARK: Authentication

    /// Credentials to add to the session: sent now if connected (and awaited), and again on every
    /// new connection.
    mutating func addAuthentication(scheme: String, credentials: [UInt8], waiter: AuthWaiter) -> [Action] {
        if connection.isClosedOrClosing {
            return [.failAuth(waiter, .clientClosed, message: nil)]
        }
        authentication.append((scheme, credentials))
        if connection.isConnected {
            pendingAuth.append(waiter)
            return [.sendAuth(scheme: scheme, credentials: credentials)]
        }
        // Sent first thing on the next connection.
        return [.succeedAuth(waiter)]
    }

    /// The answer to the oldest authentication sent. `authFailed` closes the client: the server
    /// closes the connection anyway, and a retry would fail the same way.
    mutating func authReplyReceived(_ error: ZooKeeperError.Code) -> [Action] {
        let waiter = pendingAuth.popFirst() ?? nil
        if error == .ok {
            return waiter.map { [.succeedAuth($0)] } ?? []
        }
        var actions: [Action] = waiter.map { [.failAuth($0, error, message: "authentication failed")] } ?? []
        if error == .authFailed {
            actions.append(.reportAuthFailed)
            actions += closeRequested()
        }
        return actions
    }

    // MARK: Translating the connection's actions

    /// `now` is nil for events that cannot lose a request (`ConnectionStateMachine` asks to fail
    /// or requeue requests only on `connectFailed`, `connectResponseReceived` and `connectionLost`,
    /// which pass the time); the clock is read only if that ever changes.
    private mutating func translate(_ connectionActions: [ConnectionStateMachine.Action], now: NIODeadline?) -> [Action] {
        var actions: [Action] = []
        for action in connectionActions {
            switch action {
            case .connect(let server, let timeout): actions.append(.connect(server: server, timeout: timeout))
            case .sendConnectRequest(let request): actions.append(.sendConnectRequest(request))
            case .closeChannel: actions.append(.closeChannel)
            case .scheduleReconnect(let delay): actions.append(.scheduleReconnect(after: delay))
            case .reportSuspended: actions.append(.reportSuspended)
            case .reportExpired(let id):
                actions.append(.dropWatches(.sessionExpired, message: "the session expired before the watch fired"))
                actions.append(.reportExpired(sessionID: id))
            case .sendCloseSession: actions.append(.sendCloseSession)
            case .established(let info): actions += established(info)
            case .failInFlight(let code): actions += failInFlight(code, now: now ?? .now())
            case .failStaleQueued: actions += failStaleQueued(now: now ?? .now())
            case .failRequests(let code): actions += failAll(code)
            case .reportClosed:
                actions += failAll(.clientClosed)
                actions.append(.dropWatches(.clientClosed, message: "the client was closed before the watch fired"))
                actions.append(.reportClosed)
            }
        }
        return actions
    }

    private mutating func established(_ info: Established) -> [Action] {
        var actions: [Action] = [.established(info)]
        for auth in authentication {
            pendingAuth.append(nil)
            actions.append(.sendAuth(scheme: auth.scheme, credentials: auth.credentials))
        }
        actions.append(info.resumed ? .rearmWatches : .dropWatches(.sessionExpired, message: "the watch belonged to an expired session"))
        while let entry = queued.popFirst() {
            actions.append(send(entry.request, isRead: entry.isRead, waitingSince: entry.waitingSince))
        }
        actions.append(.reportConnected(info))
        return actions
    }

    private mutating func failInFlight(_ code: ZooKeeperError.Code, now: NIODeadline) -> [Action] {
        var actions: [Action] = []
        var resend: [Queued] = []
        while let entry = inFlight.popFirst() {
            // Its caller was answered when it cancelled; a read is not sent again for nobody.
            if entry.isCancelled { continue }
            if configuration.resendReadsAfterConnectionLoss, entry.isRead {
                resend.append(Queued(request: entry.request, isRead: true, waitingSince: entry.waitingSince ?? now))
                continue
            }
            actions.append(.fail(entry.request, code, message: "the connection to the server was lost before the reply arrived"))
        }
        // Sent before anything still queued, so the session's order is kept.
        queued.insert(contentsOf: resend, at: 0)
        return actions + failPendingAuthentication(code)
    }

    private mutating func failStaleQueued(now: NIODeadline) -> [Action] {
        let wait = queuedRequestTimeout
        let limit = timeAmount(wait)
        let isStale = { (entry: Queued) in now - entry.waitingSince >= limit }
        let stale = queued.filter(isStale)
        guard !stale.isEmpty else { return [] }
        queued.removeAll(where: isStale)
        return stale.map { .fail($0.request, .connectionLoss, message: "no server could be reached within \(wait) to send it") }
    }

    private mutating func failAll(_ code: ZooKeeperError.Code) -> [Action] {
        var actions: [Action] = []
        let message = code == .connectionLoss ? "the connection to the server was lost before the reply arrived" : nil
        while let entry = inFlight.popFirst() {
            // Its caller was answered when it cancelled.
            if entry.isCancelled { continue }
            actions.append(.fail(entry.request, code, message: message))
        }
        while let entry = queued.popFirst() {
            actions.append(.fail(entry.request, code, message: "no connection to any server"))
        }
        return actions + failPendingAuthentication(code)
    }

    private mutating func failPendingAuthentication(_ code: ZooKeeperError.Code) -> [Action] {
        var actions: [Action] = []
        while let waiter = pendingAuth.popFirst() {
            if let waiter { actions.append(.failAuth(waiter, code, message: nil)) }
        }
        return actions
    }

    private mutating func send(_ request: consuming Request, isRead: Bool, waitingSince: NIODeadline?, isCloseSession: Bool = false) -> Action {
        let xid = takeXid()
        // Stamped here, while this is the only copy: the entry kept for a resend and the one the
        // owner writes then share one buffer (stamping a shared one would copy it).
        var request = request
        request.stamp(xid: xid)
        inFlight.append(InFlight(xid: xid, request: request, isRead: isRead, waitingSince: waitingSince, isCloseSession: isCloseSession))
        return .send(request, xid: xid)
    }

    private mutating func takeXid() -> Int32 {
        let xid = nextXid
        nextXid = nextXid == Int32.max ? 1 : nextXid + 1
        return xid
    }
}

/// What the state machine needs of a request besides carrying it: the xid it is sent with,
/// written into it (for `PendingRequest`, the frame's xid field).
protocol XidStamped {
    mutating func stamp(xid: Int32)
}

extension ClientStateMachine.Action: Equatable where Request: Equatable, AuthWaiter: Equatable {}
extension ClientStateMachine.Reply: Equatable where Request: Equatable {}
