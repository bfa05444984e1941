import Foundation
import Kafka
import Testing
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    /// `mitosis kafka kraft check` and `status` against one real ZooKeeper 3.8.0 holding Kafka's
    /// exact layout, one fault per chroot. No Kafka broker runs: the znodes are written as Kafka's
    /// code writes them (KRAFT.md §2).
    @Suite struct KRaftTests {
        static let clusterID = #"{"version":"1","id":"Y8Lk3YQwQ1q0rZ0eR1vJ1A"}"#
        static func zkController(_ id: Int) -> String { #"{"version":2,"brokerid":\#(id),"timestamp":"1700000000000","kraftControllerEpoch":-1}"# }
        static func migration(controller: Int, epoch: Int, offset: Int) -> String {
            #"{"version":0,"kraft_controller_id":\#(controller),"kraft_controller_epoch":\#(epoch),"kraft_metadata_offset":\#(offset),"kraft_metadata_epoch":\#(epoch)}"#
        }

        /// A 3.x cluster as a ZooKeeper-mode controller leaves it: `/cluster/id`, three brokers
        /// (ephemeral, through `brokers`' session), topics with `topic_id`, an ephemeral v2 `/controller`.
        static func writeHealthyCluster(_ zk: ZooKeeperClient, brokers: ZooKeeperClient, topicIDs: Bool = true, replicas: [[Int]] = [[1, 2, 3], [2, 3, 1]]) async throws {
            try await KafkaLayout.create(zk, "/cluster/id", clusterID)
            for id in 1...3 { try await KafkaLayout.create(brokers, "/brokers/ids/\(id)", KafkaLayout.registration(id), mode: .ephemeral) }
            try await KafkaLayout.create(brokers, "/controller", zkController(2), mode: .ephemeral)
            try await KafkaLayout.create(zk, "/controller_epoch", "7")
            let assignment = TopicAssignmentZNode(version: 3, partitions: Dictionary(uniqueKeysWithValues: replicas.enumerated().map { ($0.offset, $0.element.map { BrokerID($0) }) }),
                                                  topicID: topicIDs ? "nBsQmVY3Ti6h8KQ5bKmqzQ" : nil)
            try await KafkaLayout.create(zk, "/brokers/topics/orders", String(decoding: assignment.data(), as: UTF8.self))
            for (partition, list) in replicas.enumerated() {
                let state = PartitionStateZNode(leader: BrokerID(list[0]), leaderEpoch: 0, controllerEpoch: 7, isr: list.map { BrokerID($0) })
                try await KafkaLayout.create(zk, PartitionStateZNode.path(TopicPartition("orders", partition)), String(decoding: state.data(), as: UTF8.self))
            }
        }

        static func failing(_ zk: ZooKeeperClient, controllers: [KafkaNodeFile] = []) async throws -> [String] {
            let view = try await KRaftZooKeeperView.read(zk)
            return KRaftReadiness(view: view, controllers: controllers).checks.filter { $0.outcome == .fail }.map(\.id)
        }

        /// What a KRaft leader does in `tryRegisterKRaftControllerAsActiveController`: one multi-op
        /// bumping `/controller_epoch` (CAS), deleting the ZooKeeper controller's `/controller` and
        /// creating a persistent one with `kraftControllerEpoch`.
        static func kraftTakesOverController(_ zk: ZooKeeperClient, node: Int, kraftEpoch: Int) async throws {
            let (epochData, epochStat) = try await zk.getData("/controller_epoch")
            let next = Int(String(decoding: epochData, as: UTF8.self))! + 1
            let controller = #"{"version":2,"brokerid":\#(node),"timestamp":"1700000001000","kraftControllerEpoch":\#(kraftEpoch)}"#
            _ = try await zk.multi([
                .setData(SetDataRequest(path: "/controller_epoch", data: Array(String(next).utf8), version: epochStat.version)),
                .delete(DeleteRequest(path: "/controller")),
                .create(CreateRequest(path: "/controller", data: Array(controller.utf8), acl: ACL.openUnsafe, mode: .persistent)),
            ])
        }

        @Test func readinessChecksAndStatusAgainstKafkasLayout() async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                // One session plays the brokers (their ephemeral registrations); chroots are per scenario.
                func scenario(_ chroot: String, _ body: (ZooKeeperClient, ZooKeeperClient) async throws -> Void) async throws {
                    _ = try await ZooKeeperClient.withClient(ensemble.connectionString) { try await $0.create(chroot) }
                    try await ZooKeeperClient.withClient(ensemble.connectionString + chroot) { zk in
                        try await ZooKeeperClient.withClient(ensemble.connectionString + chroot) { brokers in try await body(zk, brokers) }
                    }
                }

                try await scenario("/healthy") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers)
                    let view = try await KRaftZooKeeperView.read(zk)
                    #expect(KRaftReadiness(view: view).checks.filter { $0.outcome == .fail }.isEmpty)
                    #expect(KRaftReadiness(view: view).clusterID.detail.contains("Y8Lk3YQwQ1q0rZ0eR1vJ1A"))
                    let status = KRaftStatus(view: view)
                    #expect(status.phase == .zookeeper && status.controller.owner == "zookeeper" && status.controller.znode == "ephemeral")
                    #expect(status.brokersInZooKeeper == [1, 2, 3] && status.controllerEpoch == 7)
                }
                try await scenario("/dead-replica") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers, replicas: [[1, 2, 9]])
                    #expect(try await Self.failing(zk) == ["replicas-registered"])
                }
                try await scenario("/no-topic-id") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers, topicIDs: false)
                    #expect(try await Self.failing(zk) == ["topic-ids"])
                }
                try await scenario("/no-cluster-id") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers)
                    try await zk.delete("/cluster/id")
                    #expect(try await Self.failing(zk) == ["cluster-id"])
                }
                try await scenario("/pending-delete") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers)
                    try await KafkaLayout.create(zk, "/admin/delete_topics/old-orders", "")
                    #expect(try await Self.failing(zk) == ["pending-deletions"])
                }
                try await scenario("/reassigning") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers)
                    try await KafkaLayout.create(zk, "/admin/reassign_partitions", #"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[3,2,1]}]}"#)
                    #expect(try await Self.failing(zk) == ["reassignment"])
                }
                try await scenario("/migration-null") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers)
                    try await zk.create("/migration")  // null data, as zookeeper-security-migration leaves it
                    #expect(try await Self.failing(zk) == ["migration-znode"])
                    #expect(KRaftStatus(view: try await KRaftZooKeeperView.read(zk)).migration.state == "malformed")
                }
                try await scenario("/migration-stale") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers)
                    try await KafkaLayout.create(zk, "/migration", Self.migration(controller: 3000, epoch: 5, offset: 420))
                    #expect(try await Self.failing(zk) == ["migration-znode"])
                    #expect(KRaftStatus(view: try await KRaftZooKeeperView.read(zk)).phase == .inconsistent)
                }
                try await scenario("/passwords") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers)
                    try await KafkaLayout.create(zk, "/config/brokers/1", #"{"version":1,"config":{"listener.name.external.ssl.key.password":"keyFactoryAlgorithm:PBKDF2WithHmacSHA512,cipherAlgorithm:AES/CBC/PKCS5Padding,encryptedPassword:q2XgWm1vT0k=,keyLength:128"}}"#)
                    let controller = KafkaNodeFile(source: "c1", role: .controller, text: "node.id=3000\nprocess.roles=controller\n")
                    #expect(try await Self.failing(zk, controllers: [controller]).contains("encrypted-passwords"))
                    let withSecret = KafkaNodeFile(source: "c1", role: .controller, text: "node.id=3000\nprocess.roles=controller\npassword.encoder.secret=s3cret\n")
                    #expect(!(try await Self.failing(zk, controllers: [withSecret]).contains("encrypted-passwords")))
                }
                try await scenario("/migrating") { zk, brokers in
                    try await Self.writeHealthyCluster(zk, brokers: brokers)
                    // Controllers provisioned: the migration driver creates /migration with -1s.
                    try await KafkaLayout.create(zk, "/migration", Self.migration(controller: -1, epoch: -1, offset: -1))
                    #expect(KRaftStatus(view: try await KRaftZooKeeperView.read(zk)).phase == .controllersProvisioned)
                    #expect(try await Self.failing(zk) == [])
                    // The KRaft leader takes /controller (persistent), then claims /migration.
                    try await Self.kraftTakesOverController(zk, node: 3000, kraftEpoch: 5)
                    _ = try await zk.setData("/migration", data: Array(Self.migration(controller: 3000, epoch: 5, offset: -1).utf8), version: 0)
                    let loading = KRaftStatus(view: try await KRaftZooKeeperView.read(zk))
                    #expect(loading.phase == .loading)
                    #expect(loading.controller.owner == "kraft" && loading.controller.id == 3000 && loading.controller.znode == "persistent" && loading.controller.kraftControllerEpoch == 5)
                    #expect(loading.controllerEpoch == 8)
                    #expect(try await Self.failing(zk) == ["migration-znode"], "a migration under way is not a start")
                    // The load completes; then dual-write rewrites /migration with a newer offset.
                    let loaded = try await zk.setData("/migration", data: Array(Self.migration(controller: 3000, epoch: 5, offset: 420).utf8), version: 1)
                    let view = try await KRaftZooKeeperView.read(zk)
                    // The second write must land in a later millisecond than the first (mtime has ms resolution).
                    var clock = try await zk.createReturningStat("/clock").stat
                    while clock.mtime <= loaded.mtime { clock = try await zk.setData("/clock", data: []) }
                    _ = try await zk.setData("/migration", data: Array(Self.migration(controller: 3000, epoch: 5, offset: 431).utf8), version: 2)
                    let second = try await KRaftZooKeeperView.readMigration(zk)
                    let alive = KRaftStatus(view: view, secondRead: .init(migration: second))
                    #expect(alive.phase == .dualWrite && alive.migration.dualWrite == "alive" && alive.migration.offsetAdvancedBy == 11)
                    let stalled = KRaftStatus(view: try await KRaftZooKeeperView.read(zk), secondRead: .init(migration: try await KRaftZooKeeperView.readMigration(zk)))
                    #expect(stalled.migration.dualWrite == "stalled")
                    #expect(stalled.highestPartitionControllerEpoch == 7 && !stalled.rollbackEpochUnsafe)
                    // Dual-write stamps partition states with the KRaft controller epoch; past /controller_epoch + 1
                    // a rollback would leave partitions offline (KAFKA-20488).
                    let dualWritten = PartitionStateZNode(leader: 2, leaderEpoch: 1, controllerEpoch: 12, isr: [2, 3, 1])
                    _ = try await zk.setData(PartitionStateZNode.path(TopicPartition("orders", 1)), data: Array(dualWritten.data()))
                    #expect(KRaftStatus(view: try await KRaftZooKeeperView.read(zk)).rollbackEpochUnsafe)
                }
            }
        }
    }
}
