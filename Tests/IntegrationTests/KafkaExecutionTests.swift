import Foundation
import Kafka
import Testing
import ZooKeeper
import ZooKeeperTestSupport

extension RealServers {
    /// The reassignment executor against real ZooKeeper 3.8.0 holding Kafka's layout, with a
    /// simulated controller playing Kafka's part.
    @Suite struct KafkaExecutionTests {
        static let topics: [String: [[Int]]] = [
            "orders": [[1, 2, 3], [2, 3, 1], [3, 1, 2]],
            "logs": [[1, 2]],
        ]

        /// A cluster of brokers 1–6 (1–3 hold everything, broker 2 is the controller) under /kafka;
        /// `body` gets a client on the chroot, a session holding the ephemerals, and the controller.
        static func withCluster(_ body: (ZooKeeperClient, ZooKeeperClient) async throws -> Void) async throws {
            try await withCluster { _, zk, session in try await body(zk, session) }
        }

        /// The same, with the connection string of Kafka's chroot (for the `mitosis` executable).
        static func withCluster(_ body: (String, ZooKeeperClient, ZooKeeperClient) async throws -> Void) async throws {
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                try await ZooKeeperClient.withClient(ensemble.connectionString) { _ = try await $0.create("/kafka") }
                try await ZooKeeperClient.withClient(ensemble.connectionString + "/kafka") { zk in
                    try await ZooKeeperClient.withClient(ensemble.connectionString + "/kafka") { session in
                        try await KafkaLayout.write(zk, brokerSession: session, brokers: Array(1...6), topics: topics, controller: 2)
                        try await body(ensemble.connectionString + "/kafka", zk, session)
                    }
                }
            }
        }

