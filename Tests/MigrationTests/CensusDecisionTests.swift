import Ensemble
import Testing

@testable import Migration
@testable import MigrationPlanning

/// The census gate's decision, from `cons` readings given as values.
@Suite struct CensusDecisionTests {
    static let servers = ["10.1.0.1:2181", "10.1.0.2:2181", "10.1.0.3:2181"]
    static let broker = SessionOwner(label: "kafka/broker-1 (moves)", rules: [ClientAddressMatch(address: "10.9.0.1")])

    static func reading(_ sessions: [(server: Int, address: String, id: String)], silent: [Int] = [], notServing: [Int] = []) -> SessionCensus {
        var census = SessionCensus(
            sessions: sessions.map { ServerSession(server: servers[$0.server], clientAddress: $0.address, clientPort: 40000, sessionID: $0.id) },
            unanswered: Dictionary(uniqueKeysWithValues: silent.map { (servers[$0], "connection refused") }))
        census.notServing = notServing.map { servers[$0] }
        census.answeredServers = Set(servers.indices.filter { !silent.contains($0) }.map { servers[$0] })
        return census
    }

    @Test func aSilentMajorityFailsTheGateWithTheServersNamed() {
        let census = Self.reading([(0, "10.9.0.1", "0x1")], silent: [1, 2])
        let result = census.judge(ensemble: "source", servers: Self.servers, owners: [Self.broker])
        #expect(!result.passed)
        #expect(result.detail.contains("majority (2 of 3)") && result.detail.contains("got 1"), "\(result.detail)")
        #expect(result.detail.contains("10.1.0.2:2181 (connection refused)") && result.detail.contains("10.1.0.3:2181 (connection refused)"), "\(result.detail)")
        #expect(!result.detail.contains("10.1.0.1:2181 ("))
    }

    @Test func aSilentMinorityPassesWithANote() {
        let census = Self.reading([(0, "10.9.0.1", "0x1")], silent: [2])
        let result = census.judge(ensemble: "source", servers: Self.servers, owners: [Self.broker])
        #expect(result.passed, "\(result.detail)")
        #expect(result.detail.contains("2 of 3 servers answered, no answer from 10.1.0.3:2181"), "\(result.detail)")
    }

    @Test func unknownSessionsAndServersBetweenLeadersHoldTheGate() {
        let stranger = Self.reading([(0, "10.9.0.1", "0x1"), (1, "10.9.0.7", "0x2")])
        let held = stranger.judge(ensemble: "source", servers: Self.servers, owners: [Self.broker])
        #expect(!held.passed && held.detail.contains("10.9.0.7 (1 session on 10.1.0.2:2181)") && held.detail.contains("--leave-behind 10.9.0.7"), "\(held.detail)")
        let electing = Self.reading([], notServing: [0])
        #expect(!electing.judge(ensemble: "source", servers: Self.servers, owners: []).passed)
    }

    /// A client that reconnects from one server to another between readings: the middle reading
    /// sees it nowhere, the union of the rounds sees it, and a server silent in one round but
    /// answering in another is not silent.
    @Test func roundsAreMergedSoAReconnectingClientIsSeen() async {
        let rounds = [
            Self.reading([(0, "10.9.0.7", "0x2")], silent: [2]),
            Self.reading([]),
            Self.reading([(1, "10.9.0.7", "0x2")], silent: [2]),
        ]
        var index = 0
        var slept: [Duration] = []
        let census = await SessionCensus.sample(rounds: 3, interval: .seconds(1)) {
            defer { index += 1 }
            return rounds[index]
        } sleep: { slept.append($0) }
        #expect(index == 3 && slept == [.seconds(1), .seconds(1)])
        #expect(census.sessions.count == 2)
        #expect(census.unanswered.isEmpty, "server 3 answered in the middle round: \(census.unanswered)")
        let result = census.judge(ensemble: "source", servers: Self.servers, owners: [Self.broker])
        #expect(!result.passed && result.detail.contains("10.9.0.7 (2 sessions on 10.1.0.1:2181, 10.1.0.2:2181)"), "\(result.detail)")
        // Only the middle reading, as a single-shot census took it: nothing to see.
        #expect(rounds[1].judge(ensemble: "source", servers: Self.servers, owners: [Self.broker]).passed)
    }
}
