import Hosts
import Testing
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    @Suite struct FourLetterWordsTests {
        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func typedAnswersFromRealServers(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                let leaderID = try #require(try await ensemble.leader())
                let leader = try #require(ensemble.server(leaderID)).clientAddress
                let status = try await FourLetterWords.srvr(leader)
                #expect(status.mode == .leader)
                #expect(status.version.hasPrefix(version.version))
                #expect(status.nodeCount >= 1)

                #expect(try await FourLetterWords.ruok(leader))
                #expect(try await FourLetterWords.isro(leader) == false)

                let monitoring = try await FourLetterWords.mntr(leader)
                #expect(monitoring.serverState == "leader")
                #expect(monitoring.followers == 2)
                #expect(monitoring.syncedFollowers == 2)
                #expect((monitoring.znodeCount ?? 0) >= 1)

                let configuration = try await FourLetterWords.conf(leader)
                #expect(configuration.clientPort == ensemble.server(leaderID)?.clientPort)
                #expect(configuration.serverID == leaderID)
                if version.supportsReconfig {
                    #expect(configuration.membership.count == 3, "3.5+ prints the membership")
                }

                try await ZooKeeperClient.withClient(ensemble.connectionString(only: [leaderID])) { _ in
                    let connections = try await FourLetterWords.cons(leader)
                    #expect(connections.contains { $0.sessionID != nil })
                    let stat = try await FourLetterWords.stat(leader)
                    #expect(!stat.clients.isEmpty)
                }
                let environment = try await FourLetterWords.envi(leader)
                #expect(environment["java.version"] != nil)
            }
        }

        @Test func aWordOutsideTheWhitelistIsAClearError() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0, extraConfig: ["4lw.commands.whitelist": "srvr"]) { ensemble in
                let server = ensemble.servers[0].clientAddress
                #expect(try await FourLetterWords.srvr(server).mode == .standalone)
                do {
                    _ = try await FourLetterWords.mntr(server)
                    Issue.record("mntr is not whitelisted")
                } catch let error as FourLetterWordError {
                    #expect(error.kind == .notWhitelisted)
                    #expect(error.description.contains("4lw.commands.whitelist"))
                }
            }
        }

        @Test func anUnreachableServerIsAClearError() async throws {
            let port = try FreePort.allocate()
            do {
                _ = try await FourLetterWords.srvr(.init(host: "127.0.0.1", port: port), timeout: .seconds(2))
                Issue.record("nobody listens there")
            } catch {
                #expect(error.kind == .unreachable)
            }
        }
    }
}
