import NIOCore
import Testing
@testable import ZooKeeper
import ZooKeeperProtocol

/// The request rules of the client, with plain strings for requests and authentication waiters:
/// what is sent, queued, matched, resent, failed or cancelled on every event.
@Suite struct ClientStateMachineTests {
    typealias Machine = ClientStateMachine<String, String>
    typealias Action = Machine.Action

    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let lost = "the connection to the server was lost before the reply arrived"

    func machine(servers: Int = 2, resendReads: Bool = true, queuedRequestTimeout: Duration? = nil, authentication: [(scheme: String, credentials: [UInt8])] = []) -> Machine {
        var machine = Machine(
            connection: ConnectionStateMachine(serverCount: servers, requestedTimeout: .seconds(6)),
            configuration: .init(resendReadsAfterConnectionLoss: resendReads, queuedRequestTimeout: queuedRequestTimeout),
            authentication: authentication
        )
        _ = machine.start()
        return machine
    }

    /// Completes a handshake and returns its actions.
    func establish(_ machine: inout Machine, session: Int64 = 0x42, at now: NIODeadline? = nil) -> [Action] {
        _ = machine.channelConnected()
        return machine.connectResponseReceived(ConnectResponse(timeout: 6000, sessionID: session, password: [9, 9]), now: now ?? t0)
    }

    /// A connected machine with these requests in flight (xids 1, 2, … in order); a name starting
    /// with "get" is a read.
    func connected(inFlight requests: String...) -> Machine {
        var machine = machine()
        _ = establish(&machine)
        for request in requests { _ = machine.submit(request, isRead: request.hasPrefix("get"), now: t0) }
        return machine
    }

    func info(session: Int64 = 0x42, resumed: Bool = false, server: Int = 0) -> ConnectionStateMachine.Established {
        .init(sessionID: session, timeout: .seconds(6), readOnly: false, resumed: resumed, server: server)
    }

