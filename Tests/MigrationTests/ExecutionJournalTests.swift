import Ensemble
import Foundation
import Testing

@testable import Migration
@testable import MigrationPlanning

/// A journal of a run that did `plan`'s steps up to and including `last`: every action started and
/// finished (config writes, restarts, starts and firewall rules changed something; stops of
/// servers that were not running and waits did not), except the actions listed as interrupted,
/// which started and never finished.
func journal(
    of plan: Plan, through last: StepID, interrupted: Set<StepID> = [], previousContents: [StepID: [Int: [String: String]]] = [:]
) throws -> JournalState {
    var events = [ExecutionEvent(kind: .planStarted, summary: "test", plan: try Journal.fingerprint(of: plan))]
    for step in plan.steps {
        events.append(ExecutionEvent(kind: .stepStarted, step: step.id, summary: step.title))
        for (index, action) in step.actions.enumerated() {
            events.append(ExecutionEvent(kind: .actionStarted, step: step.id, action: index, summary: action.summary))
            if interrupted.contains(step.id) { continue }
            let changed: Bool
            switch action {
            case .stopServer, .wait: changed = false
            default: changed = true
            }
            // As the executor records a config write: what the file held before (here, what the
            // planner believed, unless the test gives the real contents).
            var previous = previousContents[step.id]?[index]
            if previous == nil, case .writeConfig(let write) = action, let text = write.previousText { previous = [write.configPath: text] }
            events.append(
                ExecutionEvent(
                    kind: .actionFinished, step: step.id, action: index, summary: action.summary, changed: changed,
                    previousContents: previous))
        }
        if interrupted.contains(step.id) { break }
        events.append(ExecutionEvent(kind: .stepFinished, step: step.id, summary: step.title))
        if step.id == last { break }
    }
    return JournalState(events: events)
}

extension Step {
    var restartedServers: [ServerID] { actions.compactMap { if case .restartServer(let ref) = $0 { ref.id } else { nil } } }
    var stoppedServers: [ServerID] { actions.compactMap { if case .stopServer(let ref) = $0 { ref.id } else { nil } } }
    var startedServers: [ServerID] { actions.compactMap { if case .startServer(let ref) = $0 { ref.id } else { nil } } }
    var writes: [ConfigWrite] { actions.compactMap { if case .writeConfig(let write) = $0 { write } else { nil } } }
}

@Suite struct RollbackPlans {
    /// Stopped in the second join round of a 3→3 mitosis: the second round is undone first, then
    /// the first; in each, the server the round started is stopped first (a restarted server would
    /// ignore it as a leader, and with its old file back it could lead its old membership), then
    /// the files are restored, then the restarts run in reverse order gated on the round's previous
    /// membership, and only actions that changed something are undone.
    @Test func undoesRoundsLastFirstTheNewServerThenConfigsThenRestartsInReverse() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let joinWrite = try #require(plan.step("join-4-configs")?.writes.firstIndex { $0.server.id == 1 })
        let recorded = "# what server 1's file really held\n4lw.commands.whitelist=*\nserver.1=10.1.0.1:2888:3888\nserver.2=10.1.0.2:2888:3888\nserver.3=10.1.0.3:2888:3888\n"
        let state = try journal(
            of: plan, through: "join-5-restart-1",
            previousContents: ["join-4-configs": [joinWrite: ["/etc/zookeeper/conf/zoo.cfg": recorded]]])
        let back = try Rollback.plan(for: Prover.prove(plan), journal: state)

