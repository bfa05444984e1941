import Foundation
import Testing
@testable import Kafka
@testable import KafkaPlanning

/// `mitosis kafka run` checks a plan file against the cluster before anything moves: what the
/// planners guarantee, checked again on a file that may have been edited by hand.
@Suite("Kafka plan files checked before they run")
struct PlanSafetyTests {
    static let old = Array(1...5)
    static let new = Array(101...110)

    /// A generated cluster on brokers 1–5 (101–110 registered too) and its 3-stage migration.
    func migration(seed: UInt64 = 7) throws -> (KafkaClusterState, ReassignmentPlanFile) {
        // min.insync.replicas is RF − 1 on even topics, 1 (the cluster default) on the others.
        let state = GeneratedCluster.make(seed: seed, hosting: Self.old, registered: Self.old + Self.new)
        let plan = try BrokerMigrationPlanner(.init(
            oldBrokers: Self.old.map { BrokerID($0) }, newBrokers: Self.new.map { BrokerID($0) }, stages: 3,
            maxConcurrentMovesPerBroker: 4, allowUnstagedPartitions: true, seed: seed)).plan(for: state)
        return (state, ReassignmentPlanFile(plan))
    }

    /// The file round-trips through its JSON, as `kafka plan` writes and `kafka run` reads it.
    func reread(_ file: ReassignmentPlanFile) async throws -> ReassignmentPlanFile {
        try await ReassignmentPlanFile.parse(file.encoded(), current: { ReplicaAssignment() })
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func thePlannersPlansPass(seed: UInt64) async throws {
        let (state, file) = try migration(seed: seed)
        #expect(file.replicationFactors?.isEmpty == false)
        #expect(try await reread(file).safetyViolations(against: state) == [])
    }

    /// Stage 1 edited to drop every old replica of a partition: refused, naming it, the stage and the rule.
    @Test func stageOneDroppingEveryOldReplicaIsRefused() async throws {
        let (state, planned) = try migration()
        var file = planned
        let move = try #require(file.stages[0].batches[0].first)
        let final = try #require(file.stages.flatMap(\.moves).last { $0.topicPartition == move.topicPartition }?.after)
        file.stages[0].batches[0][0].after = final
        let violations = try await reread(file).safetyViolations(against: state)
        let found = try #require(violations.first { $0.rule == .minInsyncReplicasOnOldBrokers })
        #expect(found.stage == 1 && found.partition == move.topicPartition)
        #expect(found.description.contains("stage 1, \(move.topicPartition)"))
        #expect(found.description.contains("keeps 0 replicas on old brokers") && found.description.contains("min.insync.replicas is \(state.minInsyncReplicas(for: move.topic))"))
        let error = try #require(throws: KafkaExecutionError.self) { try file.checkSafety(against: state) }
        #expect(error.code == .unsafePlan && error.partitions.contains(move.topicPartition))
        #expect(error.message.contains("nothing was moved") && error.message.contains("mitosis kafka plan"))
    }

    @Test func anUnregisteredTargetBrokerIsRefused() async throws {
        let (state, planned) = try migration()
        var file = planned
        let move = file.stages[1].batches[0][0]
        let replaced = try #require(move.after.firstIndex { Self.new.contains($0.rawValue) })
        file.stages[1].batches[0][0].after[replaced] = 999
        let violations = try await reread(file).safetyViolations(against: state)
        #expect(violations.count == 1)
        let found = try #require(violations.first)
        #expect(found.rule == .registeredTargets && found.stage == 2 && found.partition == move.topicPartition)
        #expect(found.detail.contains("999") && found.detail.contains("/brokers/ids"))
    }

    @Test func aReplicationFactorCutToOneIsRefused() async throws {
        let (state, planned) = try migration()
        var file = planned
        let last = file.stages.count - 1
        let move = file.stages[last].batches[0][0]
        file.stages[last].batches[0][0].after = [move.after[0]]
        let violations = try await reread(file).safetyViolations(against: state)
        let found = try #require(violations.first { $0.rule == .plannedReplicationFactor })
        #expect(found.stage == file.stages.count && found.partition == move.topicPartition)
        #expect(found.detail.contains("ends with 1 replica"))
    }

    /// A file without the recorded factors (a hand-made one): each move must keep its partition's.
    @Test func withoutRecordedFactorsAMoveMustKeepItsFactor() throws {
        let (state, planned) = try migration()
        var file = planned
        file.replicationFactors = nil
        #expect(file.safetyViolations(against: state) == [])
        file.stages[0].batches[0][0].after.removeLast()
        #expect(file.safetyViolations(against: state).map(\.rule).contains(.plannedReplicationFactor))
    }

    /// A replication-factor change keeps passing: the factor it records is the one it plans.
    @Test func aPlannedReplicationFactorChangePasses() throws {
        let state = GeneratedCluster.make(seed: 4, hosting: Self.old, registered: Self.old)
        let names = Array(state.topics.keys.sorted().prefix(2))
        let plan = try ReplicationFactorPlanner(.init(targets: Dictionary(uniqueKeysWithValues: names.map { ($0, 4) }), seed: 4)).plan(for: state)
        let file = ReassignmentPlanFile(plan)
        #expect(!file.stages.isEmpty)
        #expect(file.safetyViolations(against: state) == [])
    }

    /// `mitosis kafka plan` refuses (without --allow-unhealthy) a cluster with partitions offline
    /// or under-replicated, naming them.
    @Test func anUnhealthyClusterIsNotPlanned() throws {
        let state = try KafkaClusterState(znodes: ClusterStateTests.znodes)
        let hazard = try #require(state.planningHazard)
        #expect(hazard.contains("2 offline (no live leader): audit-0, orders-2"))
        #expect(hazard.contains("1 under-replicated (ISR smaller than the replicas): orders-0"))
        #expect(hazard.contains("--allow-unhealthy"))
        let (healthy, _) = try migration()
        #expect(healthy.planningHazard == nil)
    }
}
