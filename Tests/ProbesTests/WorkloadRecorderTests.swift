import Foundation
import Probes
import Testing
import ZooKeeper

/// Stall, bucket and ledger accounting of the workloads, fed with made-up samples.
@Suite struct WorkloadRecorderTests {
    private func sample(_ member: String, _ start: Double, _ end: Double, _ outcome: OperationOutcome = .succeeded) -> OperationSample {
        OperationSample(member: member, start: start, end: end, outcome: outcome)
    }

    @Test func aStallRunsFromTheFirstUnansweredOperationToTheNextSuccess() {
        var recorder = ClientGroupRecorder(group: "writers", started: 0)
        recorder.record(sample("w1", 0, 0.01))
        recorder.record(sample("w1", 1.0, 1.2, .unknown(.connectionLoss)))
        recorder.record(sample("w1", 1.25, 1.3, .failed(.sessionMoved)))
        recorder.record(sample("w1", 1.35, 2.5))
        recorder.record(sample("w2", 1.0, 1.01))  // another member is not stalled
        let report = recorder.report(stopped: 3)
        #expect(report.stalls == [StallInterval(member: "w1", start: 1.0, end: 2.5)])
        #expect(abs(report.longestStallSeconds - 1.5) < 1e-9)
        #expect(report.members.map(\.member) == ["w1", "w2"])
        #expect(report.members[0].longestStallSeconds == report.longestStallSeconds)
        #expect(report.members[1].longestStallSeconds == 0)
    }

    @Test func idlePacingAndShortOutagesAreNotStalls() {
        var recorder = ClientGroupRecorder(group: "g", started: 0, stallThreshold: .seconds(1))
        // One write every five seconds: idle between them.
        recorder.record(sample("a", 0, 0.01))
        recorder.record(sample("a", 5, 5.01))
        // An outage of 0.5 s.
        recorder.record(sample("a", 6, 6.2, .unknown(.connectionLoss)))
        recorder.record(sample("a", 6.3, 6.5))
        #expect(recorder.report(stopped: 10).stalls.isEmpty)
    }

    @Test func aSlowSuccessIsAStallOfItsOwnLength() {
        var recorder = ClientGroupRecorder(group: "g", started: 0)
        recorder.record(sample("a", 1, 1.01))
        recorder.record(sample("a", 3, 4.5))
        #expect(recorder.report(stopped: 5).stalls == [StallInterval(member: "a", start: 3, end: 4.5)])
    }

    @Test func anotherOperationsSuccessRestartsTheClock() {
        // A member with concurrent operations: B succeeds while A hangs, so the member's wait
        // starts at B's success, not at A's start.
        var recorder = ClientGroupRecorder(group: "g", started: 0)
        recorder.record(sample("m", 1.5, 1.6))  // B
        recorder.record(sample("m", 1.0, 3.0, .unknown(.connectionLoss)))  // A
        recorder.record(sample("m", 3.1, 3.2))  // C
        #expect(recorder.report(stopped: 4).stalls == [StallInterval(member: "m", start: 1.6, end: 3.2)])
    }

    @Test func aLateOldSuccessDoesNotEndALaterWait() {
        var recorder = ClientGroupRecorder(group: "g", started: 0)
        recorder.record(sample("m", 0, 1.0))
        recorder.record(sample("m", 2.0, 2.1, .unknown(.connectionLoss)))
        recorder.record(sample("m", 0.5, 0.9))  // completed earlier, recorded late
        recorder.record(sample("m", 3.5, 3.6))
        #expect(recorder.report(stopped: 4).stalls == [StallInterval(member: "m", start: 2.0, end: 3.6)])
    }

    @Test func aPlannedRestartIsRestartTimeNotAStall() {
        var recorder = ClientGroupRecorder(group: "kafka", started: 0)
        recorder.record(sample("broker-1", 9.9, 10.0))
        recorder.record(sample("broker-1", 10.0, 10.1, .unknown(.connectionLoss)))
        recorder.restartBegan(member: "broker-1", at: 10.5, connectionString: "b:2181")
        recorder.record(sample("broker-1", 10.6, 12.0, .unknown(.connectionLoss)))  // during the restart
        recorder.record(sample("broker-1", 12.5, 13.0))  // registration
        let interval = recorder.restartEnded(member: "broker-1", at: 13.0)
        recorder.record(sample("broker-1", 13.1, 13.2))
        #expect(interval == RestartInterval(member: "broker-1", start: 10.5, end: 13.0, connectionString: "b:2181"))
        let report = recorder.report(stopped: 14)
        #expect(report.stalls.isEmpty)
        #expect(report.restarts == [interval])
        #expect(report.members[0].restarts == 1)
        // The restart's own operations still count as operations.
        #expect(report.operations == 5)
        #expect(report.unknown == 2)
    }