        #expect(
            back.steps.map(\.id.rawValue) == [
                "rollback-join-5-start", "rollback-3-configs", "rollback-join-5-restart-1",
                "rollback-join-4-start", "rollback-2-configs", "rollback-join-4-restart-3", "rollback-join-4-restart-2", "rollback-join-4-restart-1",
            ])
        let steps = Dictionary(uniqueKeysWithValues: back.steps.map { ($0.id.rawValue, $0) })
        // Round 3 (server 5): every joint server's file back to {1,2,3,4}; server 5's to its own list.
        let round3 = try #require(steps["rollback-3-configs"]).writes
        #expect(Set(round3.map(\.server.id)) == [1, 2, 3, 4, 5])
        for write in round3 {
            #expect(write.membership == Membership(voters: write.server.id == 5 ? [4, 5, 6] : [1, 2, 3, 4]), "\(write.server)")
        }
        #expect(steps["rollback-join-5-start"]?.stoppedServers == [5])
        #expect(steps["rollback-join-5-restart-1"]?.restartedServers == [1])
        let joint = try #require(plan.step("join-5-configs")?.gatesBefore.first)
        #expect(steps["rollback-join-5-start"]?.gatesAfter == [joint], "after stopping 5 the previous membership {1,2,3,4} must serve")
        #expect(steps["rollback-join-5-restart-1"]?.gatesAfter == [joint])

        // Round 2 (server 4): back to the source's own lists, from what the journal recorded.
        let round2 = try #require(steps["rollback-2-configs"]).writes
        #expect(Set(round2.map(\.server.id)) == [1, 2, 3, 4])
        for write in round2 {
            #expect(write.membership == Membership(voters: write.server.id == 4 ? [4, 5, 6] : [1, 2, 3]), "\(write.server)")
        }
        let server1 = try #require(round2.first { $0.server.id == 1 })
        #expect(server1.text == recorded && server1.restoresExactly == true, "the recorded file, not the planner's belief, is restored byte for byte")
        #expect(steps["rollback-join-4-start"]?.stoppedServers == [4])
        let source = Gate.quorumHealthy(ensemble: plan.source.name, servers: plan.source.refs)
        for id in ["rollback-join-4-start", "rollback-join-4-restart-3", "rollback-join-4-restart-2"] {
            #expect(steps[id]?.gatesAfter == [source], "\(id)")
        }
        #expect(back.steps.last?.gatesAfter == [source])

        // The destination was not running, so stopping it in the preflight changed nothing: it is not started.
        #expect(!back.steps.contains { !$0.startedServers.isEmpty })
        #expect(back.pointOfNoReturn == nil)
        #expect(try Prover.check(plan).isSafe)
    }

    /// An action that started and never finished may have taken effect: it is undone too.
    @Test func undoesAnInterruptedAction() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let back = try Rollback.plan(for: Prover.prove(plan), journal: try journal(of: plan, through: "join-4-start", interrupted: ["join-4-start"]))
        #expect(back.steps.map(\.id.rawValue) == ["rollback-join-4-start", "rollback-2-configs"])
        #expect(back.steps.first?.stoppedServers == [4])
    }

    @Test func refusesOnceThePointOfNoReturnStarted() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let point = try #require(plan.pointOfNoReturn)
        let started = try journal(of: plan, through: point, interrupted: [point])
        let error = #expect(throws: ExecutionError.self) { try Rollback.plan(for: Prover.prove(plan), journal: started) }
        #expect(error?.code == .pastPointOfNoReturn)
        #expect(error?.step == point)
        let before = try #require(plan.index(of: point)).advanced(by: -1)
        #expect(throws: Never.self) { try Rollback.plan(for: Prover.prove(plan), journal: try journal(of: plan, through: plan.steps[before].id)) }
    }

    @Test func nothingDoneNothingToUndo() throws {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        #expect(try Rollback.plan(for: Prover.prove(plan), journal: JournalState(events: [])).steps.isEmpty)
        // The preflight only stopped servers that were not running.
        #expect(try Rollback.plan(for: Prover.prove(plan), journal: try journal(of: plan, through: "preflight")).steps.isEmpty)
    }
}

@Suite struct Journals {
    func temporaryPath() -> String {
        NSTemporaryDirectory() + "mitosis-journal-test-\(UUID().uuidString)/plan.journal"
    }

    /// What a kill leaves: a last line cut short. It is ignored, and the next event starts on a
    /// line of its own, so the journal stays readable after the resume.
    @Test func aTornLastLineIsDroppedWhenTheRunResumes() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let journal = Journal(path: path)
        try journal.append(ExecutionEvent(kind: .planStarted, summary: "start", plan: "abc"))
        try journal.append(ExecutionEvent(kind: .stepStarted, step: "one", summary: "one"))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"action":0,"kind":"action-sta"#.utf8))
        try handle.close()
        #expect(try journal.load().events.count == 2)

        try journal.append(ExecutionEvent(kind: .resumed, summary: "resuming"))
        try journal.append(ExecutionEvent(kind: .stepFinished, step: "one", summary: "one"))
        let state = try journal.load()
        #expect(state.events.map(\.kind) == [.planStarted, .stepStarted, .resumed, .stepFinished])
        #expect(state.finishedSteps == ["one"])
        #expect(state.planFingerprint == "abc")
    }

    @Test func aBadLineInTheMiddleIsAnError() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "not an event\n{\"kind\":\"resumed\",\"summary\":\"x\",\"time\":\"2026-01-01T00:00:00Z\"}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: ExecutionError.self) { try Journal(path: path).load() }
        #expect(error?.code == .badJournal)
    }

    /// Started and finished actions, interrupted ones, and the config contents a write recorded.
    @Test func stateFollowsTheEvents() throws {
        let state = JournalState(events: [
            ExecutionEvent(kind: .planStarted, summary: "", plan: "f"),
            ExecutionEvent(kind: .stepStarted, step: "a", summary: ""),
            ExecutionEvent(kind: .actionStarted, step: "a", action: 0, summary: ""),
            ExecutionEvent(kind: .actionStarted, step: "a", action: 1, summary: ""),
            ExecutionEvent(kind: .actionFinished, step: "a", action: 0, summary: "", changed: true, previousContents: ["/zoo.cfg": "before"]),
        ])
        #expect(state.finishedActions["a"] == [0])
        #expect(state.interruptedActions["a"] == [1])
        #expect(state.finishedSteps.isEmpty && !state.planFinished)
        #expect(state.fileRecord(step: "a", action: 0)?.previous == ["/zoo.cfg": "before"])
        #expect(state.fileRecord(step: "a", action: 1) == nil)
    }
}
