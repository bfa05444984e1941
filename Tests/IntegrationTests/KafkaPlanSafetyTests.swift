import Foundation
import Kafka
import Testing
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers.KafkaExecutionTests {
    /// `mitosis kafka run` against real ZooKeeper holding Kafka's layout refuses plan files edited
    /// into unsafe ones, before it writes anything: stage 1 dropping every old replica, a target
    /// broker that is not registered, a replication factor cut to 1. The cluster's znodes are as
    /// they were (no reassignment, no throttle, no change notification, the same assignment).
    @Test func kafkaRunRefusesUnsafePlanFilesBeforeMovingAnything() async throws {
        try await Self.withCluster { connection, zk, session in
            let (_, planned) = try await Self.migrationPlan(zk)
            let before = try await KafkaMetadataReader.read(zk).state.assignment
            let directory = NSTemporaryDirectory() + "mitosis-kafka-safety-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }

            var dropsOld = planned
            let finals = Dictionary(planned.stages.flatMap(\.moves).map { ($0.topicPartition, $0.after) }, uniquingKeysWith: { _, last in last })
            for batch in dropsOld.stages[0].batches.indices {
                for move in dropsOld.stages[0].batches[batch].indices {
                    dropsOld.stages[0].batches[batch][move].after = finals[dropsOld.stages[0].batches[batch][move].topicPartition]!
                }
            }
            var unregistered = planned
            unregistered.stages[0].batches[0][0].after[0] = 42
            var cut = planned
            cut.stages[1].batches[0][0].after = [cut.stages[1].batches[0][0].after[0]]
            let cases: [(String, ReassignmentPlanFile, String)] = [
                ("drops-old", dropsOld, "rule: min.insync.replicas on old brokers"),
                ("unregistered", unregistered, "rule: targets are registered brokers"),
                ("rf-cut", cut, "rule: replication factor as planned"),
            ]
            let controller = SimulatedController()
            try await Self.withController(controller, zk, session) {
                for (name, file, rule) in cases {
                    let path = directory + "/\(name).json"
                    try file.encoded().write(to: URL(fileURLWithPath: path))
                    let result = try await runMitosis(["kafka", "run", path, "-s", connection, "--poll-interval", "0.05"], timeout: .seconds(120))
                    #expect(result.status == 1, "\(name): \(result.output)")
                    #expect(result.output.contains("unsafe-plan") && result.output.contains(rule), "\(name): \(result.output)")
                    #expect(result.output.contains("stage "), "\(name) does not name the stage: \(result.output)")
                    // The library refuses the same way (the CLI is a shell over it).
                    let error = await #expect(throws: KafkaExecutionError.self) {
                        try await ReassignmentExecutor(zookeeper: zk, options: Self.fast).run(file)
                    }
                    #expect(error?.code == .unsafePlan)
                }
            }
            #expect(await controller.seen == [], "a reassignment was written")
            #expect(try await zk.exists(ReassignPartitionsZNode.path) == nil)
            #expect(try await Self.notifications(zk) == [], "a throttle was set")
            #expect(try await KafkaMetadataReader.read(zk).state.assignment == before)
        }
    }
}
