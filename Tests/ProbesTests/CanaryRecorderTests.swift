import Probes
import Testing
import ZooKeeper

@Suite struct CanaryRecorderTests {
    @Test func aStallRunsFromTheFirstFailureToTheNextSuccess() {
        var recorder = CanaryRecorder(group: "kafka", slowThreshold: .milliseconds(500), started: 100)
        _ = recorder.record(start: 100.0, end: 100.01, error: nil, server: "a", zxid: Zxid(epoch: 1, counter: 1))
        let failed = recorder.record(start: 101.0, end: 103.0, error: "connectionLoss", server: "a", zxid: nil)
        #expect(failed.map(\.kind) == [.failed, .stallStarted])
        _ = recorder.record(start: 103.02, end: 103.5, error: "connectionLoss", server: nil, zxid: nil)
        let recovered = recorder.record(start: 103.6, end: 103.7, error: nil, server: "b", zxid: Zxid(epoch: 2, counter: 1))
        #expect(recovered.map(\.kind) == [.stallEnded, .leaderChanged])
        let summary = recorder.summary(stopped: 104)
        #expect(summary.stalls == [Stall(start: 101.0, end: 103.7, open: false)])
        #expect(abs(summary.longestStallMilliseconds - 2700) < 0.001)
        #expect(summary.failed == 2)
        #expect(summary.operations == 4)
        #expect(summary.leaderChanges == 1)
        #expect(summary.firstZxid == "0x100000001")
        #expect(summary.lastZxid == "0x200000001")
    }

    @Test func aSlowSuccessIsAStallOfItsOwnLength() {
        var recorder = CanaryRecorder(group: "g", slowThreshold: .milliseconds(200), started: 0)
        let events = recorder.record(start: 10, end: 10.75, error: nil, server: "a", zxid: nil)
        #expect(events.map(\.kind) == [.slow, .stallStarted, .stallEnded])
        #expect(recorder.summary(stopped: 11).stalls == [Stall(start: 10, end: 10.75, open: false)])
        #expect(recorder.slow == 1)
    }

    @Test func aStallStillOpenAtTheEndIsReportedOpen() {
        var recorder = CanaryRecorder(group: "g", slowThreshold: .milliseconds(200), started: 0)
        _ = recorder.record(start: 5, end: 6, error: "connectionLoss", server: nil, zxid: nil)
        let summary = recorder.summary(stopped: 9)
        #expect(summary.stalls == [Stall(start: 5, end: 9, open: true)])
        #expect(summary.longestStallMilliseconds == 4000)
    }

    @Test func sessionEventsAreCounted() {
        var recorder = CanaryRecorder(group: "g", slowThreshold: .milliseconds(200), started: 0)
        _ = recorder.record(state: .suspended, at: 1)
        _ = recorder.record(state: .expired(sessionID: 5), at: 2)
        let connected = recorder.record(state: .connected(sessionID: 6, server: "b:2181", readOnly: false), at: 3)
        #expect(connected.server == "b:2181")
        let summary = recorder.summary(stopped: 4)
        #expect(summary.disconnects == 1)
        #expect(summary.sessionsExpired == 1)
    }

    @Test func latencyPercentilesComeFromEveryOperation() {
        var recorder = CanaryRecorder(group: "g", slowThreshold: .seconds(10), started: 0)
        for index in 0..<100 {
            _ = recorder.record(start: Double(index), end: Double(index) + Double(index + 1) / 1000, error: nil, server: "a", zxid: nil)
        }
        let summary = recorder.summary(stopped: 200)
        #expect(abs(summary.p50Milliseconds - 50) <= 1)
        #expect(abs(summary.p99Milliseconds - 99) <= 1)
        #expect(summary.maximumMilliseconds >= 99.9 && summary.maximumMilliseconds <= 100.1)
        #expect(summary.stalls.isEmpty)
    }
}
