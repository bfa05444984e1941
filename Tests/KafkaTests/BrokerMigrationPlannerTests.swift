import Foundation
import Testing
@testable import Kafka
@testable import KafkaPlanning

@Suite("Staged broker migration")
struct BrokerMigrationPlannerTests {
    static let old = Array(1...5)
    static let new = Array(101...110)

    func migrate(seed: UInt64, stages: Int = 3, cap: Int = 4) throws -> (KafkaClusterState, ReassignmentPlan) {
        let state = GeneratedCluster.make(seed: seed, hosting: Self.old, registered: Self.old + Self.new)
        let planner = BrokerMigrationPlanner(.init(
            oldBrokers: Self.old.map { BrokerID($0) }, newBrokers: Self.new.map { BrokerID($0) }, stages: stages,
            maxConcurrentMovesPerBroker: cap, allowUnstagedPartitions: true, seed: seed))
        return (state, try planner.plan(for: state))
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func generatedClusterKeepsEveryRule(seed: UInt64) throws {
        let (state, plan) = try migrate(seed: seed)
        let old = Set(Self.old.map { BrokerID($0) })
        let newBrokers = Self.new.map { BrokerID($0) }
        let initial = state.assignment
        #expect(plan.stages.count == 3)
        for stage in plan.stages {
            for (partition, replicas) in stage.after {
                #expect(replicas.count == initial[partition]!.count, "replication factor changed for \(partition)")
                #expect(Set(replicas).count == replicas.count, "duplicate replica in \(partition)")
                if stage.number < plan.stages.count {
                    // Replicas never return to old brokers, so the old replicas after the stage are
                    // in the replica set for the whole stage.
                    let onOld = replicas.filter(old.contains).count
                    #expect(onOld >= state.minInsyncReplicas(for: partition.topic),
                            "stage \(stage.number) leaves \(onOld) replicas of \(partition) on old brokers")
                    #expect(Set(replicas).filter(old.contains).isSubset(of: Set(stage.before[partition]!)))
                }
            }
            #expect(plan.report.stages[stage.number - 1].maxConcurrentMovesPerBroker <= 4)
            #expect(Set(stage.batches.flatMap { $0 }) == Set(stage.changedPartitions))
            if stage.number < plan.stages.count {
                // Only partitions that move are in an intermediate stage's reassignment.
                #expect(stage.changedPartitions.allSatisfy { Set(stage.before[$0]!) != Set(stage.after[$0]!) })
            }
        }
        let final = plan.final
        #expect(final.replicasByPartition.values.allSatisfy { $0.allSatisfy { !old.contains($0) } })
        #expect(final.leaderCounts.spread(over: newBrokers) <= 1, "leaders \(final.leaderCounts)")
        #expect(final.replicaCounts.spread(over: newBrokers) <= 1, "replicas \(final.replicaCounts)")
        for (partition, replicas) in final {
            let racks = Set(replicas.compactMap { state.brokers[$0]?.rack })
            #expect(racks.count == min(replicas.count, GeneratedCluster.racks.count), "\(partition) on racks \(racks)")
        }
        // Every replica on an old broker is copied exactly once: the lower bound.
        #expect(plan.report.replicasMoved == plan.report.lowerBound)
        #expect(plan.report.lowerBound == initial.replicasByPartition.values.reduce(0) { $0 + $1.count })
    }

    @Test func samePlanForTheSameSeedAndADifferentOneOtherwise() throws {
        let (_, first) = try migrate(seed: 7)
        let (_, again) = try migrate(seed: 7)
        #expect(first == again)
        let state = GeneratedCluster.make(seed: 7, hosting: Self.old, registered: Self.old + Self.new)
        let other = try BrokerMigrationPlanner(.init(oldBrokers: Self.old.map { BrokerID($0) }, newBrokers: Self.new.map { BrokerID($0) },
                                                     allowUnstagedPartitions: true, seed: 8)).plan(for: state)
        #expect(other.final != first.final)
    }

