import Foundation
import Kafka
import Probes
import Testing
import ZooKeeper
import ZooKeeperTestSupport

/// The rehearsal workloads against real 3-server 3.8.0 ensembles. Assertions are on counts and
/// outcomes, never on durations: the machine is shared and slow.
extension RealServers {
    @Suite struct Workloads {
        @Test func numberedWritersLoseNothingAcrossAFollowerKillAndALeaderKill() async throws {
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0) { ensemble in
                let all = try ConnectionString(parsing: ensemble.connectionString)
                let writers = try await NumberedWriters.start(
                    NumberedWritersOptions(group: "writers", connectionString: all, writers: 3, writesPerSecond: 20),
                    origin: .now
                )
                try await Task.sleep(for: .seconds(1))
                let leader = try #require(try await ensemble.leader())
                let follower = try #require(ensemble.servers.map(\.id).first { $0 != leader })
                try await ensemble.kill(follower)
                try await Task.sleep(for: .seconds(1))
                try await ensemble.start(follower)
                try await Task.sleep(for: .seconds(1))
                let secondLeader = try #require(try await ensemble.leader())
                try await ensemble.kill(secondLeader)
                let survivors = ensemble.servers.map(\.id).filter { $0 != secondLeader }
                try await ensemble.waitUntilServing(survivors)
                try await Task.sleep(for: .seconds(1))
                let report = await writers.stop()

                let check = try await report.verify(connectionString: try ConnectionString(parsing: ensemble.connectionString(only: survivors)))
                #expect(check.lost == 0, "\(check.writers.map(\.lost))")
                #expect(check.passed)
                #expect(check.acknowledged == report.acknowledged)
                #expect(report.writers.count == 3)
                #expect(report.writers.allSatisfy { $0.acknowledgedCount > 0 && $0.firstNumber == 1 })
                #expect(report.group.members.map(\.member) == ["w1", "w2", "w3"])
                #expect(report.group.sessionExpirations.isEmpty)
                // Every attempt the writers logged is in the group's counts, and vice versa.
                #expect(report.attempts.filter { $0.outcome != .interrupted }.count == report.group.operations)
                #expect(report.attempts.filter { $0.outcome == .acknowledged || $0.outcome == .acknowledgedLate }.count == report.acknowledged)
                #expect(report.group.succeeded == report.acknowledged)
            }
        }

        @Test func verifyFindsADeletedAcknowledgedWriteAndAnAlteredOne() async throws {
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0) { ensemble in
                // A chroot that does not exist yet: the writers create it.
                let chrooted = try ConnectionString(parsing: ensemble.connectionString + "/apps/stress")
                let options = NumberedWritersOptions(group: "writers", connectionString: chrooted, writers: 2, writesPerSecond: 20)
                let writers = try await NumberedWriters.start(options, origin: .now)
                try await Task.sleep(for: .seconds(1))
                let report = await writers.stop()
                #expect(try await report.verify(connectionString: chrooted).passed)

                let first = try #require(report.writers.first { $0.acknowledgedCount >= 3 })
                let second = try #require(report.writers.first { $0.writer != first.writer && $0.acknowledgedCount >= 1 })
                let deleted = first.acknowledged[0].lowerBound + 1
                let altered = second.acknowledged[0].lowerBound
                try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    #expect(try await zk.exists("/apps/stress\(first.path)") != nil)
                    try await zk.delete("/apps/stress\(first.path)/\(String(format: "%010d", deleted))")
                    try await zk.setData("/apps/stress\(second.path)/\(String(format: "%010d", altered))", data: Array("tampered".utf8))
                }
                let broken = try await report.verify(connectionString: chrooted)
                #expect(!broken.passed)
                #expect(broken.lost == 1)
                #expect(broken.writers.first { $0.writer == first.writer }?.lost == [deleted])
                #expect(broken.writers.first { $0.writer == second.writer }?.wrongData == [altered])

