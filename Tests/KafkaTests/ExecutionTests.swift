import Foundation
import Testing
import ZooKeeper
@testable import Kafka
@testable import KafkaPlanning

@Suite("Reassignment execution (pure parts)")
struct ExecutionTests {
    static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    static func state(_ partitions: [TopicPartition: [BrokerID]], adding: [TopicPartition: [BrokerID]] = [:],
                      removing: [TopicPartition: [BrokerID]] = [:], inZNode: [TopicPartition: [BrokerID]] = [:]) -> KafkaClusterState {
        var topics: [String: Topic] = [:]
        for (partition, replicas) in partitions {
            topics[partition.topic, default: Topic(name: partition.topic, partitions: [:])].partitions[partition.partition] = replicas
        }
        for (partition, list) in adding { topics[partition.topic]!.addingReplicas[partition.partition] = list }
        for (partition, list) in removing { topics[partition.topic]!.removingReplicas[partition.partition] = list }
        return KafkaClusterState(brokers: (1...6).map { Broker(id: BrokerID($0)) }, topics: Array(topics.values),
                                 reassignmentsInProgress: inZNode)
    }

    static let a0 = TopicPartition("a", 0), a1 = TopicPartition("a", 1), b0 = TopicPartition("b", 0)

    static let stage = ExecutionStage(number: 1, batches: [
        [PartitionMove(a0, before: [1, 2], after: [3, 2]), PartitionMove(a1, before: [2, 1], after: [2, 4])],
        [PartitionMove(b0, before: [1], after: [5])],
    ])

    @Test func planFileIsExactJSONAndRoundTrips() async throws {
        let file = ReassignmentPlanFile(summary: "test", seed: 7, stages: [Self.stage])
        #expect(Self.text(file.encoded()) == #"{"format":"mitosis-kafka-reassignment","seed":7,"stages":[{"batches":[[{"after":[3,2],"before":[1,2],"partition":0,"topic":"a"},{"after":[2,4],"before":[2,1],"partition":1,"topic":"a"}],[{"after":[5],"before":[1],"partition":0,"topic":"b"}]],"number":1}],"summary":"test","version":1}"#)
        let parsed = try await ReassignmentPlanFile.parse(file.encoded(), current: { Issue.record("not needed"); return ReplicaAssignment() })
        #expect(parsed == file)
    }

    @Test func plannerPlansBecomePlanFilesBatchForBatch() throws {
        let state = GeneratedCluster.make(seed: 4, hosting: Array(1...5), registered: Array(1...5) + Array(101...110), topicCount: 40)
        let plan = try BrokerMigrationPlanner(.init(oldBrokers: (1...5).map { BrokerID($0) }, newBrokers: (101...110).map { BrokerID($0) },
                                                    maxConcurrentMovesPerBroker: 3, allowUnstagedPartitions: true, seed: 4)).plan(for: state)
        let file = ReassignmentPlanFile(plan)
        #expect(file.stages.count == plan.stages.count)
        for (stage, planned) in zip(file.stages, plan.stages) {
            #expect(stage.batches.map { $0.map(\.topicPartition) } == planned.batches)
            for move in stage.moves {
                #expect(move.before == planned.before[move.topicPartition] && move.after == planned.after[move.topicPartition])
            }
            // What the executor writes for a batch is what the stage's batch znode holds.
            let written = ReassignPartitionsZNode(stage.batches[0].map { PartitionReassignment(topic: $0.topic, partition: $0.partition, replicas: $0.after) })
            #expect(written == planned.batchZNode(0))
        }
    }