        /// Runs `body` while `controller` plays Kafka's controller; stops it afterwards.
        static func withController<T: Sendable>(_ controller: SimulatedController, _ zk: ZooKeeperClient, _ session: ZooKeeperClient,
                                                _ body: @escaping @Sendable () async throws -> T) async throws -> T {
            try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await controller.run(zk, session: session); return nil }
                group.addTask { try await body() }
                defer { group.cancelAll() }
                while let next = try await group.next() {
                    if let next { return next }
                }
                throw CancellationError()
            }
        }

        /// Every throttle entry left in topic and broker configs.
        static func throttleEntries(_ zk: ZooKeeperClient) async throws -> [String] {
            var left: [String] = []
            for type in ["topics", "brokers"] {
                let names = (try? await zk.getChildren("/config/\(type)")) ?? []
                for name in names.sorted() {
                    let (config, _) = try await KafkaLayout.read(zk, "/config/\(type)/\(name)", as: EntityConfigZNode.self)
                    left += config.config.keys.filter { $0.contains("throttled") }.map { "\(type)/\(name): \($0)" }
                }
            }
            return left
        }

        static func notifications(_ zk: ZooKeeperClient) async throws -> [String] {
            var result: [String] = []
            for child in ((try? await zk.getChildren("/config/changes")) ?? []).sorted() {
                #expect(child.hasPrefix("config_change_") && child.count == "config_change_".count + 10)
                let (node, _) = try await KafkaLayout.read(zk, "/config/changes/\(child)", as: ConfigChangeNotificationZNode.self)
                result.append(node.entityPath)
            }
            return result
        }

        static func migrationPlan(_ zk: ZooKeeperClient) async throws -> (ReassignmentPlan, ReassignmentPlanFile) {
            let state = try await KafkaMetadataReader.read(zk).state
            let plan = try BrokerMigrationPlanner(.init(oldBrokers: [1, 2, 3], newBrokers: [4, 5, 6], stages: 2,
                                                        maxConcurrentMovesPerBroker: 1, seed: 3)).plan(for: state)
            return (plan, ReassignmentPlanFile(plan))
        }

        static let fast = ReassignmentExecutor.Options(throttleBytesPerSecond: 10_000_000, pollInterval: .milliseconds(50),
                                                       stallTimeout: .seconds(60))

        @Test func aStagedMigrationIsFollowedToTheEndWithThrottlesOnlyWhileItRuns() async throws {
            try await Self.withCluster { zk, session in
                let (plan, file) = try await Self.migrationPlan(zk)
                #expect(plan.stages.count == 2)
                #expect(file.stages.contains { $0.batches.count > 1 }, "the cap of one move per broker makes several batches")
                let controller = SimulatedController()
                let events = Recorded<ReassignmentEvent>()
                let outcome = try await Self.withController(controller, zk, session) {
                    try await ReassignmentExecutor(zookeeper: zk, options: Self.fast).run(file) { events.append($0) }
                }
                #expect(outcome.stagesCompleted == 2)
                #expect(outcome.partitionsMoved == file.stages.reduce(0) { $0 + $1.moves.count })
                #expect(try await KafkaMetadataReader.read(zk).state.assignment == plan.final)
                #expect(try await zk.exists(ReassignPartitionsZNode.path) == nil)

                // One znode per batch, each exactly what Kafka's own tool writes.
                let batches = file.stages.flatMap(\.batches)
                let seen = await controller.seen
                #expect(seen == batches.map { batch in
                    String(decoding: ReassignPartitionsZNode(batch.map {
                        PartitionReassignment(topic: $0.topic, partition: $0.partition, replicas: $0.after)
                    }).data(), as: UTF8.self)
                })
                #expect(seen.first?.hasPrefix(#"{"version":1,"partitions":[{"topic":""#) == true)
                #expect(seen.allSatisfy { !$0.contains("log_dirs") })

                // Throttles were in place when the controller saw each batch, and are gone now.
                #expect(await controller.throttledAtStart == Array(repeating: true, count: batches.count))
                #expect(try await Self.throttleEntries(zk) == [])
                let announced = try await Self.notifications(zk)
                #expect(announced.contains("topics/orders") && announced.contains("brokers/4") && announced.contains("brokers/1"))
                #expect(events.all.contains(.throttlesCleared(brokers: [1, 2, 3, 4, 5, 6], topics: ["logs", "orders"])))
                #expect(events.all.filter { if case .stageCompleted = $0 { true } else { false } }.count == 2)

                // Running the same plan again finds everything in place and writes nothing.
                let again = try await ReassignmentExecutor(zookeeper: zk, options: Self.fast).run(file)
                #expect(again.partitionsMoved == 0 && again.partitionsAlreadyInPlace == outcome.partitionsMoved)
                #expect(try await Self.notifications(zk) == announced)
            }
        }

        @Test func aRefusedMoveFailsTheRunAndStillRemovesTheThrottles() async throws {
            try await Self.withCluster { zk, session in
                let (_, file) = try await Self.migrationPlan(zk)
                let controller = SimulatedController()
                await controller.rejectTopics(["logs", "orders"])
                let events = Recorded<ReassignmentEvent>()
                do {
                    _ = try await Self.withController(controller, zk, session) {
                        try await ReassignmentExecutor(zookeeper: zk, options: Self.fast).run(file) { events.append($0) }
                    }
                    Issue.record("a refused reassignment must fail the run")
                } catch let error as KafkaExecutionError {
                    #expect(error.code == .reassignmentFailed)
                    #expect(error.message.contains("refused"))
                }
                #expect(await controller.throttledAtStart == [true])
                #expect(try await Self.throttleEntries(zk) == [])
                #expect(events.all.contains { if case .throttlesCleared = $0 { true } else { false } })
            }
        }

        @Test func anotherReassignmentInFlightIsRefusedBeforeAnythingIsWritten() async throws {
            try await Self.withCluster { zk, _ in
                let (_, file) = try await Self.migrationPlan(zk)
                let foreign = #"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[6,5,4]}]}"#
                try await KafkaLayout.create(zk, ReassignPartitionsZNode.path, foreign)
                await #expect(throws: KafkaExecutionError.self) {
                    try await ReassignmentExecutor(zookeeper: zk, options: Self.fast).run(file)
                }
                #expect(String(decoding: try await zk.getData(ReassignPartitionsZNode.path).data, as: UTF8.self) == foreign)
                try await zk.delete(ReassignPartitionsZNode.path)

                // A reassignment started through the Admin API shows only as adding/removing replicas.
                let (topic, _) = try await KafkaLayout.read(zk, "/brokers/topics/logs", as: TopicAssignmentZNode.self)
                var busy = topic
                busy.partitions[0] = [6, 1, 2]
                busy.addingReplicas[0] = [6]
                busy.removingReplicas[0] = [2]
                try await zk.setData("/brokers/topics/logs", data: Array(busy.data()))
                do {
                    try await ReassignmentExecutor(zookeeper: zk, options: Self.fast).run(file)
                    Issue.record("must refuse while a reassignment is in flight")
                } catch let error as KafkaExecutionError {
                    #expect(error.code == .reassignmentInProgress)
                    #expect(error.partitions == [TopicPartition("logs", 0)])
                }
                #expect(try await zk.exists(ReassignPartitionsZNode.path) == nil)
                #expect(try await Self.notifications(zk) == [], "no throttle was set")
            }
        }

        @Test func aStallStopsTheRunExplainsAndLeavesTheControllerAlone() async throws {
            try await Self.withCluster { zk, session in
                let (_, file) = try await Self.migrationPlan(zk)
                let controller = SimulatedController()
                await controller.freeze()
                let before = try await zk.exists(ControllerZNode.path)
                var options = Self.fast
                options.stallTimeout = .milliseconds(300)
                let events = Recorded<ReassignmentEvent>()
                do {
                    _ = try await Self.withController(controller, zk, session) { [options] in
                        try await ReassignmentExecutor(zookeeper: zk, options: options).run(file) { events.append($0) }
                    }
                    Issue.record("a stalled reassignment must stop the run")
                } catch let error as KafkaExecutionError {
                    #expect(error.code == .stalled)
                    #expect(error.message.contains("--force-controller-election-on-stall"))
                    #expect(error.message.contains("deleting /controller"))
                }
                #expect(events.all.contains { if case .stalled(_, _, _, let controller, _) = $0 { controller == 2 } else { false } })
                #expect(!events.all.contains { if case .controllerElectionForced = $0 { true } else { false } })
                #expect(try await zk.exists(ControllerZNode.path)?.czxid == before?.czxid, "the controller is deleted only when asked")
                #expect(try await Self.throttleEntries(zk) == [])
                // The batch stays in flight in Kafka; the same plan follows it once it moves again.
                #expect(try await zk.exists(ReassignPartitionsZNode.path) != nil)
                await controller.freeze(false)
                let resumed = try await Self.withController(controller, zk, session) {
                    try await ReassignmentExecutor(zookeeper: zk, options: Self.fast).run(file) { events.append($0) }
                }
                #expect(resumed.stagesCompleted == 2)
                #expect(events.all.contains { if case .adoptedInFlight = $0 { true } else { false } })
            }
        }

        @Test func aStallForcesAControllerElectionWhenAskedAndTheNewControllerFinishes() async throws {
            try await Self.withCluster { zk, session in
                let (plan, file) = try await Self.migrationPlan(zk)
                let controller = SimulatedController()
                await controller.freeze()
                await controller.electWhenControllerIsDeleted()
                var options = Self.fast
                options.stallTimeout = .milliseconds(300)
                options.forceControllerElectionOnStall = true
                let events = Recorded<ReassignmentEvent>()
                let outcome = try await Self.withController(controller, zk, session) { [options] in
                    try await ReassignmentExecutor(zookeeper: zk, options: options).run(file) { events.append($0) }
                }
                #expect(outcome.controllerElectionsForced == 1)
                #expect(events.all.contains(.controllerElectionForced(previousController: 2)))
                #expect(try await KafkaMetadataReader.read(zk).state.controller == BrokerID(controller.electedBroker))
                #expect(try await KafkaMetadataReader.read(zk).state.assignment == plan.final)
                #expect(try await Self.throttleEntries(zk) == [])
            }
        }

        @Test func cancellingTheRunRemovesTheThrottles() async throws {
            try await Self.withCluster { zk, session in
                let (_, file) = try await Self.migrationPlan(zk)
                let controller = SimulatedController()
                await controller.freeze()
                let result: (any Error)? = try await withThrowingTaskGroup(of: (any Error)?.self) { group in
                    group.addTask { try? await controller.run(zk, session: session); return nil }
                    group.addTask {
                        do {
                            try await ReassignmentExecutor(zookeeper: zk, options: Self.fast).run(file)
                            return nil
                        } catch {
                            return error
                        }
                    }
                    // Cancel once the first batch is in flight with its throttles.
                    while true {
                        let submitted = try await zk.exists(ReassignPartitionsZNode.path) != nil
                        if submitted, try await !Self.throttleEntries(zk).isEmpty { break }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    group.cancelAll()
                    var result: (any Error)?
                    while let next = try await group.next() { if let next { result = next } }
                    return result
                }
                #expect(result is CancellationError)
                #expect(try await Self.throttleEntries(zk) == [])
            }
        }
    }
}