    @Test func requestsMadeBeforeASessionAreSentInOrderOnceItExists() {
        var machine = machine()
        #expect(machine.submit("get /a", isRead: true, now: t0) == nil, "no connection yet: it waits")
        #expect(machine.submit("create /b", isRead: false, now: t0) == nil)
        #expect(machine.queuedCount == 2)
        #expect(establish(&machine) == [
            .established(info()),
            .dropWatches(.sessionExpired, message: "the watch belonged to an expired session"),
            .send("get /a", xid: 1),
            .send("create /b", xid: 2),
            .reportConnected(info()),
        ])
        #expect(machine.submit("set /c", isRead: false, now: t0) == .send("set /c", xid: 3), "connected: sent at once with the next xid")
    }

    @Test func repliesAreMatchedInOrderAndAnythingElseBreaksTheConnection() {
        var machine = connected(inFlight: "get /a", "get /b")
        #expect(machine.replyReceived(xid: 2) == (.protocolViolation("reply with xid 2 where 1 was expected"), []))
        #expect(machine.inFlightCount == 2, "a mismatched reply consumes nothing")
        #expect(machine.replyReceived(xid: 1) == (.deliver("get /a"), []))
        #expect(machine.replyReceived(xid: 2) == (.deliver("get /b"), []))
        #expect(machine.replyReceived(xid: 3) == (.protocolViolation("reply with xid 3 but no request is outstanding"), []))
    }

    @Test func aLostConnectionResendsReadsInFlightAndFailsWritesInFlight() {
        var machine = connected(inFlight: "get /a", "create /b", "get /c")
        let actions = machine.connectionLost(now: t0 + .seconds(1))
        #expect(actions == [
            .closeChannel,
            .fail("create /b", .connectionLoss, message: lost),
            .reportSuspended,
            .connect(server: 1, timeout: .seconds(3)),
        ], "a write's outcome is unknown: it fails; reads are kept")
        #expect(machine.queuedCount == 2)
        #expect(machine.submit("get /d", isRead: true, now: t0 + .seconds(1)) == nil, "suspended: new requests wait")
        #expect(establish(&machine) == [
            .established(info(resumed: true, server: 1)),
            .rearmWatches,
            .send("get /a", xid: 4),
            .send("get /c", xid: 5),
            .send("get /d", xid: 6),
            .reportConnected(info(resumed: true, server: 1)),
        ], "the resent reads go first, in their order, then what was queued meanwhile")
    }

    @Test func withoutResendingReadsInFlightFailToo() {
        var machine = machine(resendReads: false)
        _ = establish(&machine)
        _ = machine.submit("get /a", isRead: true, now: t0)
        #expect(machine.connectionLost(now: t0).contains(.fail("get /a", .connectionLoss, message: lost)))
        #expect(machine.queuedCount == 0)
    }

    @Test func beforeTheFirstSessionAFailedAttemptFailsTheQueue() {
        var machine = machine()
        _ = machine.submit("get /a", isRead: true, now: t0)
        let actions = machine.connectFailed(now: t0)
        #expect(actions.contains(.fail("get /a", .connectionLoss, message: "no connection to any server")), "an unreachable ensemble is a quick error")
        #expect(machine.queuedCount == 0)
    }

    @Test func onceASessionExistsQueuedRequestsWaitUpToTheQueuedRequestTimeout() {
        var machine = machine(servers: 1, queuedRequestTimeout: .seconds(4))
        _ = establish(&machine)
        _ = machine.connectionLost(now: t0)
        _ = machine.submit("get /old", isRead: true, now: t0)
        _ = machine.submit("get /new", isRead: true, now: t0 + .seconds(3))
        #expect(machine.connectFailed(now: t0 + .seconds(3)) == [.closeChannel, .scheduleReconnect(after: .milliseconds(50))], "nothing has waited 4 s yet")
        _ = machine.backoffElapsed()
        let actions = machine.connectFailed(now: t0 + .seconds(4))
        #expect(actions.contains(.fail("get /old", .connectionLoss, message: "no server could be reached within 4.0 seconds to send it")))
        #expect(!actions.contains { if case .fail("get /new", _, _) = $0 { true } else { false } }, "the younger request keeps waiting")
        #expect(machine.queuedCount == 1)
    }

    @Test func theQueuedRequestTimeoutDefaultsToTheNegotiatedSession() {
        var machine = machine()
        #expect(machine.queuedRequestTimeout == .seconds(6), "before a session: the requested timeout")
        _ = machine.channelConnected()
        _ = machine.connectResponseReceived(ConnectResponse(timeout: 4000, sessionID: 1, password: []), now: t0)
        #expect(machine.queuedRequestTimeout == .seconds(4))
    }

    @Test func anExpiredSessionFailsEverythingAndDropsItsWatches() {
        var machine = machine()
        _ = establish(&machine, session: 7)
        _ = machine.submit("create /a", isRead: false, now: t0)
        _ = machine.connectionLost(now: t0)
        _ = machine.submit("get /b", isRead: true, now: t0)
        _ = machine.channelConnected()
        let actions = machine.connectResponseReceived(ConnectResponse(timeout: 0, sessionID: 0, password: []), now: t0)
        #expect(actions == [
            .closeChannel,
            .fail("get /b", .sessionExpired, message: "no connection to any server"),
            .dropWatches(.sessionExpired, message: "the session expired before the watch fired"),
            .reportExpired(sessionID: 7),
            .connect(server: 1, timeout: .seconds(3)),
        ])
        #expect(machine.queuedCount == 0 && machine.inFlightCount == 0)
    }

    @Test func authenticationIsSentOnEveryConnectionAndAnsweredInOrder() {
        var machine = machine(authentication: [("digest", Array("u:p".utf8))])
        #expect(machine.addAuthentication(scheme: "digest", credentials: [1], waiter: "early") == [.succeedAuth("early")], "not connected: it goes with the next connection")
        let actions = establish(&machine)
        #expect(Array(actions.prefix(3)) == [
            .established(info()),
            .sendAuth(scheme: "digest", credentials: Array("u:p".utf8)),
            .sendAuth(scheme: "digest", credentials: [1]),
        ])
        #expect(machine.addAuthentication(scheme: "digest", credentials: [2], waiter: "late") == [.sendAuth(scheme: "digest", credentials: [2])])
        #expect(machine.authReplyReceived(.ok) == [], "the configured credentials have no waiter")
        #expect(machine.authReplyReceived(.ok) == [])
        #expect(machine.authReplyReceived(.ok) == [.succeedAuth("late")])
    }

    @Test func aLostConnectionFailsPendingAuthentication() {
        var machine = machine()
        _ = establish(&machine)
        _ = machine.addAuthentication(scheme: "digest", credentials: [1], waiter: "w")
        #expect(machine.connectionLost(now: t0).contains(.failAuth("w", .connectionLoss, message: nil)))
        #expect(machine.pendingAuthenticationCount == 0)
    }

    @Test func anAuthFailureClosesTheClient() {
        var machine = machine()
        _ = establish(&machine)
        _ = machine.addAuthentication(scheme: "digest", credentials: [1], waiter: "w")
        _ = machine.submit("get /a", isRead: true, now: t0)
        #expect(machine.authReplyReceived(.authFailed) == [.failAuth("w", .authFailed, message: "authentication failed"), .reportAuthFailed, .sendCloseSession])
        #expect(machine.submit("get /b", isRead: true, now: t0) == .fail("get /b", .clientClosed, message: nil), "closing: nothing new is accepted")
        #expect(machine.closeSessionRequested("close") == [.send("close", xid: 2), .scheduleCloseTimeout(.seconds(2))])
        #expect(machine.replyReceived(xid: 1) == (.deliver("get /a"), []), "requests sent before the close are still answered")
        #expect(machine.replyReceived(xid: 2) == (.deliver("close"), [.cancelCloseTimeout, .closeChannel, .dropWatches(.clientClosed, message: "the client was closed before the watch fired"), .reportClosed]))
    }

    @Test func closingFailsWhatIsLeftWithClientClosed() {
        var machine = machine()
        _ = machine.submit("get /queued", isRead: true, now: t0)
        _ = machine.addAuthentication(scheme: "digest", credentials: [1], waiter: "w")
        #expect(machine.closeRequested() == [
            .closeChannel,
            .fail("get /queued", .clientClosed, message: "no connection to any server"),
            .dropWatches(.clientClosed, message: "the client was closed before the watch fired"),
            .reportClosed,
        ])
        #expect(machine.addAuthentication(scheme: "digest", credentials: [1], waiter: "after") == [.failAuth("after", .clientClosed, message: nil)])
        var connected = self.machine()
        _ = establish(&connected)
        _ = connected.submit("create /a", isRead: false, now: t0)
        _ = connected.closeRequested()
        _ = connected.closeSessionRequested("close")
        #expect(connected.closeCompleted() == [.closeChannel, .fail("create /a", .clientClosed, message: nil), .fail("close", .clientClosed, message: nil), .dropWatches(.clientClosed, message: "the client was closed before the watch fired"), .reportClosed], "the close timed out")
    }

    // MARK: Cancellation at each phase

    @Test func aCancelledRequestNotYetSentIsDropped() {
        var machine = machine()
        _ = machine.submit("get /a", isRead: true, now: t0)
        _ = machine.submit("create /b", isRead: false, now: t0)
        #expect(machine.cancel { $0 == "create /b" } == [.cancelled("create /b", outcomeUnknown: false)], "never sent: its outcome is known")
        #expect(machine.cancel { $0 == "get /a" } == [.cancelled("get /a", outcomeUnknown: false)])
        #expect(establish(&machine).filter { if case .send = $0 { true } else { false } } == [], "nothing is sent for them")
    }

    @Test func aCancelledReadInFlightKeepsItsSlotAndItsReplyIsDiscarded() {
        var machine = connected(inFlight: "get /a", "get /b")
        #expect(machine.cancel { $0 == "get /a" } == [.cancelled("get /a", outcomeUnknown: false)])
        #expect(machine.cancel { $0 == "get /a" } == [], "cancelled once")
        #expect(machine.replyReceived(xid: 1) == (.discard("get /a"), []))
        #expect(machine.replyReceived(xid: 2) == (.deliver("get /b"), []), "the later reply still matches")
        #expect(machine.cancel { $0 == "get /b" } == [], "answered already: nothing to cancel")
    }

    @Test func aCancelledWriteInFlightReportsAnUnknownOutcome() {
        var machine = connected(inFlight: "create /a")
        #expect(machine.cancel { $0 == "create /a" } == [.cancelled("create /a", outcomeUnknown: true)])
        #expect(machine.replyReceived(xid: 1) == (.discard("create /a"), []))
    }

    @Test func aCancelledRequestInFlightIsNeitherResentNorFailedWhenTheConnectionIsLost() {
        var machine = connected(inFlight: "get /a", "create /b")
        _ = machine.cancel { $0 == "get /a" }
        _ = machine.cancel { $0 == "create /b" }
        #expect(machine.connectionLost(now: t0) == [.closeChannel, .reportSuspended, .connect(server: 1, timeout: .seconds(3))])
        #expect(machine.queuedCount == 0)
    }

    @Test func aResentReadCanBeCancelledWhileItWaits() {
        var machine = connected(inFlight: "get /a")
        _ = machine.connectionLost(now: t0)
        #expect(machine.cancel { $0 == "get /a" } == [.cancelled("get /a", outcomeUnknown: false)], "back in the queue: not sent")
        #expect(machine.queuedCount == 0)
    }
}

/// The tests' requests are plain strings; the xid a request is sent with is in its `.send` action.
extension String: XidStamped {
    public mutating func stamp(xid: Int32) {}
}
