import Ensemble
import Foundation
import NIOEmbedded
import Testing

@testable import Migration
@testable import MigrationPlanning

/// The census waits ``CensusPolicy/settle`` after the last step that changed servers: a client
/// that lost its server is on no server's `cons` until it has reconnected, and clients reconnect
/// with a backoff, so a census taken at once could miss the very client it is for.
@Suite struct CensusSettle {
    static func executor(journalEvents: [ExecutionEvent], settle: Duration) throws -> (MigrationExecutor, Step, Journal, URL) {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let census = try #require(plan.steps.first { $0.gatesBefore.contains { if case .sessionsAccountedFor = $0 { true } else { false } } })
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mitosis-census-settle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let journal = Journal(path: directory.appendingPathComponent("journal.jsonl").path)
        for event in journalEvents { try journal.append(event) }
        let executor = MigrationExecutor(
            plan: try Prover.prove(plan), hosts: CommandRecordingDirectory(), eventLoopGroup: EmbeddedEventLoop(), journal: journal,
            options: ExecutionOptions(census: CensusPolicy(settle: settle)))
        return (executor, census, journal, directory)
    }

    static func restartStep() throws -> Step {
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        return try #require(plan.steps.last { step in
            step.actions.contains { if case .restartServer = $0 { true } else { false } }
                && plan.steps.firstIndex(of: step)! < plan.steps.firstIndex { $0.gatesBefore.contains { if case .sessionsAccountedFor = $0 { true } else { false } } }!
        })
    }

    static func waits(_ journal: Journal) throws -> [String] {
        try journal.load().events.filter { $0.kind == .gateWaiting && $0.summary.hasPrefix("the census waits") }.map(\.summary)
    }

    @Test func aCensusRightAfterARestartWaitsForTheClientsToReconnect() async throws {
        let restart = try Self.restartStep()
        let (executor, census, journal, directory) = try Self.executor(journalEvents: [], settle: .seconds(2))
        defer { try? FileManager.default.removeItem(at: directory) }
        try journal.append(ExecutionEvent(kind: .stepFinished, step: restart.id, summary: restart.title))
        try await executor.settleBeforeCensus(step: census)
        let waits = try Self.waits(journal)
        #expect(waits.count == 1 && waits[0].contains("\(restart.id) changed servers"), "\(waits)")
    }

    @Test func aCensusLongAfterTheLastChangeOrWithoutOneDoesNotWait() async throws {
        let restart = try Self.restartStep()
        let long = ExecutionEvent(time: Date(timeIntervalSinceNow: -60), kind: .stepFinished, step: restart.id, summary: restart.title)
        let (executor, census, journal, directory) = try Self.executor(journalEvents: [long], settle: .seconds(5))
        defer { try? FileManager.default.removeItem(at: directory) }
        try await executor.settleBeforeCensus(step: census)
        #expect(try Self.waits(journal).isEmpty)

        // A step that touched no server (a configuration write) does not count.
        let plan = try Fixtures.plan(.mitosis, 3, 3, staying: false)
        let write = try #require(plan.steps.first { $0.actions.allSatisfy { if case .writeConfig = $0 { true } else { false } } })
        let (quiet, _, quietJournal, quietDirectory) = try Self.executor(
            journalEvents: [ExecutionEvent(kind: .stepFinished, step: write.id, summary: write.title)], settle: .seconds(5))
        defer { try? FileManager.default.removeItem(at: quietDirectory) }
        try await quiet.settleBeforeCensus(step: census)
        #expect(try Self.waits(quietJournal).isEmpty)
    }
}