    @Test func capOnConcurrentMovesSplitsStagesIntoBatches() throws {
        let (_, loose) = try migrate(seed: 4, cap: 50)
        let (_, tight) = try migrate(seed: 4, cap: 1)
        for report in tight.report.stages { #expect(report.maxConcurrentMovesPerBroker == 1) }
        let tightBatches: Int = tight.report.stages.map(\.batches).reduce(0, +)
        let looseBatches: Int = loose.report.stages.map(\.batches).reduce(0, +)
        #expect(tightBatches > looseBatches)
        #expect(tight.final == loose.final)
    }

    /// Blockport: old brokers 1001–1005, new 0–4, every partition on all five, min.insync.replicas=2.
    @Test func blockportMigrationIsReproduced() throws {
        let old = [1001, 1002, 1003, 1004, 1005].map { BrokerID($0) }
        let new = [0, 1, 2, 3, 4].map { BrokerID($0) }
        let topics = (0..<150).map { index in
            Topic(name: "topic-\(index)", partitions: [0: [1001, 1002, 1003, 1004, 1005].shuffled().map { BrokerID($0) }])
        }
        let state = KafkaClusterState(brokers: (old + new).map { Broker(id: $0) }, topics: topics,
                                      brokerDefaultConfig: ["min.insync.replicas": "2"])
        let plan = try BrokerMigrationPlanner(.init(oldBrokers: old, newBrokers: new, stages: 3, seed: 2019)).plan(for: state)
        #expect(plan.stages.count == 3)
        let newSet = Set(new), oldSet = Set(old)
        for (stageIndex, expectedNew) in [1, 3, 5].enumerated() {
            for (partition, replicas) in plan.stages[stageIndex].after {
                // [0,1005,1004,1003,1002] → [0,1,2,1005,1004] → [0,1,2,3,4]
                #expect(replicas.filter(newSet.contains).count == expectedNew, "\(partition) after stage \(stageIndex + 1): \(replicas)")
                #expect(replicas.filter(oldSet.contains).count == 5 - expectedNew)
            }
        }
        #expect(plan.report.stages.map(\.replicasMoved) == [150, 300, 300])
        #expect(plan.report.stages.map(\.minReplicasOnOldBrokers) == [4, 2, 0])
        #expect(plan.report.replicasMoved == plan.report.lowerBound)
        #expect(plan.final.leaderCounts.spread(over: new) <= 1)
    }

    @Test func stageFilesAreWhatTheToolReads() throws {
        let state = KafkaClusterState(
            brokers: [1, 2, 3, 11, 12, 13].map { Broker(id: BrokerID($0)) },
            topics: [Topic(name: "orders", partitions: [0: [1, 2, 3]], config: ["min.insync.replicas": "2"])])
        let plan = try BrokerMigrationPlanner(.init(oldBrokers: [1, 2, 3], newBrokers: [11, 12, 13], stages: 2)).plan(for: state)
        #expect(plan.stages.count == 2)
        let first = plan.stages[0]
        let after = first.after[TopicPartition("orders", 0)]!
        #expect(after.filter { $0.rawValue > 10 }.count == 1)
        let execute = String(decoding: first.executeJSON.data(), as: UTF8.self)
        let replicas = after.map { String($0.rawValue) }.joined(separator: ",")
        #expect(execute == #"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":["# + replicas + #"],"log_dirs":["any","any","any"]}]}"#)
        #expect(String(decoding: first.rollbackJSON.data(), as: UTF8.self)
                == #"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[1,2,3],"log_dirs":["any","any","any"]}]}"#)
        #expect(String(decoding: first.batchZNode(0).data(), as: UTF8.self)
                == #"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":["# + replicas + #"]}]}"#)
    }

    @Test func validationSaysWhatToFix() throws {
        let state = GeneratedCluster.make(seed: 5, hosting: Self.old, registered: Self.old + Self.new, topicCount: 20)
        func error(_ options: BrokerMigrationPlanner.Options, in state: KafkaClusterState = state) -> KafkaPlanError? {
            do { _ = try BrokerMigrationPlanner(options).plan(for: state); return nil } catch { return error }
        }
        let old = Self.old.map { BrokerID($0) }, new = Self.new.map { BrokerID($0) }
        // RF-1 topics with min.insync.replicas=1 cannot move before the final stage.
        let unstaged = error(.init(oldBrokers: old, newBrokers: new))
        #expect(unstaged?.code == .stagedMoveImpossible)
        #expect(unstaged?.message.contains("raise their replication factor") == true)
        #expect(error(.init(oldBrokers: old, newBrokers: new + [999], allowUnstagedPartitions: true))?.code == .unknownBroker)
        #expect(error(.init(oldBrokers: old, newBrokers: new + [1], allowUnstagedPartitions: true))?.code == .brokerInBothSets)
        #expect(error(.init(oldBrokers: Array(old.dropFirst()), newBrokers: new, allowUnstagedPartitions: true))?.code
                == .replicaOutsideMigration)
        #expect(error(.init(oldBrokers: old, newBrokers: Array(new.prefix(2)), allowUnstagedPartitions: true))?.code == .notEnoughBrokers)
        #expect(error(.init(oldBrokers: old, newBrokers: new, maxConcurrentMovesPerBroker: 0))?.code == .invalidOption)
        var strict = state
        strict.topics["topic-000"]!.config["min.insync.replicas"] = "9"
        #expect(error(.init(oldBrokers: old, newBrokers: new, allowUnstagedPartitions: true), in: strict)?.code == .belowMinInsyncReplicas)
        var busy = state
        busy.reassignmentsInProgress[TopicPartition("topic-001", 0)] = [1, 2]
        #expect(error(.init(oldBrokers: old, newBrokers: new, allowUnstagedPartitions: true), in: busy)?.code == .reassignmentInProgress)
        // One stage is a direct move: nothing to stage, so no refusal.
        #expect(error(.init(oldBrokers: old, newBrokers: new, stages: 1)) == nil)
    }
}
