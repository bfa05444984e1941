import Foundation
import Testing
@testable import Kafka
@testable import KafkaPlanning

/// The simulated broker's and KRaft controller's decisions (pure): startup checks from
/// server.properties with Kafka's messages, activation, the driver's start, the start gate, and
/// the exact bytes and multi-ops Kafka's code writes (KRAFT.md §2, apache/kafka 3.9).
@Suite("KRaft simulation (pure)")
struct KRaftSimulationTests {
    static func file(_ role: KafkaNodeFile.Role, _ text: String) -> KafkaNodeFile { KafkaNodeFile(source: "server.properties", role: role, text: text) }
    static let zkBroker = """
        broker.id=1
        listeners=PLAINTEXT://10.200.0.11:9092
        inter.broker.protocol.version=3.9
        zookeeper.connect=10.200.0.2:2181/kafka
        """
    static let migratingBroker = zkBroker + """

        zookeeper.metadata.migration.enable=true
        controller.quorum.voters=3000@10.200.0.20:9093
        controller.listener.names=CONTROLLER
        listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
        """
    static let kraftBroker = """
        node.id=1
        process.roles=broker
        listeners=PLAINTEXT://10.200.0.11:9092
        controller.quorum.voters=3000@10.200.0.20:9093
        controller.listener.names=CONTROLLER
        listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
        """
    static let controller = """
        process.roles=controller
        node.id=3000
        listeners=CONTROLLER://10.200.0.20:9093
        controller.listener.names=CONTROLLER
        controller.quorum.voters=3000@10.200.0.20:9093
        zookeeper.metadata.migration.enable=true
        zookeeper.connect=10.200.0.2:2181/kafka
        """

    @Test func brokerModesFromTheFile() throws {
        #expect(try SimulatedNodeStartup.broker(Self.file(.broker, Self.zkBroker)).get().mode == .zookeeper)
        let migrating = try SimulatedNodeStartup.broker(Self.file(.broker, Self.migratingBroker)).get()
        #expect(migrating.mode == .migration && migrating.zookeeperConnect == "10.200.0.2:2181/kafka" && migrating.interBrokerProtocol == "3.9")
        let kraft = try SimulatedNodeStartup.broker(Self.file(.broker, Self.kraftBroker)).get()
        #expect(kraft.mode == .kraft && kraft.zookeeperConnect == nil)
    }

