import Foundation
import Hosts
import Kafka
import Testing
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    /// The simulated broker and KRaft controller against one real ZooKeeper 3.8.0: what they write,
    /// read back byte for byte with kazoo (an independent client) — persistent vs ephemeral, field
    /// order, version fields, the claim's multi-op and its CAS — and the refusals and the trap.
    /// The Kafka nodes are simulated (in-process tasks here); ZooKeeper is real.
    @Suite struct KRaftSimulationTests {
        struct Read: Decodable { var data: String?; var ephemeralOwner: Int64; var version: Int32 }

        static func kazoo(_ connect: String, _ paths: [String]) async throws -> [String: Read?] {
            let (status, output) = try await ChildProcess.run(["/usr/bin/python3", RealServers.InteropTests.interop + "/kraft_znodes.py", connect] + paths)
            guard status == 0, let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
                throw LocalEnsembleError("kraft_znodes.py failed (\(status)): \(output)")
            }
            return try JSONDecoder().decode([String: Read?].self, from: Data(line.utf8))
        }

        /// Not a timed assertion: a bound on waiting for a node that may have failed.
        static func waitUntil(_ what: String, _ logs: Recorded<String>, _ condition: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while !(try await condition()) {
                guard ContinuousClock.now < deadline else { throw LocalEnsembleError("never happened: \(what); node logs:\n\(logs.all.joined(separator: "\n"))") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        /// A node running as a task; `stop()` cancels it and returns what it threw.
        struct Running {
            let task: Task<Void, any Error>
            func stop() async -> (any Error)? {
                task.cancel()
                return await finish()
            }
            /// Waits for the node to end by itself (a refusal).
            func finish() async -> (any Error)? {
                do { try await task.value; return nil } catch is CancellationError { return nil } catch { return error }
            }
        }

        static func brokerFile(_ id: Int, _ connect: String, mode: KafkaNodeMode) -> String {
            var text = "broker.id=\(id)\nlisteners=PLAINTEXT://127.0.0.\(id):9092\ninter.broker.protocol.version=3.9\nzookeeper.connect=\(connect)\n"
            let quorum = "controller.quorum.voters=3000@127.0.0.30:9093\ncontroller.listener.names=CONTROLLER\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
            switch mode {
            case .zookeeper: break
            case .migration: text += "zookeeper.metadata.migration.enable=true\n" + quorum
            case .kraft: text = "node.id=\(id)\nprocess.roles=broker\nlisteners=PLAINTEXT://127.0.0.\(id):9092\n" + quorum
            }
            return text
        }

        static func controllerFile(_ connect: String, flag: Bool) -> String {
            "process.roles=controller\nnode.id=3000\nlisteners=CONTROLLER://127.0.0.30:9093\ncontroller.listener.names=CONTROLLER\ncontroller.quorum.voters=3000@127.0.0.30:9093\n"
                + (flag ? "zookeeper.metadata.migration.enable=true\nzookeeper.connect=\(connect)\n" : "")
        }

        @Test func simulatedNodesWriteKafkasZNodesByteForByte() async throws {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("kraft-sim-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            let channel = SimulatedRegistrationChannel(directory: root + "/channel")
            let logs = Recorded<String>()
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                let connect = ensemble.connectionString + "/kafka"
                _ = try await ZooKeeperClient.withClient(ensemble.connectionString) { try await $0.create("/kafka") }
                try await ZooKeeperClient.withClient(connect) { zk in
                    // A ZooKeeper-mode cluster: a ZooKeeper controller (ephemeral, its own session), one topic.
                    let zkControllerSession = try await ZooKeeperClient.connect(try ZooKeeperConfiguration(connect))
                    try await KafkaLayout.create(zk, "/cluster/id", KRaftTests.clusterID)
                    try await KafkaLayout.create(zkControllerSession, "/controller", KRaftTests.zkController(2), mode: .ephemeral)
                    try await KafkaLayout.create(zk, "/controller_epoch", "7")
                    try await KafkaLayout.create(zk, "/brokers/topics/orders", String(decoding: TopicAssignmentZNode(version: 3, partitions: [0: [1, 2], 1: [2, 1]], topicID: "nBsQmVY3Ti6h8KQ5bKmqzQ").data(), as: UTF8.self))
                    for (partition, replicas) in [[1, 2], [2, 1]].enumerated() {
                        try await KafkaLayout.create(zk, PartitionStateZNode.path(TopicPartition("orders", partition)),
                                                     String(decoding: PartitionStateZNode(leader: BrokerID(replicas[0]), leaderEpoch: 0, controllerEpoch: 7, isr: replicas.map { BrokerID($0) }).data(), as: UTF8.self))
                    }

                    func start(broker id: Int, _ mode: KafkaNodeMode) -> Running {
                        let file = KafkaNodeFile(source: "broker-\(id).properties", role: .broker, text: Self.brokerFile(id, connect, mode: mode))
                        return Running(task: Task { try await SimulatedBroker(file: file, channel: channel, log: { logs.append($0) }).run() })
                    }
                    func startController(flag: Bool, data: String = root + "/controller") -> Running {
                        let file = KafkaNodeFile(source: "controller.properties", role: .controller, text: Self.controllerFile(connect, flag: flag))
                        return Running(task: Task { try await SimulatedKRaftController(file: file, dataDirectory: data, channel: channel, tick: .milliseconds(100), log: { logs.append($0) }).run() })
                    }
                    func children(_ path: String) async throws -> [String] { try await zk.getChildren(path).sorted() }

                    // 1. ZooKeeper-mode brokers register /brokers/ids/N: ephemeral, v5, Kafka's key order.
                    var brokers = [1: start(broker: 1, .zookeeper), 2: start(broker: 2, .zookeeper)]
                    try await Self.waitUntil("brokers 1 and 2 registered", logs) { (try? await children("/brokers/ids")) == ["1", "2"] }
                    let registration = try #require(try await Self.kazoo(connect, ["/brokers/ids/1"])["/brokers/ids/1"] ?? nil)
                    let timestamp = try #require(registration.data.flatMap { try? BrokerRegistration(data: Data($0.utf8)) }?.timestamp)
                    #expect(registration.data == #"{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://127.0.0.1:9092"],"jmx_port":-1,"port":9092,"host":"127.0.0.1","version":5,"timestamp":"\#(timestamp)"}"#)
                    #expect(registration.ephemeralOwner != 0)

                    // 2. The controller with the flag creates /migration (all -1, persistent) and waits:
                    //    no broker has registered as migrating.
                    var controller = startController(flag: true)
                    try await Self.waitUntil("/migration created", logs) { try await zk.exists("/migration") != nil }
                    let created = try #require(try await Self.kazoo(connect, ["/migration"])["/migration"] ?? nil)
                    #expect(created.data == #"{"version":0,"kraft_metadata_offset":-1,"kraft_controller_id":-1,"kraft_metadata_epoch":-1,"kraft_controller_epoch":-1}"#)
                    #expect(created.ephemeralOwner == 0)
                    try await Self.waitUntil("the controller waits for brokers", logs) { logs.all.contains { $0.contains("Still waiting for ZK brokers [1, 2] to register with KRaft.") } }
                    // 3. Brokers roll into migration mode (a restart: the session closes, the node goes, it registers again).
                    _ = await brokers[1]!.stop()
                    #expect(try await children("/brokers/ids") == ["2"])
                    brokers[1] = start(broker: 1, .migration)
                    try await Self.waitUntil("broker 1 waited for", logs) { logs.all.contains { $0.contains("Still waiting for ZK brokers [2] to register with KRaft.") } }
                    #expect(ControllerOwner(try await KRaftZooKeeperView.read(zk).controller) == .zookeeper(broker: 2, kraftControllerEpoch: -1))
                    _ = await brokers[2]!.stop()
                    brokers[2] = start(broker: 2, .migration)

                    // 4. The claim and the load: persistent /controller with kraftControllerEpoch, epoch + 1, /migration offset > 0.
                    try await Self.waitUntil("load complete", logs) {
                        guard case .present(let node, _, _) = MigrationZNodeReading(try await KRaftZooKeeperView.readMigration(zk)) else { return false }
                        return node.initialLoadComplete
                    }
                    try await Self.waitUntil("dual-write sync", logs) { logs.all.contains { $0.contains("now in DUAL_WRITE") } }
                    let afterLoad = try await Self.kazoo(connect, ["/controller", "/controller_epoch", "/migration", PartitionStateZNode.path(TopicPartition("orders", 0))])
                    let claimed = try #require(afterLoad["/controller"] ?? nil)
                    let claimTime = try #require(claimed.data.flatMap { try? ControllerZNode(data: Data($0.utf8)) }?.timestamp)
                    #expect(claimed.data == #"{"version":2,"brokerid":3000,"timestamp":"\#(claimTime)","kraftControllerEpoch":1}"#)
                    #expect(claimed.ephemeralOwner == 0)
                    #expect(afterLoad["/controller_epoch"]??.data == "8")
                    let migration = try #require(afterLoad["/migration"]??.data)
                    let decoded = try MigrationZNode(data: Data(migration.utf8))
                    #expect(migration == #"{"version":0,"kraft_metadata_offset":\#(decoded.metadataOffset),"kraft_controller_id":3000,"kraft_metadata_epoch":1,"kraft_controller_epoch":1}"#)
                    #expect(decoded.metadataOffset > 0)
                    // Dual-written partition state: the KRaft controller epoch, the leader epoch moved on.
                    #expect(afterLoad[PartitionStateZNode.path(TopicPartition("orders", 0))]??.data == #"{"controller_epoch":1,"leader":1,"version":1,"leader_epoch":1,"isr":[1,2]}"#)
                    // Dual-write alive: /migration keeps moving (CAS on its version).
                    let version = try #require(afterLoad["/migration"]??.version)
                    try await Self.waitUntil("/migration advances", logs) { (try await zk.exists("/migration"))?.version ?? 0 > version + 2 }

                    // A KRaft leader change (the controller restarts, epoch 2) claims /controller again,
                    // in a new multi-op, and goes straight back to dual-write (no broker wait, no load).
                    #expect(await controller.stop() == nil)
                    controller = startController(flag: true)
                    try await Self.waitUntil("re-claimed at KRaft epoch 2", logs) {
                        guard let node = try? await KafkaLayout.read(zk, ControllerZNode.path, as: ControllerZNode.self).0 else { return false }
                        return node.kraftControllerEpoch == 2
                    }
                    #expect(String(decoding: try await zk.getData("/controller_epoch").data, as: UTF8.self) == "9")
                    try await Self.waitUntil("dual-write again", logs) { logs.all.filter { $0.contains("now in DUAL_WRITE") }.count == 2 }
                    #expect(logs.all.filter { $0.contains("Completed migration of metadata") }.count == 1)

                    // 5. A broker into KRaft mode leaves ZooKeeper.
                    _ = await brokers[1]!.stop()
                    brokers[1] = start(broker: 1, .kraft)
                    try await Self.waitUntil("broker 1 in KRaft mode", logs) { logs.all.contains { $0.contains("nodeId=1] started in KRaft mode") } }
                    #expect(try await children("/brokers/ids") == ["2"])

                    // 6. Finalization: the controller restarts without the flag, writes POST_MIGRATION
                    //    and stops writing ZooKeeper; the flag set again is ignored.
                    #expect(await controller.stop() == nil)
                    let frozen = try #require(try await zk.exists("/migration"))
                    controller = startController(flag: false)
                    try await Self.waitUntil("finalized", logs) { logs.all.contains { $0.contains("Completing the ZK migration since this controller was configured with 'zookeeper.metadata.migration.enable' set to 'false'.") } }
                    let metadata = root + "/controller/__cluster_metadata-0/00000000000000000000.log"
                    let lines = { ((try? String(contentsOfFile: metadata, encoding: .utf8)) ?? "").split(separator: "\n").count }
                    let atFinalize = lines()
                    try await Self.waitUntil("the log advances after finalization", logs) { lines() > atFinalize + 3 }
                    #expect(try await zk.exists("/migration")?.mzxid == frozen.mzxid)
                    #expect(await controller.stop() == nil)
                    controller = startController(flag: true)
                    try await Self.waitUntil("flag ignored", logs) { logs.all.contains { $0.contains("Ignoring 'zookeeper.metadata.migration.enable' value of 'true' since the ZK migration has been completed.") } }
                    #expect(await controller.stop() == nil)
                    #expect(try await zk.exists("/migration")?.mzxid == frozen.mzxid)

                    // 7. Refused as Kafka refuses: the flag on a de-novo KRaft log (NONE).
                    let deNovo = startController(flag: false, data: root + "/de-novo")
                    try await Self.waitUntil("de-novo activation", logs) { logs.all.contains { $0.contains("de-novo KRaft cluster") } }
                    #expect(await deNovo.stop() == nil)
                    let refused = await startController(flag: true, data: root + "/de-novo").finish()
                    #expect((refused as? KRaftSimulationRefusal)?.message == "Should not have ZK migrations enabled on a cluster that was created in KRaft mode.")

                    for broker in brokers.values { _ = await broker.stop() }
                    await zkControllerSession.close()
                }
            }
        }

        /// The claim's CAS on a real server, and the stale-/migration trap: a re-provisioned
        /// controller (empty log) that finds `kraft_metadata_offset > 0` skips the load and its sync
        /// deletes from ZooKeeper what its empty log lacks — as Kafka does (KAFKA-17146).
        @Test func claimCASAndTheStaleMigrationTrap() async throws {
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("kraft-trap-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            let channel = SimulatedRegistrationChannel(directory: root + "/channel")
            let logs = Recorded<String>()
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                let connect = ensemble.connectionString
                try await ZooKeeperClient.withClient(connect) { zk in
                    try await ZooKeeperClient.withClient(connect) { brokers in
                        try await KRaftTests.writeHealthyCluster(zk, brokers: brokers)
                        // A claim with a stale /controller_epoch version fails as a whole: /controller stays the ZooKeeper one.
                        let (_, epochStat) = try await zk.getData("/controller_epoch")
                        let (controllerData, controllerStat) = try await zk.getData("/controller")
                        let stale = try KRaftControllerWrites.claimController(
                            nodeID: 3000, kraftEpoch: 1, timestamp: 1, controllerEpoch: (7, epochStat.version + 1),
                            currentController: (try ControllerZNode(data: Data(controllerData)), controllerStat.version)).get()
                        await #expect(throws: ZooKeeperError.self) {
                            _ = try await zk.multi(stale)
                        }
                        let kept = try #require(try await Self.kazoo(connect, ["/controller"])["/controller"] ?? nil)
                        #expect(kept.ephemeralOwner != 0 && kept.data == KRaftTests.zkController(2))

                        // The trap: /migration left from an earlier attempt, brokers migrating, an empty log.
                        try await KafkaLayout.create(zk, "/migration", KRaftTests.migration(controller: 3000, epoch: 3, offset: 42))
                        for id in 1...3 { try channel.announce(.init(id: id, mode: .migration, ibp: "3.9", pid: getpid())) }
                        let file = KafkaNodeFile(source: "controller.properties", role: .controller, text: Self.controllerFile(connect, flag: true))
                        let controller = Running(task: Task {
                            try await SimulatedKRaftController(file: file, dataDirectory: root + "/controller", channel: channel, tick: .milliseconds(100), log: { logs.append($0) }).run()
                        })
                        try await Self.waitUntil("the sync deleted the topic", logs) { try await zk.exists("/brokers/topics/orders") == nil }
                        #expect(logs.all.contains { $0.contains("the load is skipped") && $0.contains("KAFKA-17146") })
                        #expect(await controller.stop() == nil)
                    }
                }
            }
        }
    }
}
