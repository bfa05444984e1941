import Ensemble
import Foundation
import Hosts
import Kafka
import Testing
import ZooKeeper
import ZooKeeperTestSupport

/// Broker hosts in memory: files with modification times, and every command run, in order, in one
/// log shared with the simulated cluster (so the test can assert what happened before what).
actor FakeBrokerHosts {
    struct File { var text: String; var modified: Double }
    private(set) var files: [String: File] = [:]
    private(set) var log: [String] = []
    private let onCommand: @Sendable (_ host: String, _ command: String) async throws -> CommandResult

    init(onCommand: @escaping @Sendable (_ host: String, _ command: String) async throws -> CommandResult) {
        self.onCommand = onCommand
    }

    func record(_ entry: String) { log.append(entry) }
    func file(_ host: String, _ path: String) -> File? { files[host + ":" + path] }
    func put(_ host: String, _ path: String, _ text: String, modified: Double = Date().timeIntervalSince1970) {
        files[host + ":" + path] = File(text: text, modified: modified)
    }

    func run(_ host: String, _ command: String) async throws -> CommandResult {
        if command.hasPrefix("stat -c %.3Y ") {
            let path = String(command.dropFirst("stat -c %.3Y ".count))
            guard let file = file(host, path) else { return CommandResult(status: 1, output: "stat: cannot stat '\(path)'") }
            return CommandResult(status: 0, output: String(format: "%.3f\n", (file.modified * 1000).rounded(.down) / 1000))
        }
        log.append("\(command) @\(host)")
        return try await onCommand(host, command)
    }
}

struct FakeHostDriver: HostDriver {
    let host: String
    let hosts: FakeBrokerHosts

    func run(_ command: String, timeout: Duration) async throws -> CommandResult { try await hosts.run(host, command) }
    func readFile(_ path: String) async throws -> String? { await hosts.file(host, path)?.text }
    func writeFile(_ path: String, contents: String) async throws -> HostChange {
        if await hosts.file(host, path)?.text == contents { return HostChange(host: host, changed: false, summary: "\(path) already up to date") }
        await hosts.put(host, path, contents)
        await hosts.record("write @\(host)")
        return HostChange(host: host, changed: true, summary: "wrote \(path)")
    }
}

extension RealServers {
    @Suite struct KafkaClientSwitchTests {
        static let path = "/etc/kafka/server.properties"

        static func properties(_ id: Int, connect: String) -> String {
            """
            # Licensed to the Apache Software Foundation (ASF)
            broker.id=\(id)
            listeners=PLAINTEXT://:9092
            log.dirs=/var/lib/kafka\t# data disk
            zookeeper.connect = \(connect)
            zookeeper.connection.timeout.ms=18000

            """
        }

        /// A broker restart as Kafka does it: its registration goes, its replicas drop out of the ISRs,
        /// it registers again (a new ephemeral znode, a new timestamp).
        static func restart(_ id: Int, zk: ZooKeeperClient, session: ZooKeeperClient) async throws {
            try await session.delete(BrokerRegistration.path(BrokerID(id)))
            for topic in try await zk.getChildren("/brokers/topics") {
                for partition in try await zk.getChildren("/brokers/topics/\(topic)/partitions") {
                    let path = PartitionStateZNode.path(TopicPartition(topic, Int(partition)!))
                    let (read, stat) = try await KafkaLayout.read(zk, path, as: PartitionStateZNode.self)
                    var state = read
                    guard state.isr.contains(BrokerID(id)) else { continue }
                    state.isr.removeAll { $0 == BrokerID(id) }
                    try await zk.setData(path, data: Array(state.data()), version: stat.version)
                }
            }
            try await KafkaLayout.create(session, "/brokers/ids/\(id)", KafkaLayout.registration(id), mode: .ephemeral)
        }

