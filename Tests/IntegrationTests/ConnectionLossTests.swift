import Foundation
import Hosts
import Testing
import ZooKeeper
import ZooKeeperTestSupport

/// What a lost connection costs a caller: only writes whose reply was lost may fail; reads are sent
/// again, and requests made while no server serves wait for the session's next connection.
extension RealServers {
    @Suite struct ConnectionLossTests {
        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func aReadInFlightOnAHungServerIsSentAgainAndAWriteFails(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                // Connect to a follower first, so that freezing it leaves the quorum and the leader alone.
                // The longest session tickTime 500 allows: the read timeout (2/3 of it) drops the
                // frozen connection well before the leader could expire the session.
                let leader = try #require(try await ensemble.leader())
                let follower = try #require(ensemble.servers.map(\.id).first { $0 != leader })
                let order = [follower] + ensemble.servers.map(\.id).filter { $0 != follower }
                var configuration = try ZooKeeperConfiguration(order.map { ensemble.connectionString(only: [$0]) }.joined(separator: ","), sessionTimeout: .seconds(10))
                configuration.shuffleServers = false
                try await ZooKeeperClient.withClient(configuration) { zk in
                    try await zk.create("/inflight", data: [7])
                    ensemble.freeze(follower)
                    defer { ensemble.thaw(follower) }
                    // Both go to the frozen server and get no reply; the read timeout then drops the connection.
                    let read = Task { try await zk.getData("/inflight") }
                    let write = Task { try await zk.create("/inflight/lost", data: [1]) }
                    await expectCode(.connectionLoss) { try await write.value }
                    let (data, _) = try await read.value
                    #expect(data == [7], "the read was answered by another server of the same session")
                    guard case .connected(_, let server, _) = await zk.state else {
                        Issue.record("expected a connection")
                        return
                    }
                    #expect(ensemble.serverID(clientAddress: server) != follower)
                }
            }
        }

        @Test func requestsMadeWhileNoServerServesWaitForTheSessionsNextConnection() async throws {
            // tickTime 1000 allows sessions up to 20 s: the quorum must come back within one.
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0, tickTime: 1000) { ensemble in
                var patient = try ZooKeeperConfiguration(ensemble.connectionString, sessionTimeout: .seconds(20))
                patient.queuedRequestTimeout = .seconds(120)
                var impatient = try ZooKeeperConfiguration(ensemble.connectionString, sessionTimeout: .seconds(20))
                impatient.queuedRequestTimeout = .milliseconds(500)
                try await ZooKeeperClient.withClient(patient) { zk in
                    try await ZooKeeperClient.withClient(impatient) { hasty in
                        try await zk.create("/waited")
                        // Two of three servers down: the third loses its quorum and drops its
                        // clients; every attempt to reconnect fails until the quorum is back.
                        let down = [2, 3]
                        for id in down { try await ensemble.kill(id) }
                        let suspended = try await eventually(timeout: .seconds(60), every: .milliseconds(50)) {
                            let states = (await zk.state, await hasty.state)
                            return states.0 == .suspended && states.1 == .suspended
                        }
                        #expect(suspended, "both clients should have lost their connection")

                        let created = Task { try await zk.create("/waited/child", data: [1]) }
                        let read = Task { try await zk.getData("/waited") }
                        // Only after several failed attempts is the quorum restored.
                        await expectCode(.connectionLoss) { try await hasty.exists("/waited") }
                        for id in down { try await ensemble.start(id) }

                        #expect(try await created.value == "/waited/child")
                        #expect(try await read.value.data == [])
                        #expect(try await zk.getData("/waited/child").data == [1])
                    }
                }
            }
        }
    }
}

