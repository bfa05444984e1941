import ZooKeeperProtocol

/// The connection lifecycle of one client: which server to try next, when to back off, what a
/// session is, and what to do when a connection is established, lost or expired.
///
/// A pure value: it holds no channel and does no I/O. Every event returns the actions the owner
/// must carry out, so the whole lifecycle is tested without a network.
struct ConnectionStateMachine: Sendable {
    enum State: Sendable, Hashable {
        /// Not started yet.
        case idle
        /// A TCP connection to `server` is being opened.
        case connecting(server: Int)
        /// TCP is up, the `ConnectRequest` is sent, the `ConnectResponse` is awaited.
        case handshaking(server: Int)
        /// A session is established through `server`.
        case connected(server: Int)
        /// Every server failed in this round; waiting before the next round.
        case backingOff
        /// `closeSession` was sent; waiting for the answer.
        case closing
        case closed
    }

    struct Session: Sendable, Hashable {
        var id: Int64 = 0
        var password: [UInt8] = []
        /// Negotiated timeout; nil until the first session is established.
        var timeout: Duration?
    }

    /// What was established, for the owner to act on.
    struct Established: Sendable, Hashable {
        var sessionID: Int64
        var timeout: Duration
        var readOnly: Bool
        /// The session existed before this connection (watches and auth must be re-sent).
        var resumed: Bool
        var server: Int
    }

    enum Action: Sendable, Hashable {
        /// Open a TCP connection to `server`; give up (and report `connectFailed`) after `timeout`.
        case connect(server: Int, timeout: Duration)
        case sendConnectRequest(ConnectRequest)
        case established(Established)
        /// Requests sent or queued can no longer be answered: fail them all with this code.
        case failRequests(ZooKeeperError.Code)
        /// The connection they were sent on is gone: their outcome is unknown. Reads (which change
        /// nothing) go back to the queue to be sent on the next connection; the rest fail with this
        /// code. Requests not yet sent stay queued for the next connection of the same session.
        case failInFlight(ZooKeeperError.Code)
        /// An attempt to reconnect a live session failed: fail only the queued requests that have
        /// waited longer than the owner allows; the others wait for the next connection.
        case failStaleQueued
        /// The established connection is gone; the session may still be alive (SUSPENDED).
        case reportSuspended
        /// The session expired: fail its watches, report it, and start a new session.
        case reportExpired(sessionID: Int64)
        /// Close the current channel, if any.
        case closeChannel
        /// Wait, then call `backoffElapsed()`.
        case scheduleReconnect(after: Duration)
        case sendCloseSession
        /// The client is closed: fail everything left with `clientClosed`.
        case reportClosed
    }

    private(set) var state: State = .idle
    private(set) var session = Session()
    /// The highest zxid this client has seen: a server behind it refuses to resume the session.
    private(set) var lastZxidSeen: Zxid = .zero

    let serverCount: Int
    let requestedTimeout: Duration
    let allowReadOnly: Bool
    let minimumBackoff: Duration
    let maximumBackoff: Duration

    private var nextServer = 0
    private var failuresInRound = 0
    private var backoff: Duration

    init(
        serverCount: Int,
        requestedTimeout: Duration,
        allowReadOnly: Bool = false,
        minimumBackoff: Duration = .milliseconds(50),
        maximumBackoff: Duration = .seconds(1)
    ) {
        precondition(serverCount > 0, "a connection string names at least one server")
        self.serverCount = serverCount
        self.requestedTimeout = requestedTimeout
        self.allowReadOnly = allowReadOnly
        self.minimumBackoff = minimumBackoff
        self.maximumBackoff = maximumBackoff
        self.backoff = minimumBackoff
    }

    /// The per-attempt connect timeout: the session timeout shared among the servers, as the Java
    /// client does, so one round over every server fits in one session timeout.
    var connectTimeout: Duration {
        let total = session.timeout ?? requestedTimeout
        return max(total / serverCount, .milliseconds(500))
    }

    /// How long the connection may stay silent before it is considered dead: 2/3 of the session.
    var readTimeout: Duration? { session.timeout.map { $0 * 2 / 3 } }

    /// How long the connection may stay idle before a ping: 1/3 of the session.
    var pingInterval: Duration? { session.timeout.map { $0 / 3 } }

