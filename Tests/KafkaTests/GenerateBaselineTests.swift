import Foundation
import Testing
@testable import Kafka
@testable import KafkaPlanning

@Suite("Kafka --generate baseline")
struct GenerateBaselineTests {
    @Test func javaRandomMatchesTheJDK() {
        // Printed by OpenJDK 17: new Random(42).nextInt(b) for b in 10,5,7,16,1000,3,10,9.
        var random = JavaRandom(seed: 42)
        #expect([10, 5, 7, 16, 1000, 3, 10, 9].map { random.nextInt(Int32($0)) } == [0, 3, 6, 0, 970, 1, 5, 2])
        var other = JavaRandom(seed: -7)
        #expect([other.nextInt(6), other.nextInt(6), other.nextInt(1 << 30)] == [4, 3, 722_822_795])
    }

    @Test func rackUnawareMatchesKafkasAdminTest() throws {
        var random = JavaRandom(seed: 0)
        let brokers = (0...4).map { Broker(id: BrokerID($0)) }
        let assignment = try KafkaGenerateBaseline.assignReplicasToBrokers(brokers, partitions: 10, replicationFactor: 3,
                                                                          fixedStartIndex: 0, random: &random)
        let expected: [Int: [BrokerID]] = [0: [0, 1, 2], 1: [1, 2, 3], 2: [2, 3, 4], 3: [3, 4, 0], 4: [4, 0, 1],
                                           5: [0, 2, 3], 6: [1, 3, 4], 7: [2, 4, 0], 8: [3, 0, 1], 9: [4, 1, 2]]
        #expect(assignment == expected)
        #expect(throws: KafkaPlanError.self) {
            try KafkaGenerateBaseline.assignReplicasToBrokers(brokers, partitions: 10, replicationFactor: 6, random: &random)
        }
    }

    @Test func rackAwareMatchesKafkasAdminRackAwareTest() throws {
        let racks = [0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"]
        let brokers = racks.keys.sorted().map { Broker(id: BrokerID($0), rack: racks[$0]) }
        #expect(KafkaGenerateBaseline.rackAlternatedBrokerList(brokers) == [0, 3, 1, 5, 4, 2])
        #expect(KafkaGenerateBaseline.rackAlternatedBrokerList(brokers.filter { $0.id != 5 }) == [0, 3, 1, 4, 2])
        var random = JavaRandom(seed: 0)
        let assignment = try KafkaGenerateBaseline.assignReplicasToBrokers(brokers, partitions: 7, replicationFactor: 3,
                                                                          fixedStartIndex: 0, startPartitionID: 0, random: &random)
        let expected: [Int: [BrokerID]] = [0: [0, 3, 1], 1: [3, 1, 5], 2: [1, 5, 4], 3: [5, 4, 2], 4: [4, 2, 0],
                                           5: [2, 0, 3], 6: [0, 4, 2]]
        #expect(assignment == expected)
    }

    @Test func ourPlansMoveNoMoreThanGenerate() throws {
        let old = Array(1...5), new = Array(101...110)
        for seed in [1, 2, 3] as [UInt64] {
            let state = GeneratedCluster.make(seed: seed, hosting: old, registered: old + new)
            let ours = try BrokerMigrationPlanner(.init(oldBrokers: old.map { BrokerID($0) }, newBrokers: new.map { BrokerID($0) },
                                                        allowUnstagedPartitions: true, seed: seed)).plan(for: state)
            let generated = try KafkaGenerateBaseline.generate(for: state, brokers: new.map { BrokerID($0) }, seed: Int64(seed))
            // Moving off old brokers forces every replica to move, so both reach the bound here.
            #expect(state.assignment.replicasAdded(to: generated) == ours.report.lowerBound)
            #expect(ours.report.replicasMoved == ours.report.lowerBound)

            // Raising RF in place: --generate reshuffles; we only add.
            let brokers = Array(1...10)
            var rfState = GeneratedCluster.make(seed: seed, hosting: brokers, registered: brokers, replicationFactors: 1...3)
            for name in rfState.topics.keys { rfState.topics[name]!.config = [:] }
            let targets = Dictionary(uniqueKeysWithValues: rfState.topics.keys.map { ($0, 3) })
            let plan = try ReplicationFactorPlanner(.init(targets: targets, seed: seed)).plan(for: rfState)
            let baseline = try KafkaGenerateBaseline.generate(for: rfState, brokers: brokers.map { BrokerID($0) },
                                                              replicationFactors: targets, seed: Int64(seed))
            #expect(plan.report.replicasMoved < rfState.assignment.replicasAdded(to: baseline))
        }
    }

    /// Resuming a migration after its first stage: the replicas already on new brokers stay with
    /// our planner, while --generate places everything afresh and copies many of them again.
    @Test func resumingAMigrationKeepsWhatIsAlreadyOnNewBrokers() throws {
        let old = Array(1...5).map { BrokerID($0) }, new = Array(101...110).map { BrokerID($0) }
        var state = GeneratedCluster.make(seed: 9, hosting: Array(1...5), registered: Array(1...5) + Array(101...110))
        let first = try BrokerMigrationPlanner(.init(oldBrokers: old, newBrokers: new, allowUnstagedPartitions: true, seed: 9))
            .plan(for: state).stages[0]
        for (partition, replicas) in first.after { state.topics[partition.topic]!.partitions[partition.partition] = replicas }
        let resumed = try BrokerMigrationPlanner(.init(oldBrokers: old, newBrokers: new, stages: 2, allowUnstagedPartitions: true,
                                                       seed: 9)).plan(for: state)
        let onOld = state.assignment.replicasByPartition.values.reduce(0) { $0 + $1.filter(old.contains).count }
        #expect(resumed.report.replicasMoved == onOld)
        #expect(resumed.report.lowerBound == onOld)
        let generated = try KafkaGenerateBaseline.generate(for: state, brokers: new, seed: 9)
        #expect(state.assignment.replicasAdded(to: generated) > onOld)
    }
}
