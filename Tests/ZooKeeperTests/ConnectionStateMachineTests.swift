import Testing
@testable import ZooKeeper
import ZooKeeperProtocol

@Suite struct ConnectionStateMachineTests {
    typealias Action = ConnectionStateMachine.Action

    func established(_ machine: inout ConnectionStateMachine, session: Int64 = 0x42, timeout: Int32 = 6000, readOnly: Bool = false) -> [Action] {
        _ = machine.channelConnected()
        return machine.connectResponseReceived(ConnectResponse(timeout: timeout, sessionID: session, password: [9, 9], readOnly: readOnly))
    }

    @Test func firstConnectionAsksForANewSession() {
        var machine = ConnectionStateMachine(serverCount: 3, requestedTimeout: .seconds(9))
        #expect(machine.start() == [.connect(server: 0, timeout: .seconds(3))], "one round over all servers fits in one session timeout")
        let actions = machine.channelConnected()
        guard case .sendConnectRequest(let request) = actions.first else {
            Issue.record("expected a ConnectRequest, got \(actions)")
            return
        }
        #expect(request.sessionID == 0)
        #expect(request.timeout == 9000)
        #expect(request.readOnly == false)
        let done = machine.connectResponseReceived(ConnectResponse(timeout: 6000, sessionID: 0x42, password: [9, 9]))
        #expect(done == [.established(.init(sessionID: 0x42, timeout: .seconds(6), readOnly: false, resumed: false, server: 0))])
        #expect(machine.readTimeout == .seconds(4))
        #expect(machine.pingInterval == .seconds(2))
    }

    @Test func lostConnectionSuspendsAndResumesTheSameSessionElsewhere() {
        var machine = ConnectionStateMachine(serverCount: 3, requestedTimeout: .seconds(9))
        _ = machine.start()
        _ = established(&machine)
        machine.zxidSeen(Zxid(77))
        let lost = machine.connectionLost()
        #expect(lost == [.closeChannel, .failInFlight(.connectionLoss), .reportSuspended, .connect(server: 1, timeout: .seconds(2))])
        guard case .sendConnectRequest(let request) = machine.channelConnected().first else {
            Issue.record("expected a ConnectRequest")
            return
        }
        #expect(request.sessionID == 0x42)
        #expect(request.password == [9, 9])
        #expect(request.lastZxidSeen == Zxid(77), "a server behind the client's last zxid must refuse it")
        let resumed = machine.connectResponseReceived(ConnectResponse(timeout: 6000, sessionID: 0x42, password: [9, 9]))
        #expect(resumed == [.established(.init(sessionID: 0x42, timeout: .seconds(6), readOnly: false, resumed: true, server: 1))])
    }

    @Test func expiredSessionIsReportedAndANewOneStarts() {
        var machine = ConnectionStateMachine(serverCount: 2, requestedTimeout: .seconds(4))
        _ = machine.start()
        _ = established(&machine, session: 7)
        _ = machine.connectionLost()
        _ = machine.channelConnected()
        let expired = machine.connectResponseReceived(ConnectResponse(timeout: 0, sessionID: 0, password: []))
        #expect(expired == [.closeChannel, .failRequests(.sessionExpired), .reportExpired(sessionID: 7), .connect(server: 1, timeout: .seconds(2))])
        guard case .sendConnectRequest(let request) = machine.channelConnected().first else {
            Issue.record("expected a ConnectRequest")
            return
        }
        #expect(request.sessionID == 0, "after expiry the client asks for a new session")
        let fresh = machine.connectResponseReceived(ConnectResponse(timeout: 4000, sessionID: 8, password: [1]))
        #expect(fresh.first.map { if case .established(let info) = $0 { return info.resumed == false && info.sessionID == 8 } else { return false } } == true)
    }

    @Test func aRoundOfFailuresBacksOffExponentiallyUpToTheCap() {
        var machine = ConnectionStateMachine(serverCount: 2, requestedTimeout: .seconds(10), minimumBackoff: .milliseconds(100), maximumBackoff: .milliseconds(300))
        #expect(machine.start() == [.connect(server: 0, timeout: .seconds(5))])
        #expect(machine.connectFailed() == [.closeChannel, .failRequests(.connectionLoss), .connect(server: 1, timeout: .seconds(5))], "no session yet")
        #expect(machine.connectFailed() == [.closeChannel, .failRequests(.connectionLoss), .scheduleReconnect(after: .milliseconds(100))])
        #expect(machine.backoffElapsed() == [.connect(server: 0, timeout: .seconds(5))])
        _ = machine.connectFailed()
        #expect(machine.connectFailed().last == .scheduleReconnect(after: .milliseconds(200)))
        _ = machine.backoffElapsed()
        _ = machine.connectFailed()
        #expect(machine.connectFailed().last == .scheduleReconnect(after: .milliseconds(300)))
        _ = machine.backoffElapsed()
        _ = machine.connectFailed()
        #expect(machine.connectFailed().last == .scheduleReconnect(after: .milliseconds(300)), "capped")
        // A success resets the backoff.
        _ = machine.backoffElapsed()
        _ = established(&machine)
        _ = machine.connectionLost()
        _ = machine.connectFailed()
        #expect(machine.connectFailed().last == .scheduleReconnect(after: .milliseconds(100)))
    }