    var isClosedOrClosing: Bool {
        switch state {
        case .closing, .closed: true
        default: false
        }
    }

    var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    mutating func zxidSeen(_ zxid: Zxid) {
        if zxid > lastZxidSeen { lastZxidSeen = zxid }
    }

    mutating func start() -> [Action] {
        guard case .idle = state else { return [] }
        return [connectToNext()]
    }

    mutating func channelConnected() -> [Action] {
        guard case .connecting(let server) = state else { return [.closeChannel] }
        state = .handshaking(server: server)
        let request = ConnectRequest(
            lastZxidSeen: lastZxidSeen,
            timeout: Int32(clamping: requestedTimeout.milliseconds),
            sessionID: session.id,
            password: session.password,
            readOnly: allowReadOnly
        )
        return [.sendConnectRequest(request)]
    }

    /// TCP connect failed or the handshake did not complete.
    mutating func connectFailed() -> [Action] {
        switch state {
        case .connecting, .handshaking:
            return [.closeChannel, failQueuedAfterAttempt] + attemptFailed()
        default:
            return []
        }
    }

    /// Before the first session, nothing can be waited for: a request fails with the attempt (so an
    /// unreachable ensemble is a quick error). Once a session exists, it may be resumed on the next
    /// server, so queued requests wait for it, up to the owner's limit.
    private var failQueuedAfterAttempt: Action {
        session.id == 0 ? .failRequests(.connectionLoss) : .failStaleQueued
    }

    mutating func connectResponseReceived(_ response: ConnectResponse) -> [Action] {
        guard case .handshaking(let server) = state else { return [] }
        if response.timeout <= 0 {
            // The server no longer knows the session: it expired. Start a new one at once.
            let expired = session.id
            session = Session()
            state = .connecting(server: server)
            return [.closeChannel, .failRequests(.sessionExpired), .reportExpired(sessionID: expired), .connect(server: server, timeout: connectTimeout)]
        }
        if response.readOnly && !allowReadOnly {
            // A read-only server we did not ask for: try another.
            return [.closeChannel, failQueuedAfterAttempt] + attemptFailed()
        }
        let resumed = session.id != 0 && session.id == response.sessionID
        session.id = response.sessionID
        session.password = response.password
        session.timeout = .milliseconds(Int64(response.timeout))
        state = .connected(server: server)
        failuresInRound = 0
        backoff = minimumBackoff
        return [.established(Established(
            sessionID: response.sessionID,
            timeout: .milliseconds(Int64(response.timeout)),
            readOnly: response.readOnly,
            resumed: resumed,
            server: server
        ))]
    }

    /// The channel closed, or the read timeout passed without a byte from the server.
    mutating func connectionLost() -> [Action] {
        switch state {
        case .connecting, .handshaking:
            return connectFailed()
        case .connected:
            // Move to the next server at once: the one we lost may be down.
            failuresInRound = 0
            return [.closeChannel, .failInFlight(.connectionLoss), .reportSuspended, connectToNext()]
        case .closing:
            state = .closed
            return [.closeChannel, .reportClosed]
        case .idle, .backingOff, .closed:
            return []
        }
    }

    mutating func backoffElapsed() -> [Action] {
        guard case .backingOff = state else { return [] }
        return [connectToNext()]
    }

    mutating func closeRequested() -> [Action] {
        switch state {
        case .connected:
            state = .closing
            return [.sendCloseSession]
        case .closing, .closed:
            return []
        case .idle, .connecting, .handshaking, .backingOff:
            state = .closed
            return [.closeChannel, .reportClosed]
        }
    }

    /// The answer to `closeSession` arrived, or waiting for it timed out.
    mutating func closeCompleted() -> [Action] {
        guard case .closing = state else { return [] }
        state = .closed
        return [.closeChannel, .reportClosed]
    }

    private mutating func attemptFailed() -> [Action] {
        failuresInRound += 1
        if failuresInRound >= serverCount {
            failuresInRound = 0
            state = .backingOff
            let delay = backoff
            backoff = min(backoff * 2, maximumBackoff)
            return [.scheduleReconnect(after: delay)]
        }
        return [connectToNext()]
    }

    private mutating func connectToNext() -> Action {
        let server = nextServer
        nextServer = (nextServer + 1) % serverCount
        state = .connecting(server: server)
        return .connect(server: server, timeout: connectTimeout)
    }
}
