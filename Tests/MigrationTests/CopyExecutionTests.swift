import Ensemble
import Foundation
import Probes
import Testing
import TreeCopy
import ZooKeeper

@testable import Migration
@testable import MigrationPlanning

/// Block & copy's execution without servers: which followers a resumed run starts again, how the
/// catch-up gate dates a difference, and the promise the follow action waits on.
@Suite struct CopyExecutionTests {
    static func event(_ kind: ExecutionEvent.Kind, _ step: StepID, _ action: Int? = nil) -> ExecutionEvent {
        ExecutionEvent(kind: kind, step: step, action: action, summary: "")
    }

    @Test func aResumedRunFollowsAgainWhatStartedAndWasNotCaughtUp() throws {
        let plan = try Fixtures.plan(.copy, 3, 3)
        let follow = try #require(plan.step("copy-follow"))
        #expect(follow.actions.count == 1)
        func restarted(_ events: [ExecutionEvent]) -> [String] {
            MigrationExecutor.followsToRestart(plan: plan, journal: JournalState(events: events)).map { "\($0.0)/\($0.1) \($0.2.path)" }
        }
        // Nothing followed yet: nothing to start again.
        #expect(restarted([Self.event(.actionFinished, "copy-initial", 0), Self.event(.stepFinished, "copy-initial")]).isEmpty)
        // Started and killed before its first compare finished, or finished: it follows again.
        #expect(restarted([Self.event(.actionStarted, "copy-follow", 0)]) == ["copy-follow/0 /kafka"])
        let following = [Self.event(.actionStarted, "copy-follow", 0), Self.event(.actionFinished, "copy-follow", 0), Self.event(.stepFinished, "copy-follow")]
        #expect(restarted(following) == ["copy-follow/0 /kafka"])
        #expect(restarted(following + [Self.event(.actionFinished, "block", 0), Self.event(.actionStarted, "catch-up", 0)]) == ["copy-follow/0 /kafka"])
        // Once the final catch-up finished, following is over.
        #expect(restarted(following + [Self.event(.actionStarted, "catch-up", 0), Self.event(.actionFinished, "catch-up", 0)]).isEmpty)
    }

    @Test func rollingBackAfterTheBlockStartsTheMembersAgainOnTheSource() throws {
        let plan = try Fixtures.plan(.copy, 3, 3)
        var events: [ExecutionEvent] = []
        for step in ["preflight", "copy-initial", "copy-follow", "block", "catch-up"] as [StepID] {
            for index in plan.step(step)!.actions.indices {
                events.append(ExecutionEvent(kind: .actionFinished, step: step, action: index, summary: "", changed: true))
            }
            events.append(Self.event(.stepFinished, step))
        }
        let back = try Rollback.plan(for: Prover.prove(plan), journal: JournalState(events: events))
        #expect(back.steps.map(\.id) == ["rollback-block"])
        let starts = back.steps[0].actions.compactMap { action -> ClientSwitch? in
            if case .switchClient(let change) = action { return change }
            return nil
        }
        #expect(starts.map(\.client.member) == ["broker-3", "broker-2", "broker-1"])
        #expect(starts.allSatisfy { $0.from == $0.to && $0.to == plan.clientGroups[0].members[0].connectionString && $0.restart == "systemctl restart kafka" })
    }

    @Test func theCatchUpGateExcusesOnlyChangesAfterItsWatermark() {
        let watermark = Zxid(100)
        func verdict(_ kind: TreeDifference.Kind, node: Stat?, ancestor: Stat? = nil, acls: Bool = false) -> CatchUpCheck.Verdict {
            CatchUpCheck.verdict(TreeDifference(path: "/a/b", kind: kind), node: node, nearestAncestor: ancestor, watermark: watermark, acceptACLDifferences: acls)
        }
        // Data: a later change is on its way; an earlier one was missed.
        #expect(verdict(.data, node: Stat(czxid: Zxid(5), mzxid: Zxid(101))) == .newer)
        #expect(verdict(.data, node: Stat(czxid: Zxid(5), mzxid: Zxid(100))) == .behind)
        #expect(verdict(.data, node: nil) == .newer, "deleted after the comparison read it")
        // Missing on the destination: fine only if created after the watermark, even if changed since.
        #expect(verdict(.onlyLeft, node: Stat(czxid: Zxid(150), mzxid: Zxid(150))) == .newer)
        #expect(verdict(.onlyLeft, node: Stat(czxid: Zxid(50), mzxid: Zxid(150))) == .behind)
        // Only on the destination: deleted on the source after the watermark (its parent's pzxid says so).
        #expect(verdict(.onlyRight, node: nil, ancestor: Stat(pzxid: Zxid(120))) == .newer)
        #expect(verdict(.onlyRight, node: nil, ancestor: Stat(pzxid: Zxid(90))) == .behind)
        #expect(verdict(.onlyRight, node: nil, ancestor: nil) == .behind)
        // ACL changes record no zxid: a running follower leaves them to its final catch-up.
        #expect(verdict(.acl, node: Stat(mzxid: Zxid(1)), acls: true) == .aclLeftToFinalCatchUp)
        #expect(verdict(.acl, node: Stat(mzxid: Zxid(1)), acls: false) == .behind)
    }

    @Test func aPromiseDeliversOnceToEveryWaiterAndLetsACancelledOneGo() async throws {
        let promise = Promise<Int>()
        async let first = promise.value()
        async let second = promise.value()
        try await Task.sleep(for: .milliseconds(50))
        promise.resolve(.success(7))
        promise.resolve(.success(8))
        #expect(try await first == 7)
        #expect(try await second == 7)
        #expect(try await promise.value() == 7)

        let never = Promise<Int>()
        let waiting = Task { try await never.value() }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }
}