    @Test func aStoppedMemberIsOneRestartFromItsStopUntilItIsBackElsewhere() {
        var recorder = ClientGroupRecorder(group: "kafka", started: 0)
        recorder.record(sample("broker-1", 1, 1.1))
        recorder.restartBegan(member: "broker-1", at: 2, connectionString: "(stopped)")
        recorder.restartTarget(member: "broker-1", connectionString: "dst:2181/kafka")
        let interval = recorder.restartEnded(member: "broker-1", at: 6.5)
        #expect(interval == RestartInterval(member: "broker-1", start: 2, end: 6.5, connectionString: "dst:2181/kafka"))
        let report = recorder.report(stopped: 8)
        #expect(report.restarts == [interval])
        #expect(report.stalls.isEmpty)
        // A target for a member that is not restarting changes nothing.
        recorder.restartTarget(member: "broker-1", connectionString: "elsewhere:1")
        #expect(recorder.report(stopped: 8).restarts == [interval])
    }

    @Test func aStallInProgressWhenARestartBeginsEndsThere() {
        var recorder = ClientGroupRecorder(group: "kafka", started: 0)
        recorder.record(sample("broker-2", 20, 20.5, .unknown(.connectionLoss)))
        recorder.restartBegan(member: "broker-2", at: 22, connectionString: "x:1")
        recorder.restartEnded(member: "broker-2", at: 23)
        #expect(recorder.report(stopped: 24).stalls == [StallInterval(member: "broker-2", start: 20, end: 22)])
    }

    @Test func stallsAndRestartsStillOpenAtTheStopAreReportedOpen() {
        var recorder = ClientGroupRecorder(group: "g", started: 0)
        recorder.record(sample("a", 5, 6, .unknown(.connectionLoss)))
        recorder.record(sample("b", 7, 7.5, .interrupted))  // cut short by the stop: only the wait counts
        recorder.restartBegan(member: "c", at: 8, connectionString: "z:1")
        let report = recorder.report(stopped: 9)
        #expect(report.stalls == [StallInterval(member: "a", start: 5, end: 9, open: true), StallInterval(member: "b", start: 7, end: 9, open: true)])
        #expect(report.restarts == [RestartInterval(member: "c", start: 8, end: 9, connectionString: "z:1", completed: false)])
        #expect(report.operations == 1, "interrupted operations are not counted")
    }