                // A second run numbers on from the first and is checked on its own numbers only.
                let again = try await NumberedWriters.start(options, origin: .now)
                try await Task.sleep(for: .milliseconds(500))
                let secondRun = await again.stop()
                for ledger in secondRun.writers {
                    let earlier = try #require(report.writers.first { $0.writer == ledger.writer })
                    #expect(ledger.firstNumber > (earlier.acknowledged.last?.upperBound ?? 0))
                }
                #expect(try await secondRun.verify(connectionString: chrooted).passed)
            }
        }

        @Test func simulatedKafkaElectsOneControllerAndReelectsWhenItsSessionCloses() async throws {
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0) { ensemble in
                let all = try ConnectionString(parsing: ensemble.connectionString + "/kafka")
                let cluster = try await SimulatedKafkaCluster.start(SimulatedKafkaOptions(connectionString: all, brokers: 3, stateWritesPerSecond: 10), origin: .now)
                let first = try await eventually("a controller") { cluster.controller() }
                try await eventually("the controller sees every broker") {
                    await cluster.status().first { $0.isController }?.registeredBrokers == [1, 2, 3] ? true : nil
                }
                try await Task.sleep(for: .seconds(1))
                let statuses = await cluster.status()
                #expect(statuses.filter(\.isController).map(\.member) == [first])

                // Kafka's own reader understands every znode the brokers wrote.
                try await ZooKeeperClient.withClient(all.description) { zk in
                    let state = try await KafkaMetadataReader.read(zk).state
                    #expect(state.brokers.keys.sorted() == [1, 2, 3])
                    #expect(state.controller.map { "broker-\($0)" } == first)
                    #expect(state.controllerEpoch == 1)
                    #expect(state.topics["mitosis-rehearsal"]?.partitions.count == 6)
                    #expect(state.partitionStates.count == 6)
                    #expect(state.topics["mitosis-rehearsal"]?.config["min.insync.replicas"] == "2")
                }

                // Closing the controller's session (a restart closes it first) makes another broker controller.
                try await cluster.restart(member: first, connectionString: all)
                try await ZooKeeperClient.withClient(all.description) { zk in
                    try await eventually("a second election") {
                        let epoch = String(decoding: try await zk.getData("/controller_epoch").data, as: UTF8.self)
                        let controller = try await zk.exists("/controller")
                        return epoch == "2" && controller != nil ? true : nil
                    }
                    return ()
                }
                let second = try await eventually("a controller again") { cluster.controller() }

                let report = await cluster.stop()
                #expect(report.controllerElections.map(\.epoch) == [1, 2])
                #expect(report.controllerElections.map(\.member) == [first, second])
                #expect(report.controllerElections.filter { $0.member == first }.count == 1, "the restarted broker came back as a follower")
                #expect(report.restarts.map(\.member) == [first])
                #expect(report.restarts.allSatisfy { $0.completed })
                #expect(report.sessionExpirations.isEmpty)
                #expect(report.failedOperations == 0, "\(report.failuresByCode)")
                #expect(report.members.allSatisfy { $0.succeeded > 0 })

                // Stopping closed every session: the ephemerals are gone.
                try await ZooKeeperClient.withClient(all.description) { zk in
                    let brokers = try await zk.getChildren("/brokers/ids")
                    let controller = try await zk.exists("/controller")
                    #expect(brokers.isEmpty)
                    #expect(controller == nil)
                }
            }
        }

        @Test func aRestartMovesABrokerToOneServerAndItRegistersAgain() async throws {
            try await withLocalEnsemble(servers: 3, distribution: .v3_8_0) { ensemble in
                let all = try ConnectionString(parsing: ensemble.connectionString)
                let cluster = try await SimulatedKafkaCluster.start(SimulatedKafkaOptions(connectionString: all, brokers: 3, stateWritesPerSecond: 10), origin: .now)
                let controller = try await eventually("a controller") { cluster.controller() }
                let moved = try #require(await cluster.status().first { $0.member != controller })
                let oldSession = try #require(moved.sessionID)
                let target = try #require(ensemble.server(2))
                let single = try ConnectionString(parsing: ensemble.connectionString(only: [target.id]))

                let interval = try await cluster.restart(member: moved.member, connectionString: single)
                #expect(interval.member == moved.member)
                #expect(interval.connectionString == single.description)
                let after = try #require(await cluster.status().first { $0.member == moved.member })
                #expect(after.server == target.clientAddress.description)
                #expect(after.connectionString == single.description)
                let newSession = try #require(after.sessionID)
                #expect(newSession != oldSession)

                try await ZooKeeperClient.withClient(ensemble.connectionString) { zk in
                    // Registered again, by the new session.
                    let registration = try #require(try await zk.exists("/brokers/ids/\(moved.brokerID)"))
                    #expect("0x" + String(UInt64(bitPattern: registration.ephemeralOwner), radix: 16) == newSession)
                    #expect(try await zk.getChildren("/brokers/ids").sorted() == ["1", "2", "3"])
                    // And working again: its partitions' state carries its second leader epoch.
                    let partition = TopicPartition("mitosis-rehearsal", moved.brokerID - 1)
                    try await eventually("a state write from the new session") {
                        let data = try await zk.getData(PartitionStateZNode.path(partition)).data
                        return try PartitionStateZNode(data: Data(data)).leaderEpoch == 2 ? true : nil
                    }
                }

                let report = await cluster.stop()
                #expect(report.restarts.count == 1)
                #expect(report.restarts.first?.completed == true)
                #expect(report.members.first { $0.member == moved.member }?.restarts == 1)
                #expect(report.controllerElections.count == 1, "restarting a broker that is not the controller elects no one: \(report.controllerElections), moved \(moved.member), restarts \(report.restarts)")
                #expect(report.sessionExpirations.isEmpty)
                #expect(report.failedOperations == 0, "\(report.failuresByCode)")
            }
        }
    }
}

/// Polls `condition` until it returns a value; fails the test with `what` if none comes within
/// `timeout` (generous: this waits for progress, it does not measure it).
@discardableResult
private func eventually<T>(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await condition() { return value }
        if ContinuousClock.now > deadline {
            Issue.record("gave up waiting for \(what) after \(timeout)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}