    @Test func queuedRequestsFailWithAnAttemptOnlyBeforeTheFirstSession() {
        var machine = ConnectionStateMachine(serverCount: 2, requestedTimeout: .seconds(4))
        _ = machine.start()
        #expect(machine.connectFailed().contains(.failRequests(.connectionLoss)), "no session to wait for: an unreachable ensemble is a quick error")
        _ = established(&machine)
        let lost = machine.connectionLost()
        #expect(lost.contains(.failInFlight(.connectionLoss)))
        #expect(!lost.contains(.failRequests(.connectionLoss)), "requests not yet sent wait for the next connection")
        let failed = machine.connectFailed()
        #expect(failed.contains(.failStaleQueued))
        #expect(!failed.contains(.failRequests(.connectionLoss)))
        // A read-only server refused while resuming is one more failed attempt, not a reason to fail everything.
        _ = machine.channelConnected()
        let refused = machine.connectResponseReceived(ConnectResponse(timeout: 4000, sessionID: 0x42, password: [9, 9], readOnly: true))
        #expect(refused.contains(.failStaleQueued))
        // An expired session fails everything: the requests were meant for it.
        _ = machine.backoffElapsed()
        _ = machine.channelConnected()
        #expect(machine.connectResponseReceived(ConnectResponse(timeout: 0, sessionID: 0, password: [])).contains(.failRequests(.sessionExpired)))
    }

    @Test func readOnlyServerIsSkippedUnlessAllowed() {
        var strict = ConnectionStateMachine(serverCount: 2, requestedTimeout: .seconds(4))
        _ = strict.start()
        let refused = established(&strict, readOnly: true)
        #expect(refused.contains(.connect(server: 1, timeout: .seconds(2))))
        #expect(!strict.isConnected)

        var lenient = ConnectionStateMachine(serverCount: 2, requestedTimeout: .seconds(4), allowReadOnly: true)
        _ = lenient.start()
        guard case .sendConnectRequest(let request) = lenient.channelConnected().first else {
            Issue.record("expected a ConnectRequest")
            return
        }
        #expect(request.readOnly)
        let accepted = lenient.connectResponseReceived(ConnectResponse(timeout: 4000, sessionID: 1, password: [], readOnly: true))
        #expect(accepted.first.map { if case .established(let info) = $0 { return info.readOnly } else { return false } } == true)
    }

    @Test func closeSendsCloseSessionThenFinishes() {
        var machine = ConnectionStateMachine(serverCount: 1, requestedTimeout: .seconds(4))
        _ = machine.start()
        _ = established(&machine)
        #expect(machine.closeRequested() == [.sendCloseSession])
        #expect(machine.closeRequested() == [], "closing twice does nothing more")
        #expect(machine.closeCompleted() == [.closeChannel, .reportClosed])
        #expect(machine.state == .closed)
        #expect(machine.connectionLost() == [], "a closed client does not reconnect")
    }

    @Test func closeWhileDisconnectedFinishesAtOnce() {
        var machine = ConnectionStateMachine(serverCount: 2, requestedTimeout: .seconds(4))
        _ = machine.start()
        #expect(machine.closeRequested() == [.closeChannel, .reportClosed])
        #expect(machine.backoffElapsed() == [])
        #expect(machine.channelConnected() == [.closeChannel], "a connection that completes after close is dropped")
    }

    @Test func connectionLostDuringCloseFinishesTheClose() {
        var machine = ConnectionStateMachine(serverCount: 1, requestedTimeout: .seconds(4))
        _ = machine.start()
        _ = established(&machine)
        _ = machine.closeRequested()
        #expect(machine.connectionLost() == [.closeChannel, .reportClosed])
    }

    @Test func lastZxidOnlyMovesForward() {
        var machine = ConnectionStateMachine(serverCount: 1, requestedTimeout: .seconds(4))
        machine.zxidSeen(Zxid(10))
        machine.zxidSeen(Zxid(5))
        #expect(machine.lastZxidSeen == Zxid(10))
    }
}