    @Test func aRestartThatNeverCompletedIsKeptWhenTheMemberIsRestartedAgain() {
        var recorder = ClientGroupRecorder(group: "kafka", started: 0)
        recorder.restartBegan(member: "broker-1", at: 1, connectionString: "gone:1")
        recorder.restartBegan(member: "broker-1", at: 5, connectionString: "b:2181")
        recorder.restartEnded(member: "broker-1", at: 6)
        let report = recorder.report(stopped: 7)
        #expect(report.restarts == [
            RestartInterval(member: "broker-1", start: 1, end: 5, connectionString: "gone:1", completed: false),
            RestartInterval(member: "broker-1", start: 5, end: 6, connectionString: "b:2181"),
        ])
        #expect(report.members[0].restarts == 2)
    }

    @Test func bucketsCoverTheRunAndCountByCompletion() {
        var recorder = ClientGroupRecorder(group: "g", started: 0, bucketWidth: .milliseconds(250))
        recorder.record(sample("a", 0.05, 0.1))
        recorder.record(sample("a", 0.15, 0.2))
        recorder.record(sample("a", 0.21, 0.3, .failed(.noNode)))
        recorder.record(sample("a", 0.3, 0.9))
        let report = recorder.report(stopped: 1.0)
        #expect(report.bucketSeconds == 0.25)
        #expect(report.buckets.map(\.start) == [0, 0.25, 0.5, 0.75, 1.0])
        #expect(report.buckets.map(\.successes) == [2, 0, 0, 1, 0])
        #expect(report.buckets.map(\.failures) == [0, 1, 0, 0, 0])
        #expect(abs(report.buckets[3].maxLatencyMilliseconds - 600) < 1e-6)
        #expect(abs(report.buckets[0].maxLatencyMilliseconds - 50) < 1e-6)
    }

    @Test func failuresAreCountedByCodeAndOutcome() {
        var recorder = ClientGroupRecorder(group: "g", started: 0)
        recorder.record(sample("a", 0, 0.1, .unknown(.connectionLoss)))
        recorder.record(sample("a", 0.1, 0.2, .unknown(.connectionLoss)))
        recorder.record(sample("b", 0.1, 0.2, .failed(.sessionExpired)))
        recorder.record(sample("b", 0.2, 0.3))
        recorder.sessionExpired(member: "b", at: 0.15, sessionID: 0x1_0000_00ab)
        let report = recorder.report(stopped: 1)
        #expect(report.operations == 4)
        #expect(report.succeeded == 1)
        #expect(report.failed == 1)
        #expect(report.unknown == 2)
        #expect(report.failedOperations == 3)
        #expect(report.failuresByCode == ["connectionLoss": 2, "sessionExpired": 1])
        #expect(report.members.first { $0.member == "a" }?.failuresByCode == ["connectionLoss": 2])
        #expect(report.sessionExpirations == [SessionExpiration(member: "b", time: 0.15, sessionID: 0x1_0000_00ab)])
        #expect(report.sessionExpirations[0].sessionID == "0x1000000ab")
        #expect(report.members.first { $0.member == "b" }?.sessionsExpired == 1)
    }

    @Test func membersAddedUpFrontAppearWithoutSamples() {
        var recorder = ClientGroupRecorder(group: "g", started: 0)
        recorder.addMember("broker-1", at: 0)
        recorder.addMember("broker-2", at: 0)
        recorder.controllerElected(ControllerElection(time: 2, member: "broker-2", brokerID: 2, epoch: 2))
        recorder.controllerElected(ControllerElection(time: 1, member: "broker-1", brokerID: 1, epoch: 1))
        let report = recorder.report(stopped: 3)
        #expect(report.members.map(\.member) == ["broker-1", "broker-2"])
        #expect(report.members.allSatisfy { $0.operations == 0 })
        #expect(report.controllerElections.map(\.epoch) == [1, 2])
    }

    @Test func errorsAreClassifiedByWhetherTheOperationMayHaveBeenApplied() {
        #expect(OperationOutcome(ZooKeeperError(.connectionLoss)) == .unknown(.connectionLoss))
        #expect(OperationOutcome(ZooKeeperError(.operationTimeout)) == .unknown(.operationTimeout))
        #expect(OperationOutcome(ZooKeeperError(.nodeExists)) == .failed(.nodeExists))
        #expect(OperationOutcome(ZooKeeperError(.sessionExpired)) == .failed(.sessionExpired))
        #expect(OperationOutcome(ZooKeeperError(.clientClosed)) == .interrupted)
        #expect(OperationOutcome(CancellationError()) == .interrupted)
    }

    @Test func theReportRoundTripsThroughJSON() throws {
        var recorder = ClientGroupRecorder(group: "g", started: 0)
        recorder.record(sample("a", 0, 0.1))
        recorder.record(sample("a", 1, 2.5, .unknown(.connectionLoss)))
        recorder.record(sample("a", 2.6, 2.7))
        recorder.controllerElected(ControllerElection(time: 1, member: "a", brokerID: 1, epoch: 1))
        let report = recorder.report(stopped: 3)
        let decoded = try JSONDecoder().decode(ClientGroupReport.self, from: JSONEncoder().encode(report))
        #expect(decoded == report)
    }
}

@Suite struct WriterLedgerTests {
    @Test func lostAndUnacknowledgedNumbersAreExact() {
        let ledger = WriterLedger(writer: 1, path: "/w/w1", firstNumber: 3, acknowledged: [3...7, 9...9], acknowledgedLate: [5], inDoubt: 10)
        #expect(ledger.acknowledgedCount == 6)
        // 1 and 2 are an earlier run's; 5 is missing; 8 and 10 were never acknowledged.
        let check = ledger.verification(present: [1, 2, 3, 4, 6, 7, 8, 9, 10], wrongData: [7])
        #expect(check.lost == [5])
        #expect(check.wrongData == [7])
        #expect(check.unacknowledgedPresent == [8, 10])
        #expect(check.present == 7)
        #expect(check.acknowledged == 6)
        let all = WriteVerification(writers: [check])
        #expect(!all.passed)
        #expect(all.lost == 1)
    }

    @Test func aCompleteTreePasses() {
        let ledger = WriterLedger(writer: 2, path: "/w/w2", firstNumber: 1, acknowledged: [1...100])
        let check = WriteVerification(writers: [ledger.verification(present: Set(1...100))])
        #expect(check.passed)
        #expect(check.acknowledged == 100)
        #expect(check.unacknowledgedPresent == 0)
    }

    @Test func aMissingTreeLosesEverything() {
        let ledger = WriterLedger(writer: 3, path: "/w/w3", firstNumber: 1, acknowledged: [1...4])
        #expect(ledger.verification(present: []).lost == [1, 2, 3, 4])
    }
}
