import Ensemble
import Hosts
import Migration
import MigrationPlanning
import NIOPosix
import Testing
import ZooKeeper
import ZooKeeperProtocol
import ZooKeeperTestSupport

extension RealServers {
    /// The census gate's readings on a real 3.8.0 ensemble: a client's session is seen and held
    /// as unknown until it is accounted for, and with a majority of the servers gone the census
    /// fails and names them instead of passing on what one server says.
    @Suite struct CensusTests {
        @Test func censusSeesSessionsAndNeedsAMajorityOfAnswers() async throws {
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0) { ensemble in
                let servers = ensemble.servers.map(\.clientAddress)
                let names = servers.map(\.description)
                let group = MultiThreadedEventLoopGroup.singleton
                func census() async -> SessionCensus {
                    await SessionCensus.sample(rounds: 2, interval: .milliseconds(200)) {
                        await SessionCensus.read(servers, timeout: .seconds(2), group: group)
                    }
                }
                try await ZooKeeperClient.withClient(ensemble.connectionString) { client in
                    _ = try await client.exists("/")
                    let seen = await census()
                    #expect(seen.answeredServers.count == 3)
                    let held = seen.judge(ensemble: "src", servers: names, owners: [])
                    #expect(!held.passed && held.detail.contains("from clients the plan does not know: 127.0.0.1"), "\(held.detail)")
                    let accounted = seen.judge(
                        ensemble: "src", servers: names, owners: [SessionOwner(label: "app", rules: [ClientAddressMatch(address: "127.0.0.1")])])
                    #expect(accounted.passed && accounted.detail.contains("app: "), "\(accounted.detail)")
                }
                let silent = ensemble.servers.map(\.id).suffix(2)
                for id in silent { try await ensemble.kill(id) }
                let result = await census().judge(ensemble: "src", servers: names, owners: [])
                #expect(!result.passed)
                #expect(result.detail.contains("majority (2 of 3)"), "\(result.detail)")
                for id in silent {
                    #expect(result.detail.contains(ensemble.server(id)!.clientAddress.description + " ("), "server \(id) named: \(result.detail)")
                }
            }
        }
    }
}
