import Foundation
import Testing
import ZooKeeper
@testable import Kafka
@testable import KafkaPlanning

/// Every readiness check against a healthy cluster with one fault each: the faulty check fails,
/// every other check passes.
@Suite("KRaft readiness and status (pure)")
struct KRaftReadinessTests {
    static func raw(_ text: String, ephemeralOwner: Int64 = 0, version: Int32 = 0, mtime: Int64 = 1000) -> KafkaMetadataReader.RawZNode {
        .init(data: Data(text.utf8), stat: Stat(mtime: mtime, version: version, ephemeralOwner: ephemeralOwner))
    }

    static func healthyView() -> KRaftZooKeeperView {
        let state = KafkaClusterState(
            brokers: [Broker(id: 1), Broker(id: 2), Broker(id: 3)],
            topics: [Topic(name: "orders", partitions: [0: [1, 2, 3], 1: [2, 3, 1]], topicID: "nBsQmVY3Ti6h8KQ5bKmqzQ"),
                     Topic(name: "logs", partitions: [0: [3, 1]], topicID: "dX2pX7yZQ4eJ1rDk3iVh8A")],
            controller: 2, controllerEpoch: 7)
        return KRaftZooKeeperView(
            state: state, clusterID: raw(#"{"version":"1","id":"Y8Lk3YQwQ1q0rZ0eR1vJ1A"}"#),
            controller: raw(#"{"version":2,"brokerid":2,"timestamp":"1700000000000","kraftControllerEpoch":-1}"#, ephemeralOwner: 0x1234))
    }

    static func broker(_ id: Int, _ extra: String = "") -> KafkaNodeFile {
        KafkaNodeFile(source: "broker-\(id).properties", role: .broker, text: """
            broker.id=\(id)
            listeners=PLAINTEXT://:9092
            inter.broker.protocol.version=3.9
            log.dirs=/var/kafka/data
            zookeeper.connect=zk2:2181,zk1:2181/kafka
            \(extra)
            """)
    }

    static func controller(_ id: Int, _ extra: String = "") -> KafkaNodeFile {
        KafkaNodeFile(source: "controller-\(id).properties", role: .controller, text: """
            process.roles=controller
            node.id=\(id)
            controller.listener.names=CONTROLLER
            listeners=CONTROLLER://:9093
            listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
            controller.quorum.bootstrap.servers=c1:9093
            zookeeper.metadata.migration.enable=true
            zookeeper.connect=zk1:2181,zk2:2181/kafka
            inter.broker.listener.name=PLAINTEXT
            \(extra)
            """)
    }

    static func readiness(view: KRaftZooKeeperView = healthyView(), brokers: [KafkaNodeFile]? = nil, controllers: [KafkaNodeFile]? = nil,
                          version: String = "3.9.0") -> KRaftReadiness {
        KRaftReadiness(view: view, brokers: brokers ?? [broker(1), broker(2), broker(3)], controllers: controllers ?? [controller(3000)],
                       kafkaVersion: KafkaVersion(version))
    }

    static func failing(_ readiness: KRaftReadiness) -> [String] {
        readiness.checks.filter { $0.outcome == .fail }.map(\.id)
    }

    @Test func healthyClusterPassesEveryCheck() {
        let checks = Self.readiness().checks
        #expect(checks.count == 14)
        #expect(checks.filter { $0.outcome != .pass }.map(\.id) == [], "\(checks.filter { $0.outcome != .pass })")
        #expect(checks.first { $0.id == "cluster-id" }?.detail.contains("Y8Lk3YQwQ1q0rZ0eR1vJ1A") == true)
    }

    @Test func withoutConfigsTheFileChecksAreSkippedWithWhy() {
        let checks = KRaftReadiness(view: Self.healthyView()).checks
        let skipped = checks.filter { $0.outcome == .skip }
        #expect(skipped.map(\.id) == ["ibp", "jbod", "node-ids", "listeners", "zookeeper-connect", "authorizer", "kafka-version"])
        #expect(skipped.allSatisfy { !$0.detail.isEmpty })
        #expect(checks.filter { $0.outcome == .fail }.isEmpty)
    }

    @Test func clusterIDMissingOrMalformed() {
        var view = Self.healthyView()
        view.clusterID = nil
        #expect(Self.failing(Self.readiness(view: view)) == ["cluster-id"])
        view.clusterID = Self.raw(#"{"version":"1"}"#)
        #expect(Self.failing(Self.readiness(view: view)) == ["cluster-id"])
    }

    @Test func deadReplicaIDBlocksTheStart() {
        var view = Self.healthyView()
        view.state.topics["logs"]!.partitions[0] = [3, 4]
        let check = Self.readiness(view: view).replicasRegistered
        #expect(Self.failing(Self.readiness(view: view)) == ["replicas-registered"])
        #expect(check.detail.contains("replica ids 4") && check.detail.contains("logs-0"))
        // An unregistered broker from the files is named too.
        #expect(Self.failing(Self.readiness(brokers: [Self.broker(1), Self.broker(2), Self.broker(3), Self.broker(5)])) == ["replicas-registered"])
    }

    @Test func topicWithoutTopicID() {
        var view = Self.healthyView()
        view.state.topics["logs"]!.topicID = nil
        #expect(Self.failing(Self.readiness(view: view)) == ["topic-ids"])
    }

    @Test func pendingTopicDeletion() {
        var view = Self.healthyView()
        view.pendingTopicDeletions = ["old-topic"]
        #expect(Self.failing(Self.readiness(view: view)) == ["pending-deletions"])
    }

    @Test func interBrokerProtocolVersions() {
        #expect(Self.failing(Self.readiness(brokers: [Self.broker(1), Self.broker(2), Self.broker(3).replacing("protocol.version=3.9", with: "protocol.version=3.8")])) == ["ibp"])
        let low = [1, 2, 3].map { Self.broker($0).replacing("inter.broker.protocol.version=3.9", with: "inter.broker.protocol.version=3.3") }
        #expect(Self.failing(Self.readiness(brokers: low, version: "3.3.2")).contains("ibp"))
        let missing = [1, 2, 3].map { Self.broker($0).replacing("inter.broker.protocol.version=3.9", with: "") }
        #expect(Self.failing(Self.readiness(brokers: missing)) == ["ibp"])
        // Equal on every broker but not the release they run.
        #expect(Self.failing(Self.readiness(version: "3.8.1")) == ["ibp"])
    }

    @Test func jbodAgainstTheVersion() {
        let jbod = [Self.broker(1).replacing("log.dirs=/var/kafka/data", with: "log.dirs=/d1,/d2"), Self.broker(2), Self.broker(3)]
        #expect(Self.failing(Self.readiness(brokers: jbod)) == [], "3.9 with IBP 3.9 supports JBOD")
        let oldIBP = [Self.broker(1).replacing("protocol.version=3.9", with: "protocol.version=3.7-IV1").replacing("log.dirs=/var/kafka/data", with: "log.dirs=/d1,/d2")]
        #expect(Self.failing(Self.readiness(brokers: oldIBP, version: "3.7.1")).contains("jbod"))
        let on36 = [1, 2, 3].map { Self.broker($0).replacing("protocol.version=3.9", with: "protocol.version=3.6").replacing("log.dirs=/var/kafka/data", with: "log.dirs=/d1,/d2") }
        #expect(Self.failing(Self.readiness(brokers: on36, version: "3.6.2")) == ["jbod"])
    }

    @Test func controllerNodeIDCollidesWithABroker() {
        #expect(Self.failing(Self.readiness(controllers: [Self.controller(2)])) == ["node-ids"])
        #expect(Self.failing(Self.readiness(controllers: [Self.controller(3000), Self.controller(3000)])) == ["node-ids"])
        #expect(Self.failing(Self.readiness(brokers: [Self.broker(1), Self.broker(2), Self.broker(3).replacing("broker.id=3", with: "broker.id=-1")])).contains("node-ids"))
    }

    @Test func listenerConsistency() {
        let notMapped = Self.controller(3000).replacing("listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT", with: "listener.security.protocol.map=PLAINTEXT:PLAINTEXT")
        #expect(Self.failing(Self.readiness(controllers: [notMapped])) == ["listeners"])
        let interMissing = Self.broker(3, "inter.broker.listener.name=INTERNAL")
        #expect(Self.failing(Self.readiness(brokers: [Self.broker(1), Self.broker(2), interMissing])) == ["listeners"])
        let migratingBrokerUnmapped = Self.broker(1, "controller.listener.names=CONTROLLER")
        #expect(Self.failing(Self.readiness(brokers: [migratingBrokerUnmapped, Self.broker(2), Self.broker(3)])) == ["listeners"])
        let mapped = Self.broker(1, "controller.listener.names=CONTROLLER\nlistener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")
        #expect(Self.failing(Self.readiness(brokers: [mapped, Self.broker(2), Self.broker(3)])) == [])
    }

    @Test func zookeeperConnectComparedAsSetsWithChroot() {
        // broker(…) lists zk2 before zk1: same ensemble as the controller's.
        #expect(Self.failing(Self.readiness()) == [])
        let otherChroot = Self.broker(3).replacing("zk2:2181,zk1:2181/kafka", with: "zk2:2181,zk1:2181/kafka2")
        #expect(Self.failing(Self.readiness(brokers: [Self.broker(1), Self.broker(2), otherChroot])) == ["zookeeper-connect"])
        let noConnect = Self.controller(3000).replacing("zookeeper.connect=zk1:2181,zk2:2181/kafka", with: "")
        #expect(Self.failing(Self.readiness(controllers: [noConnect])) == ["zookeeper-connect"])
    }

    @Test func migrationZNodeStaleMalformedOrUnderWay() {
        var view = Self.healthyView()
        view.migration = Self.raw(#"{"version":0,"kraft_controller_id":-1,"kraft_controller_epoch":-1,"kraft_metadata_offset":-1,"kraft_metadata_epoch":-1}"#)
        #expect(Self.failing(Self.readiness(view: view)) == [], "created by controllers, not loaded: harmless")
        view.migration = Self.raw(#"{"version":0,"kraft_controller_id":3000,"kraft_controller_epoch":5,"kraft_metadata_offset":420,"kraft_metadata_epoch":5}"#)
        #expect(Self.failing(Self.readiness(view: view)) == ["migration-znode"])
        #expect(Self.readiness(view: view).migrationZNode.detail.contains("stale"))
        view.migration = Self.raw("")
        #expect(Self.failing(Self.readiness(view: view)) == ["migration-znode"])
        view.migration = Self.raw(#"{"version":1,"kraft_controller_id":-1,"kraft_controller_epoch":-1,"kraft_metadata_offset":-1,"kraft_metadata_epoch":-1}"#)
        #expect(Self.readiness(view: view).migrationZNode.detail.contains("version is 1"))
    }

    @Test func reassignmentInFlight() {
        var view = Self.healthyView()
        view.state.reassignmentsInProgress = [TopicPartition("logs", 0): [1, 2]]
        #expect(Self.failing(Self.readiness(view: view)) == ["reassignment"])
    }

    @Test func encryptedPasswordsNeedTheSecret() {
        var view = Self.healthyView()
        view.brokerConfigs = ["1": ["listener.name.external.ssl.key.password": "keyFactoryAlgorithm:PBKDF2WithHmacSHA512,encryptedPassword:q2Xg==,keyLength:128"]]
        #expect(Self.failing(Self.readiness(view: view)) == ["encrypted-passwords"])
        #expect(Self.failing(Self.readiness(view: view, controllers: [Self.controller(3000, "password.encoder.secret=s3cret")])) == [])
        #expect(KRaftReadiness(view: view).encryptedPasswords.outcome == .skip)
    }

    @Test func authorizerToSwitch() {
        let acl = "authorizer.class.name=kafka.security.authorizer.AclAuthorizer"
        let check = Self.readiness(brokers: [Self.broker(1, acl), Self.broker(2, acl), Self.broker(3, acl)]).authorizer
        #expect(check.outcome == .pass && check.detail.contains("StandardAuthorizer"))
        #expect(Self.failing(Self.readiness(controllers: [Self.controller(3000, acl)])) == ["authorizer"])
    }

    @Test func knownBugsByRelease() {
        let old = [1, 2, 3].map { Self.broker($0).replacing("inter.broker.protocol.version=3.9", with: "inter.broker.protocol.version=3.6") }
        let check = Self.readiness(brokers: old, version: "3.6.1").knownBugs
        #expect(check.outcome == .fail && check.detail.contains("KAFKA-16171") && !check.detail.contains("KAFKA-15552"))
        let mid = [1, 2, 3].map { Self.broker($0).replacing("inter.broker.protocol.version=3.9", with: "inter.broker.protocol.version=3.7") }
        let passing = Self.readiness(brokers: mid, version: "3.7.1").knownBugs
        #expect(passing.outcome == .pass && passing.detail.contains("KAFKA-16206") && !passing.detail.contains("KAFKA-16539"))
        #expect(Self.readiness().knownBugs.detail.contains("no known migration bug"))
        #expect(KRaftReadiness(view: Self.healthyView(), kafkaVersion: KafkaVersion("4.0.0")).knownBugs.outcome == .fail)
    }

    @Test func versions() {
        #expect(KafkaVersion("3.7-IV2")!.atLeast(3, 7, iv: 2))
        #expect(!KafkaVersion("3.7-IV1")!.atLeast(3, 7, iv: 2))
        #expect(KafkaVersion("3.7")!.atLeast(3, 7, iv: 2))
        #expect(!KafkaVersion("2.8-IV1")!.atLeast(3, 4))
        #expect(KafkaVersion("3.6.1")! < KafkaVersion("3.6.2")!)
        #expect(KafkaVersion("three") == nil)
    }

    // MARK: status

    @Test func statusPhases() {
        var view = Self.healthyView()
        #expect(KRaftStatus(view: view).phase == .zookeeper)
        view.migration = Self.raw(#"{"version":0,"kraft_controller_id":-1,"kraft_controller_epoch":-1,"kraft_metadata_offset":-1,"kraft_metadata_epoch":-1}"#)
        #expect(KRaftStatus(view: view).phase == .controllersProvisioned)
        #expect(KRaftStatus(view: view).migration.state == "created")
        view.controller = Self.raw(#"{"version":2,"brokerid":3000,"timestamp":"1700000000000","kraftControllerEpoch":5}"#)
        let loading = KRaftStatus(view: view)
        #expect(loading.phase == .loading)
        #expect(loading.controller == .init(owner: "kraft", id: 3000, znode: "persistent", kraftControllerEpoch: 5))
        view.migration = Self.raw(#"{"version":0,"kraft_controller_id":3000,"kraft_controller_epoch":5,"kraft_metadata_offset":420,"kraft_metadata_epoch":5}"#, version: 3, mtime: 1000)
        let later = Self.raw(#"{"version":0,"kraft_controller_id":3000,"kraft_controller_epoch":5,"kraft_metadata_offset":431,"kraft_metadata_epoch":5}"#, version: 4, mtime: 4000)
        let alive = KRaftStatus(view: view, secondRead: .init(migration: later))
        #expect(alive.phase == .dualWrite && alive.migration.dualWrite == "alive" && alive.migration.offsetAdvancedBy == 11)
        #expect(KRaftStatus(view: view, secondRead: .init(migration: view.migration)).migration.dualWrite == "stalled")
        #expect(KRaftStatus(view: view).migration.dualWrite == nil)
        // A stale /migration under a ZooKeeper controller fits no phase.
        view.controller = Self.raw(#"{"version":2,"brokerid":2,"timestamp":"1700000000000","kraftControllerEpoch":-1}"#, ephemeralOwner: 0x99)
        #expect(KRaftStatus(view: view).phase == .inconsistent)
    }

    @Test func rollbackEpochSafety() {
        var view = Self.healthyView()
        view.state.partitionStates = [TopicPartition("orders", 0): PartitionState(leader: 1, controllerEpoch: 8, isr: [1])]
        #expect(KRaftStatus(view: view).highestPartitionControllerEpoch == 8)
        #expect(!KRaftStatus(view: view).rollbackEpochUnsafe, "8 ≤ /controller_epoch 7 + 1")
        view.state.partitionStates[TopicPartition("orders", 1)] = PartitionState(leader: 2, controllerEpoch: 12, isr: [2])
        #expect(KRaftStatus(view: view).rollbackEpochUnsafe)
    }

    @Test func nodeModesFromConfigs() {
        let files = [Self.broker(1), Self.broker(2, "zookeeper.metadata.migration.enable=true"),
                     KafkaNodeFile(source: "b3", role: .broker, text: "process.roles=broker\nnode.id=3\n"), Self.controller(3000)]
        let status = KRaftStatus(view: Self.healthyView(), nodes: files)
        #expect(status.nodes.map(\.mode) == [.zookeeper, .migration, .kraft, .migration])
        #expect(status.nodes.map(\.id) == [1, 2, 3, 3000])
        #expect(status.nodes.map(\.registeredInZooKeeper) == [true, true, true, nil])
    }
}

extension KafkaNodeFile {
    /// The same file with `old` replaced by `new` in its text.
    func replacing(_ old: String, with new: String) -> KafkaNodeFile {
        KafkaNodeFile(source: source, role: role, text: config.rendered.replacingOccurrences(of: old, with: new))
    }
}