    @Test func aKafkaToolFileBecomesOneBatchedStage() async throws {
        let current = ReplicaAssignment([Self.a0: [1, 2], Self.a1: [2, 1], Self.b0: [1]])
        let tool = #"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[3,2],"log_dirs":["any","any"]},{"topic":"a","partition":1,"replicas":[3,1]},{"topic":"b","partition":0,"replicas":[1]}]}"#
        let file = try await ReassignmentPlanFile.parse(Data(tool.utf8), current: { current }, maxConcurrentMovesPerBroker: 1)
        #expect(file.stages.count == 1)
        // Broker 3 receives two replicas and may take part in one move at a time: two batches.
        #expect(file.stages[0].batches.map { $0.map(\.topicPartition) } == [[Self.a0], [Self.a1]])
        #expect(file.stages[0].moves.map(\.before) == [[1, 2], [2, 1]])

        let unknown = #"{"version":1,"partitions":[{"topic":"nope","partition":0,"replicas":[1]}]}"#
        await #expect(throws: KafkaExecutionError.self) {
            try await ReassignmentPlanFile.parse(Data(unknown.utf8), current: { current })
        }
    }

    @Test func invalidPlansAreRefusedWithTheReason() async {
        var duplicate = ReassignmentPlanFile(stages: [Self.stage])
        duplicate.stages[0].batches.append([PartitionMove(Self.a0, before: [1, 2], after: [3, 2])])
        #expect(throws: KafkaExecutionError(.invalidPlan, "stage 1 moves a-0 twice", partitions: [Self.a0])) { try duplicate.validate() }
        var repeated = ReassignmentPlanFile(stages: [Self.stage])
        repeated.stages[0].batches[1][0].after = [5, 5]
        #expect(throws: KafkaExecutionError.self) { try repeated.validate() }
        var other = ReassignmentPlanFile(stages: [])
        other.format = "something-else"
        #expect(throws: KafkaExecutionError.self) { try other.validate() }
        await #expect(throws: KafkaExecutionError.self) {
            try await ReassignmentPlanFile.parse(Data("[1,2]".utf8), current: { ReplicaAssignment() })
        }
    }

    @Test func progressIsJudgedLikeTheController() {
        typealias P = PartitionReassignmentProgress
        // Listed, nothing started yet.
        #expect(P.evaluate(target: [3, 2], listed: [3, 2], replicas: [1, 2], adding: [], removing: [], isr: [1, 2]) == .waiting)
        // Union replica set written: 3 is being added and is not in sync yet.
        #expect(P.evaluate(target: [3, 2], listed: [3, 2], replicas: [3, 2, 1], adding: [3], removing: [1], isr: [1, 2])
                == .copying(inSync: 1, of: 2))
        #expect(P.evaluate(target: [3, 2], listed: [3, 2], replicas: [3, 2, 1], adding: [3], removing: [1], isr: [1, 2, 3])
                == .copying(inSync: 2, of: 2))
        // Final list written and the entry dropped.
        #expect(P.evaluate(target: [3, 2], listed: nil, replicas: [3, 2], adding: [], removing: [], isr: [2, 3]) == .completed)
        // Dropped without being applied: the controller refused it.
        guard case .failed(let reason) = P.evaluate(target: [3, 2], listed: nil, replicas: [1, 2], adding: [], removing: [], isr: [1, 2]) else {
            Issue.record("a dropped, unapplied entry is a failure")
            return
        }
        #expect(reason.contains("refused"))
        guard case .failed = P.evaluate(target: [3, 2], listed: nil, replicas: nil, adding: [], removing: [], isr: []) else {
            Issue.record("a deleted topic is a failure")
            return
        }
    }

    @Test func stallsAreQuietPeriodsAndInterventionsRestartThem() {
        let start = ContinuousClock.now
        var detector = StallDetector<[Int]>(timeout: .seconds(10))
        var stalls: [Duration?] = []
        for (signature, second) in [([1], 0), ([1], 9), ([2], 12), ([2], 21), ([2], 22)] {
            stalls.append(detector.observe(signature, at: start + .seconds(second)))
        }
        // A change at 12 s is progress: the quiet period starts again there.
        #expect(stalls == [nil, nil, nil, nil, .seconds(10)])
        detector.reset(at: start + .seconds(22))
        let afterReset = detector.observe([2], at: start + .seconds(30))
        #expect(afterReset == nil)

        var healthy = SustainedCondition(period: .seconds(30))
        var met: [Bool] = []
        for (holds, second) in [(true, 0), (true, 29), (false, 31), (true, 32), (true, 61), (true, 62)] {
            met.append(healthy.observe(holds, at: start + .seconds(second)))
        }
        // An under-replicated moment at 31 s starts the period over.
        #expect(met == [false, false, false, false, false, true])
        var immediate = SustainedCondition(period: .zero)
        let once = immediate.observe(true, at: start)
        #expect(once)
    }

    @Test func assessmentSkipsWhatIsDoneAndFollowsItsOwnReassignment() throws {
        // a-0 already moved, a-1 in flight with this plan's target, b-0 still to move.
        let state = Self.state([Self.a0: [3, 2], Self.a1: [2, 4, 1], Self.b0: [1]], adding: [Self.a1: [4]], removing: [Self.a1: [1]],
                               inZNode: [Self.a1: [2, 4]])
        let assessment = try StageAssessment(Self.stage, state: state)
        #expect(assessment.inPlace == [Self.a0])
        #expect(assessment.inFlight == [PartitionMove(Self.a1, before: [2, 1], after: [2, 4])])
        #expect(assessment.batches == [[PartitionMove(Self.b0, before: [1], after: [5])]])
        #expect(assessment.partitionsToMove == 2)
    }

    @Test func aRunThatGotFurtherCountsLaterStagesAsInPlace() throws {
        let next = ExecutionStage(number: 2, batches: [[PartitionMove(Self.a0, before: [3, 2], after: [3, 6])]])
        let state = Self.state([Self.a0: [3, 6], Self.a1: [2, 1], Self.b0: [1]])
        #expect(throws: KafkaExecutionError.self) { try StageAssessment(Self.stage, state: state) }
        let assessment = try StageAssessment(Self.stage, state: state, later: [next])
        #expect(assessment.inPlace == [Self.a0])
        #expect(assessment.batches.flatMap { $0 }.map(\.topicPartition) == [Self.a1, Self.b0])
    }

    @Test func anotherReassignmentInFlightIsRefused() {
        let idle = [Self.a0: [1, 2] as [BrokerID], Self.a1: [2, 1], Self.b0: [1]]
        // Listed in the znode with another target.
        #expect(throws: KafkaExecutionError.self) {
            try StageAssessment(Self.stage, state: Self.state(idle, inZNode: [Self.a0: [4, 2]]))
        }
        // A partition outside the plan is being reassigned through the Admin API.
        var busy = idle
        busy[TopicPartition("c", 0)] = [1, 6]
        do {
            _ = try StageAssessment(Self.stage, state: Self.state(busy, adding: [TopicPartition("c", 0): [6]]))
            Issue.record("an API-driven reassignment must be refused")
        } catch {
            #expect(error.code == .reassignmentInProgress)
            #expect(error.partitions == [TopicPartition("c", 0)])
            #expect(error.message.contains("adding_replicas"))
        }
    }

    @Test func partitionsMovedBySomeoneElseAreDrift() {
        do {
            _ = try StageAssessment(Self.stage, state: Self.state([Self.a0: [1, 6], Self.a1: [2, 1], Self.b0: [1]]))
            Issue.record("drift must be refused")
        } catch {
            #expect(error.code == .assignmentDrift)
            #expect(error.partitions == [Self.a0])
            #expect(error.message.contains("a-0 is on [1, 6]"))
        }
        // A reordering of the planned sets is not drift: the reassignment writes the order.
        #expect(throws: Never.self) { try StageAssessment(Self.stage, state: Self.state([Self.a0: [2, 1], Self.a1: [4, 2], Self.b0: [1]])) }
    }

    @Test func configChangesAreOneTransactionWithKafkasNotification() throws {
        var config = EntityConfigZNode(config: ["retention.ms": "1000"])
        config[ReplicationThrottles.leaderKey] = "0:1,0:2"
        let update = KafkaConfigChanges.operations(for: .topic("orders"), config: config, version: 4)
        #expect(update.count == 2)
        guard case .setData(let write) = update[0], case .create(let notify) = update[1] else {
            Issue.record("expected setData then create, got \(update)")
            return
        }
        #expect(write.path == "/config/topics/orders" && write.version == 4)
        #expect(Self.text(Data(write.data)) == #"{"version":1,"config":{"retention.ms":"1000","leader.replication.throttled.replicas":"0:1,0:2"}}"#)
        #expect(notify.path == "/config/changes/config_change_" && notify.mode == .persistentSequential)
        #expect(Self.text(Data(notify.data)) == #"{"version":2,"entity_path":"topics/orders"}"#)

        let create = KafkaConfigChanges.operations(for: .broker(1001), config: EntityConfigZNode(config: [ReplicationThrottles.leaderRateKey: "1000000"]), version: nil)
        guard case .create(let node) = create[0], case .create(let brokerNotify) = create[1] else {
            Issue.record("expected two creates, got \(create)")
            return
        }
        #expect(node.path == "/config/brokers/1001" && node.mode == .persistent)
        #expect(Self.text(Data(node.data)) == #"{"version":1,"config":{"leader.replication.throttled.rate":"1000000"}}"#)
        #expect(Self.text(Data(brokerNotify.data)) == #"{"version":2,"entity_path":"brokers/1001"}"#)
    }

    @Test func throttleRemovalKeepsOtherSettings() throws {
        let before = ReplicaAssignment([Self.a0: [1, 2]]), after = ReplicaAssignment([Self.a0: [3, 2]])
        let throttles = ReplicationThrottles(from: before, to: after)
        let original = try EntityConfigZNode(data: Data(#"{"version":1,"config":{"cleanup.policy":"compact"}}"#.utf8))
        let throttled = throttles.applied(to: original, topic: "a")
        #expect(Self.text(throttled.data()) == #"{"version":1,"config":{"cleanup.policy":"compact","leader.replication.throttled.replicas":"0:1,0:2","follower.replication.throttled.replicas":"0:3"}}"#)
        #expect(ReassignmentExecutor.withoutReplicaThrottles(throttled) == original)
    }

    @Test func reassignmentsStartedEitherWayAreShown() throws {
        var state = Self.state([Self.a0: [3, 2, 1], Self.a1: [2, 1], Self.b0: [1]], adding: [Self.a0: [3]], removing: [Self.a0: [1]],
                               inZNode: [Self.b0: [5]])
        #expect(state.reassigningPartitions == [
            Self.a0: ReassignmentInFlight(target: [3, 2], adding: [3], removing: [1], listedInZNode: false),
            Self.b0: ReassignmentInFlight(target: [5], adding: [], removing: [], listedInZNode: true),
        ])
        state.partitionStates = [Self.a0: PartitionState(leader: 3, isr: [3, 2, 1]), Self.a1: PartitionState(leader: 1, isr: [2, 1]),
                                 Self.b0: PartitionState(leader: -1, isr: [])]
        #expect(state.partitionsNotOnPreferredLeader == [Self.a1])
    }

    @Test func brokerMapsAreJSONObjects() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let counts: [BrokerID: Int] = [2: 5, 10: 1]
        #expect(String(decoding: try encoder.encode(counts), as: UTF8.self) == #"{"10":1,"2":5}"#)
        #expect(try JSONDecoder().decode([BrokerID: Int].self, from: encoder.encode(counts)) == counts)
    }

    @Test func diffsShowTheChangedLineOnly() {
        let old = "# Kafka\nbroker.id=1\nzookeeper.connect=old:2181/kafka\nlog.dirs=/data\n"
        let new = "# Kafka\nbroker.id=1\nzookeeper.connect=new:2181/kafka\nlog.dirs=/data\n"
        #expect(lineDiff(old, new) == ["@@ -3 +3 @@", "-zookeeper.connect=old:2181/kafka", "+zookeeper.connect=new:2181/kafka"])
        #expect(lineDiff(old, old).isEmpty)
        #expect(lineDiff("a=1", "a=1\nzookeeper.connect=z:2181") == ["@@ -2 +2 @@", "+zookeeper.connect=z:2181"])
    }
}
