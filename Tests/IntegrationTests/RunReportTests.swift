import Foundation
import Migration
import MigrationPlanning
import NIOPosix
import Rehearsal
import Reports
import Testing

/// `mitosis run --resume` reports the whole migration: the earlier segments come from the journal.
@Suite struct RunReportTests {
    static let plan = Plan(
        strategy: .copy, source: PlanEnsemble(name: "src", version: .v3_8_0, servers: [], initialData: .holdsData, initiallyRunning: true),
        destination: PlanEnsemble(name: "dst", version: .v3_9_3, servers: [], initialData: .holdsData, initiallyRunning: true),
        clientGroups: [],
        steps: [Step(id: "one", title: "One", why: "first segment", actions: []), Step(id: "two", title: "Two", why: "second segment", actions: [])],
        pointOfNoReturn: nil, impactWindows: [])

    @Test func aResumedRunReportsEverySegmentFromTheJournal() {
        let first = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) - 600)
        let earlier = [
            ExecutionEvent(time: first, kind: .planStarted, summary: "copy from src to dst, 2 steps"),
            ExecutionEvent(time: first.addingTimeInterval(1), kind: .stepStarted, step: "one", summary: "One"),
            ExecutionEvent(time: first.addingTimeInterval(5), kind: .stepFinished, step: "one", summary: "One"),
            ExecutionEvent(time: first.addingTimeInterval(5), kind: .paused, step: "one", summary: "paused after one"),
        ]
        let observer = RunObserver(plan: Self.plan, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, earlier: earlier)
        observer.record(ExecutionEvent(kind: .resumed, summary: "resuming after one"))
        observer.record(ExecutionEvent(kind: .stepSkipped, step: "one", summary: "One"))
        observer.record(ExecutionEvent(kind: .stepStarted, step: "two", summary: "Two"))
        observer.record(ExecutionEvent(kind: .stepFinished, step: "two", summary: "Two"))
        let report = observer.report(outcome: "finished", passed: true, detail: nil)

        #expect(report.startedAt == first, "the report starts with the first segment")
        #expect(report.steps.map(\.id) == ["one", "two"])
        #expect(report.steps.first?.start == 1 && report.steps.first?.end == 5, "the journal's times, from the first segment's start")
        #expect((report.steps.last?.start ?? 0) >= 600, "this segment's steps come after the gap")
        #expect(report.verdict.contains { $0.name == "runs" && $0.value == "2 segments" })
        #expect(report.events.contains { $0.kind == .resumed })
    }

    @Test func aRunWithoutEarlierSegmentsReportsOnlyItself() {
        let observer = RunObserver(plan: Self.plan, eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let report = observer.report(outcome: "finished", passed: true, detail: nil)
        #expect(!report.verdict.contains { $0.name == "runs" })
        #expect(report.steps.isEmpty)
    }
}