        /// Replicas catching up: a partition whose ISR has been short for a few rounds gets its
        /// whole replica set back, and the log says so.
        static func catchUp(_ zk: ZooKeeperClient, hosts: FakeBrokerHosts) async {
            var shortRounds = 0
            while !Task.isCancelled {
                var short: [(String, PartitionStateZNode, Stat, [BrokerID])] = []
                for topic in (try? await zk.getChildren("/brokers/topics")) ?? [] {
                    guard let (assignment, _) = try? await KafkaLayout.read(zk, "/brokers/topics/\(topic)", as: TopicAssignmentZNode.self) else { continue }
                    for (partition, replicas) in assignment.partitions {
                        let path = PartitionStateZNode.path(TopicPartition(topic, partition))
                        if let (state, stat) = try? await KafkaLayout.read(zk, path, as: PartitionStateZNode.self), state.isr.count < replicas.count {
                            short.append((path, state, stat, replicas))
                        }
                    }
                }
                shortRounds = short.isEmpty ? 0 : shortRounds + 1
                // After a few rounds every lagging replica is back in sync at once: one log entry.
                if shortRounds >= 5 {
                    for (path, read, stat, replicas) in short {
                        var state = read
                        state.isr = replicas
                        _ = try? await zk.setData(path, data: Array(state.data()), version: stat.version)
                    }
                    await hosts.record("in sync")
                    shortRounds = 0
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }

        @Test func brokersSwitchOneAtATimeControllerLastOnlyWhenInSync() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { _ = try await $0.create("/kafka") }
                try await ZooKeeperClient.withClient(ensemble.connectionString + "/kafka") { zk in
                    try await ZooKeeperClient.withClient(ensemble.connectionString + "/kafka") { session in
                        try await KafkaLayout.write(zk, brokerSession: session, brokers: [1, 2, 3],
                                                    topics: ["t": [[1, 2, 3], [2, 3, 1], [3, 1, 2]]], controller: 2)
                        // t-0 starts under-replicated: nothing restarts until it has caught up.
                        let path = PartitionStateZNode.path(TopicPartition("t", 0))
                        var (state, _) = try await KafkaLayout.read(zk, path, as: PartitionStateZNode.self)
                        state.isr = [1, 2]
                        try await zk.setData(path, data: Array(state.data()))

                        let hosts = FakeBrokerHosts { host, command in
                            if command.hasPrefix("restart-kafka ") {
                                try await Self.restart(Int(command.dropFirst("restart-kafka ".count))!, zk: zk, session: session)
                            }
                            return CommandResult(status: 0, output: "")
                        }
                        let old = "old-1:2181,old-2:2181/kafka"
                        var members: [BrokerMember] = []
                        for id in 1...3 {
                            await hosts.put("kafka-\(id)", Self.path, Self.properties(id, connect: old))
                            let member = ClientGroupMember(name: "broker-\(id)", host: "kafka-\(id)", configPath: Self.path,
                                                           restart: "restart-kafka \(id)", healthCheck: id == 1 ? "kafka-healthy" : nil)
                            members.append(BrokerMember(member: member, driver: FakeHostDriver(host: "kafka-\(id)", hosts: hosts)))
                        }
                        let target = try ConnectionString(parsing: "new-1:2181,new-2:2181,new-3:2181/kafka")
                        let options = KafkaClientSwitch.Options(target: target, healthyPeriod: .milliseconds(200), pollInterval: .milliseconds(20),
                                                                healthTimeout: .seconds(60), registrationTimeout: .seconds(60))
                        let clientSwitch = KafkaClientSwitch(zookeeper: zk, brokers: members, options: options)

                        // The dry run: a diff per broker, nothing touched.
                        let preview = try await clientSwitch.preview()
                        #expect(preview.map(\.brokerID) == [1, 2, 3])
                        #expect(preview.map(\.isController) == [false, true, false])
                        #expect(preview.allSatisfy { $0.restartNeeded })
                        #expect(preview[0].diff == ["@@ -5 +5 @@", "-zookeeper.connect = \(old)", "+zookeeper.connect = \(target)"])
                        #expect(await hosts.log.isEmpty)

                        let events = Recorded<ClientSwitchEvent>()
                        let report = try await withThrowingTaskGroup(of: ClientSwitchReport?.self) { group in
                            group.addTask { await Self.catchUp(zk, hosts: hosts); return nil }
                            group.addTask { try await clientSwitch.run { events.append($0) } }
                            defer { group.cancelAll() }
                            while let next = try await group.next() { if let next { return next } }
                            throw CancellationError()
                        }
                        #expect(report.restarted == [1, 3, 2])
                        #expect(report.filesRewritten == [1, 3, 2])
                        #expect(events.all.contains(.controllerDeferred(broker: 2)))
                        let steps = await hosts.log.filter { !$0.hasPrefix("kafka-healthy") }
                        #expect(steps == [
                            "in sync",
                            "write @kafka-1", "restart-kafka 1 @kafka-1", "in sync",
                            "write @kafka-3", "restart-kafka 3 @kafka-3", "in sync",
                            "write @kafka-2", "restart-kafka 2 @kafka-2", "in sync",
                        ])
                        #expect(await hosts.log.contains("kafka-healthy @kafka-1"))
                        for id in 1...3 {
                            #expect(await hosts.file("kafka-\(id)", Self.path)?.text == Self.properties(id, connect: target.description))
                        }

                        // Run again: every file has the target and every broker registered since: nothing to do.
                        let logged = await hosts.log.count
                        let again = try await clientSwitch.run()
                        #expect(again.restarted.isEmpty && again.skipped == [1, 2, 3])
                        #expect(await hosts.log.count == logged)

                        // A file that got the target after its broker last registered: only that broker restarts.
                        await hosts.put("kafka-3", Self.path, Self.properties(3, connect: target.description),
                                        modified: Date().timeIntervalSince1970 + 1)
                        let third = try await withThrowingTaskGroup(of: ClientSwitchReport?.self) { group in
                            group.addTask { await Self.catchUp(zk, hosts: hosts); return nil }
                            group.addTask { try await clientSwitch.run() }
                            defer { group.cancelAll() }
                            while let next = try await group.next() { if let next { return next } }
                            throw CancellationError()
                        }
                        #expect(third.restarted == [3] && third.filesRewritten.isEmpty && third.skipped == [1, 2])
                    }
                }
            }
        }

        @Test func aBrokerThatDoesNotComeBackStopsTheSwitch() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { _ = try await $0.create("/kafka") }
                try await ZooKeeperClient.withClient(ensemble.connectionString + "/kafka") { zk in
                    try await ZooKeeperClient.withClient(ensemble.connectionString + "/kafka") { session in
                        try await KafkaLayout.write(zk, brokerSession: session, brokers: [1, 2], topics: ["t": [[1, 2]]], controller: 1)
                        // Broker 2's restart leaves it down (e.g. a typo in the new connection string).
                        let hosts = FakeBrokerHosts { _, command in
                            if command == "restart-kafka 2" { try await session.delete("/brokers/ids/2") }
                            return CommandResult(status: 0, output: "")
                        }
                        var members: [BrokerMember] = []
                        for id in 1...2 {
                            await hosts.put("kafka-\(id)", Self.path, Self.properties(id, connect: "old:2181/kafka"))
                            members.append(BrokerMember(member: ClientGroupMember(name: "broker-\(id)", host: "kafka-\(id)", configPath: Self.path,
                                                                                  restart: "restart-kafka \(id)"),
                                                        driver: FakeHostDriver(host: "kafka-\(id)", hosts: hosts)))
                        }
                        let options = KafkaClientSwitch.Options(target: try ConnectionString(parsing: "new:2181/kafka"), healthyPeriod: .zero,
                                                                pollInterval: .milliseconds(20), registrationTimeout: .milliseconds(300))
                        do {
                            try await KafkaClientSwitch(zookeeper: zk, brokers: members, options: options).run()
                            Issue.record("a broker that does not register again must stop the switch")
                        } catch let error as KafkaClientSwitchError {
                            #expect(error.code == .notReRegistered && error.broker == 2)
                        }
                        // Broker 1 (the controller) was not touched.
                        #expect(await hosts.log == ["write @kafka-2", "restart-kafka 2 @kafka-2"])
                    }
                }
            }
        }
    }
}