    @Test func brokerRefusalsQuoteKafka() {
        func refusal(_ text: String) -> String? {
            if case .failure(let refusal) = SimulatedNodeStartup.broker(Self.file(.broker, text)) { return refusal.message }
            return nil
        }
        #expect(refusal(Self.zkBroker.replacingOccurrences(of: "3.9", with: "3.3") + "\nzookeeper.metadata.migration.enable=true\ncontroller.quorum.voters=3000@c:9093\ncontroller.listener.names=CONTROLLER")
                == "Cannot enable ZooKeeper migration without setting 'inter.broker.protocol.version' to 3.4 or higher")
        #expect(refusal(Self.zkBroker + "\nzookeeper.metadata.migration.enable=true\ncontroller.listener.names=CONTROLLER")?.hasPrefix("If using zookeeper.metadata.migration.enable, either") == true)
        #expect(refusal(Self.zkBroker + "\nzookeeper.metadata.migration.enable=true\ncontroller.quorum.voters=3000@c:9093")
                == "controller.listener.names must not be empty when running in ZooKeeper migration mode: []")
        #expect(refusal("broker.id=1\nlisteners=PLAINTEXT://:9092") == "Missing required configuration `zookeeper.connect` which has no default value.")
        #expect(refusal(Self.kraftBroker.replacingOccurrences(of: "process.roles=broker", with: "process.roles=broker,controller"))?.contains("combined mode") == true)
        #expect(refusal(Self.kraftBroker + "\nbroker.id=2") == "You must set `node.id` to the same value as `broker.id`.")
    }

    @Test func controllerChecks() throws {
        let plan = try SimulatedNodeStartup.controller(Self.file(.controller, Self.controller)).get()
        #expect(plan == SimulatedControllerPlan(nodeID: 3000, migrationEnabled: true, zookeeperConnect: "10.200.0.2:2181/kafka"))
        let noConnect = Self.controller.replacingOccurrences(of: "zookeeper.connect=10.200.0.2:2181/kafka", with: "")
        guard case .failure(let refusal) = SimulatedNodeStartup.controller(Self.file(.controller, noConnect)) else { Issue.record("accepted"); return }
        #expect(refusal.message == "If using `zookeeper.metadata.migration.enable` in KRaft mode, `zookeeper.connect` must also be set.")
        #expect(refusal.location == "server.properties:6")
        let combined = Self.controller.replacingOccurrences(of: "process.roles=controller", with: "process.roles=broker,controller")
        guard case .failure(let combinedRefusal) = SimulatedNodeStartup.controller(Self.file(.controller, combined)) else { Issue.record("accepted"); return }
        #expect(combinedRefusal.message.contains("combined mode is not supported"))
    }

    @Test func activationFollowsActivationRecordsGenerator() {
        #expect(ControllerActivation.decide(logState: nil, migrationEnabled: true) == .beginPreMigration)
        #expect(ControllerActivation.decide(logState: nil, migrationEnabled: false) == .deNovoKRaft)
        #expect(ControllerActivation.decide(logState: ZkMigrationState.none, migrationEnabled: true)
                == .refuse("Should not have ZK migrations enabled on a cluster that was created in KRaft mode."))
        #expect(ControllerActivation.decide(logState: .migration, migrationEnabled: true) == .runDriver(.migration))
        #expect(ControllerActivation.decide(logState: .preMigration, migrationEnabled: true) == .runDriver(.preMigration))
        #expect(ControllerActivation.decide(logState: .migration, migrationEnabled: false) == .finalize)
        guard case .kraftOnly(let message) = ControllerActivation.decide(logState: .postMigration, migrationEnabled: true) else { Issue.record("not ignored"); return }
        #expect(message.hasPrefix("Ignoring 'zookeeper.metadata.migration.enable' value of 'true'"))
    }

    @Test func driverStartAndTheStaleMigrationTrap() {
        let fresh = MigrationZNode.empty, loaded = MigrationZNode(controllerID: 3000, controllerEpoch: 1, metadataOffset: 42, metadataEpoch: 1)
        #expect(MigrationDriverStart.decide(logState: .preMigration, logHasLoadedTopics: false, migration: fresh) == .load)
        #expect(MigrationDriverStart.decide(logState: .preMigration, logHasLoadedTopics: false, migration: loaded) == .staleMigrationSkipsLoad)
        #expect(MigrationDriverStart.decide(logState: .migration, logHasLoadedTopics: true, migration: loaded) == .syncKRaftToZooKeeper)
        #expect(MigrationDriverStart.decide(logState: .migration, logHasLoadedTopics: true, migration: fresh)
                == .inactive("KRaft controller indicates an active migration, but the ZK state does not."))
    }

    @Test func startGateCountsReplicaIDsInAssignments() {
        #expect(MigrationStartGate.missing(zooKeeperBrokers: [1, 2], replicaIDs: [1, 2, 4], migrating: [1, 2]) == [4])
        #expect(MigrationStartGate.waitingMessage(zooKeeperBrokers: [1, 2], replicaIDs: [1, 2, 4], migrating: [1, 2])
                == "Still waiting for ZK brokers [4] found in metadata to register with KRaft.")
        #expect(MigrationStartGate.waitingMessage(zooKeeperBrokers: [1, 2], replicaIDs: [1], migrating: [1]) == "Still waiting for ZK brokers [2] to register with KRaft.")
        #expect(MigrationStartGate.waitingMessage(zooKeeperBrokers: [1], replicaIDs: [1], migrating: [1]) == nil)
    }

    @Test func bytesAsKafkaWritesThem() throws {
        let text = { (data: Data) in String(decoding: data, as: UTF8.self) }
        // MigrationZNode.encode: a five-entry Scala HashMap, CHAMP order.
        #expect(text(MigrationZNode.empty.data())
                == #"{"version":0,"kraft_metadata_offset":-1,"kraft_controller_id":-1,"kraft_metadata_epoch":-1,"kraft_controller_epoch":-1}"#)
        // ControllerZNode.encode (3.4+): a four-entry Map in insertion order.
        #expect(text(ControllerZNode(kraftController: 3000, timestamp: 1700000000123, kraftControllerEpoch: 4).data())
                == #"{"version":2,"brokerid":3000,"timestamp":"1700000000123","kraftControllerEpoch":4}"#)
        // BrokerIdZNode.encode v5, mutable.HashMap order (as real 3.x registrations show).
        let plan = try SimulatedNodeStartup.broker(Self.file(.broker, Self.migratingBroker.replacingOccurrences(of: "listeners=PLAINTEXT://10.200.0.11:9092", with: "listeners=PLAINTEXT://10.200.0.11:9092,CONTROLLER://10.200.0.11:9093\nbroker.rack=r1"))).get()
        #expect(text(plan.registration(timestampMilliseconds: 1720499608615).data())
                == #"{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://10.200.0.11:9092"],"rack":"r1","jmx_port":-1,"port":9092,"host":"10.200.0.11","version":5,"timestamp":"1720499608615"}"#)
        // TopicPartitionStateZNode.encode: CHAMP order, controller_epoch = the KRaft epoch in dual-write.
        #expect(text(PartitionStateZNode(leader: 1, leaderEpoch: 3, controllerEpoch: 4, isr: [1, 2]).data())
                == #"{"controller_epoch":4,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2]}"#)
    }

    @Test func claimIsOneMultiOpInKafkasOrder() throws {
        let zkController = try ControllerZNode(data: Data(#"{"version":2,"brokerid":2,"timestamp":"1","kraftControllerEpoch":-1}"#.utf8))
        let ops = try KRaftControllerWrites.claimController(nodeID: 3000, kraftEpoch: 1, timestamp: 5, controllerEpoch: (7, 3), currentController: (zkController, 0)).get()
        #expect(ops.map(\.description) == ["setData /controller_epoch @v3", "delete /controller @v0", "create /controller (persistent)"])
        #expect(ops[0] == .setData("/controller_epoch", Data("8".utf8), version: 3))
        let noController = try KRaftControllerWrites.claimController(nodeID: 3000, kraftEpoch: 1, timestamp: 5, controllerEpoch: (7, 3), currentController: nil).get()
        #expect(noController.map(\.description) == ["setData /controller_epoch @v3", "create /controller (persistent)"])
        let kraftHeld = try ControllerZNode(data: Data(#"{"version":2,"brokerid":3000,"timestamp":"1","kraftControllerEpoch":2}"#.utf8))
        guard case .failure(let older) = KRaftControllerWrites.claimController(nodeID: 3000, kraftEpoch: 2, timestamp: 5, controllerEpoch: (8, 4), currentController: (kraftHeld, 0)) else {
            Issue.record("an equal KRaft epoch was accepted"); return
        }
        #expect(older.message.contains("has the same or newer epoch 2"))
        guard case .failure(let noEpoch) = KRaftControllerWrites.claimController(nodeID: 3000, kraftEpoch: 1, timestamp: 5, controllerEpoch: nil, currentController: nil) else {
            Issue.record("claimed without /controller_epoch"); return
        }
        #expect(noEpoch.message.hasSuffix("since there is no ZK controller epoch present."))
    }

    @Test func dualWritesAreGuardedOneByOne() {
        let migration = MigrationZNode(controllerID: 3000, controllerEpoch: 1, metadataOffset: 9, metadataEpoch: 1)
        let writes: [SimulatedZooKeeperOp] = [.setData("/brokers/topics/a/partitions/0/state", Data(), version: -1), .delete("/brokers/topics/b", version: -1)]
        let multis = KRaftControllerWrites.guarded(writes, controllerEpochVersion: 5, migration: migration, migrationVersion: 2)
        #expect(multis.map { $0.map(\.description) } == [
            ["check /controller_epoch @v5", "check /migration @v2", "setData /brokers/topics/a/partitions/0/state @v-1"],
            ["check /controller_epoch @v5", "setData /migration @v2", "delete /brokers/topics/b @v-1"],
        ])
    }

    @Test func zooKeeperControllerElectionAndTheEpochTrap() {
        // registerControllerAndIncrementControllerEpoch: create the ephemeral v2 /controller, then bump the epoch by CAS.
        let ops = ZooKeeperControllerElection.ops(brokerID: 2, timestamp: 9, controllerEpoch: (7, 4))
        #expect(ops == [.createEphemeral("/controller", Data(#"{"version":2,"brokerid":2,"timestamp":"9","kraftControllerEpoch":-1}"#.utf8)),
                        .setData("/controller_epoch", Data("8".utf8), version: 4)])
        // KAFKA-20488: states written by a KRaft controller whose epoch ran past the ZooKeeper
        // controller's stay offline after a rollback; equal or older epochs are fine.
        let states: [TopicPartition: PartitionState] = [
            TopicPartition("orders", 0): PartitionState(leader: 1, leaderEpoch: 1, controllerEpoch: 12, isr: [1]),
            TopicPartition("orders", 1): PartitionState(leader: 2, leaderEpoch: 1, controllerEpoch: 8, isr: [2]),
        ]
        #expect(ZooKeeperControllerElection.abortedElections(states, epoch: 8) == [TopicPartition("orders", 0)])
        #expect(ZooKeeperControllerElection.abortedElections(states, epoch: 12).isEmpty)
    }
}
