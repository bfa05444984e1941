import Foundation
import Hosts
import Testing
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    @Suite struct LocalEnsembleTests {
        @Test(arguments: ZooKeeperDistribution.installable)
        func threeServersElectOneLeaderAndReplaceIt(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 3, distribution: version) { ensemble in
                var modes: [ServerStatus.Mode] = []
                for server in ensemble.servers {
                    let status = try #require(await ensemble.status(of: server.id))
                    #expect(status.version.hasPrefix(version.version))
                    modes.append(status.mode)
                }
                #expect(modes.filter { $0 == .leader }.count == 1)
                #expect(modes.filter { $0 == .follower }.count == 2)

                let leader = try #require(try await ensemble.leader())
                let pid = try #require(ensemble.javaProcessID(of: leader))
                try await ensemble.kill(leader)
                #expect(!ensemble.isRunning(leader))
                #expect(Glibc.kill(pid, 0) != 0, "the killed JVM is gone")
                let others = ensemble.servers.map(\.id).filter { $0 != leader }
                try await ensemble.waitUntilServing(others)
                let newLeader = try #require(try await ensemble.leader())
                #expect(newLeader != leader)

                try await ensemble.start(leader)
                let rejoined = try #require(await ensemble.status(of: leader))
                #expect(rejoined.mode == .follower, "the old leader rejoins as a follower")
            }
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func standaloneServerAndCleanShutdown(version: ZooKeeperDistribution) async throws {
            let ensemble = try LocalEnsemble(servers: 1, distribution: version)
            try await ensemble.startAll()
            #expect(await ensemble.status(of: 1)?.mode == .standalone)
            let pid = try #require(ensemble.javaProcessID(of: 1))
            await ensemble.shutdown()
            #expect(Glibc.kill(pid, 0) != 0, "no JVM is left behind")
            #expect(!FileManager.default.fileExists(atPath: ensemble.directory))
        }

        @Test(arguments: ZooKeeperDistribution.testedVersions)
        func anObserverServesAndComesBackAfterAStop(version: ZooKeeperDistribution) async throws {
            try await withLocalEnsemble(servers: 4, observers: 1, distribution: version) { ensemble in
                let observer = try #require(ensemble.servers.last)
                #expect(observer.isObserver)
                var modes: [ServerStatus.Mode] = []
                for server in ensemble.servers {
                    modes.append(try #require(await ensemble.status(of: server.id)).mode)
                }
                #expect(modes.filter { $0 == .leader }.count == 1)
                #expect(modes.filter { $0 == .follower }.count == 2)
                #expect(modes.last == .observer)

                let pid = try #require(ensemble.javaProcessID(of: observer.id))
                try await ensemble.stop(observer.id)
                #expect(Glibc.kill(pid, 0) != 0, "SIGTERM ends the JVM")
                #expect(await ensemble.status(of: observer.id) == nil)
                try await ensemble.start(observer.id)
                #expect(await ensemble.status(of: observer.id)?.mode == .observer)
            }
        }

        @Test func aServerThatCannotStartSaysWhy() async throws {
            let ensemble = try LocalEnsemble(servers: 1, distribution: .v3_8_0, extraConfig: ["tickTime": "not-a-number"])
            do {
                try await ensemble.startAll(timeout: .seconds(20))
                Issue.record("a server with tickTime=not-a-number should not start")
            } catch let error as LocalEnsembleError {
                #expect(error.description.contains("log"), "\(error)")
            }
            await ensemble.shutdown()
        }
    }
}
