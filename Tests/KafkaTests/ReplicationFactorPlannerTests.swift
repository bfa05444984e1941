import Foundation
import Testing
@testable import Kafka
@testable import KafkaPlanning

@Suite("Replication factor changes")
struct ReplicationFactorPlannerTests {
    static let brokers = Array(1...10)

    @Test(arguments: [11, 12, 13] as [UInt64])
    func movesEqualTheLowerBoundAndExistingReplicasStay(seed: UInt64) throws {
        var state = GeneratedCluster.make(seed: seed, hosting: Self.brokers, registered: Self.brokers)
        for name in state.topics.keys { state.topics[name]!.config = [:] }  // min.insync.replicas 1 everywhere
        var rng = SplitMix64(seed: seed)
        var targets: [String: Int] = [:]
        for name in state.topics.keys.sorted() { targets[name] = Int.random(in: 1...4, using: &rng) }
        let plan = try ReplicationFactorPlanner(.init(targets: targets, seed: seed)).plan(for: state)
        let before = state.assignment, after = plan.final
        var added = 0, removed = 0
        for (partition, old) in before {
            let new = after[partition]!
            let target = targets[partition.topic]!
            #expect(new.count == target)
            #expect(Set(new).count == new.count)
            if target >= old.count {
                #expect(Set(old).isSubset(of: Set(new)), "\(partition): \(old) → \(new) moved an existing replica")
                let racksBefore = Set(old.compactMap { state.brokers[$0]?.rack })
                let racksAfter = Set(new.compactMap { state.brokers[$0]?.rack })
                #expect(racksAfter.count == min(GeneratedCluster.racks.count, racksBefore.count + target - old.count),
                        "\(partition): new replicas did not go to unused racks")
            } else {
                #expect(Set(new).isSubset(of: Set(old)))
            }
            added += max(0, target - old.count)
            removed += max(0, old.count - target)
        }
        #expect(plan.report.replicasMoved == added)
        #expect(plan.report.lowerBound == added)
        #expect(plan.report.replicasRemoved == removed)
    }

    @Test func raisingEverythingBalancesReplicasAndLeaders() throws {
        var state = GeneratedCluster.make(seed: 21, hosting: Self.brokers, registered: Self.brokers, replicationFactors: 1...2)
        for name in state.topics.keys { state.topics[name]!.config = [:] }
        let targets = Dictionary(uniqueKeysWithValues: state.topics.keys.map { ($0, 3) })
        let plan = try ReplicationFactorPlanner(.init(targets: targets, seed: 1)).plan(for: state)
        let ids = Self.brokers.map { BrokerID($0) }
        #expect(plan.final.leaderCounts.spread(over: ids) <= 1, "leaders \(plan.final.leaderCounts)")
        // One replica per rack comes first, and the racks have 4, 3 and 3 brokers, so counts are
        // even within a rack rather than across the cluster.
        for rack in GeneratedCluster.racks {
            let inRack = ids.filter { state.brokers[$0]?.rack == rack }
            #expect(plan.final.replicaCounts.spread(over: inRack) <= 1, "replicas in \(rack): \(plan.final.replicaCounts)")
        }
        #expect(plan.report.replicasMoved == plan.report.lowerBound)
    }

    @Test func deterministicForASeed() throws {
        let state = GeneratedCluster.make(seed: 31, hosting: Self.brokers, registered: Self.brokers, replicationFactors: 2...3)
        let targets = Dictionary(uniqueKeysWithValues: state.topics.keys.map { ($0, 4) })
        let a = try ReplicationFactorPlanner(.init(targets: targets, seed: 5)).plan(for: state)
        let b = try ReplicationFactorPlanner(.init(targets: targets, seed: 5)).plan(for: state)
        let c = try ReplicationFactorPlanner(.init(targets: targets, seed: 6)).plan(for: state)
        #expect(a == b)
        #expect(a.final != c.final)
    }

    @Test func blockportFixesSingleReplicaTopics() throws {
        // Auto-created topics with one replica on five brokers; target four, min.insync.replicas 2.
        let brokers = (1001...1005).map { Broker(id: BrokerID($0)) }
        let topics = (0..<30).map { Topic(name: "auto-\($0)", partitions: [0: [BrokerID(1001 + $0 % 5)], 1: [BrokerID(1001 + ($0 + 1) % 5)]]) }
        let state = KafkaClusterState(brokers: brokers, topics: topics, brokerDefaultConfig: ["min.insync.replicas": "2"])
        let plan = try ReplicationFactorPlanner(.init(targets: Dictionary(uniqueKeysWithValues: topics.map { ($0.name, 4) }))).plan(for: state)
        #expect(plan.report.replicasMoved == 60 * 3)
        #expect(plan.final.replicaCounts.spread(over: brokers.map(\.id)) == 0)
        #expect(plan.final.leaderCounts.spread(over: brokers.map(\.id)) == 0)
        // Single shot: one stage, its rollback restores the single replicas.
        let rollback = try ReassignPartitionsZNode(data: plan.stages[0].rollbackJSON.data())
        #expect(rollback.partitions.allSatisfy { $0.replicas.count == 1 && $0.logDirs == ["any"] })
    }

    @Test func validationSaysWhatToFix() {
        let state = KafkaClusterState(brokers: [1, 2, 3].map { Broker(id: BrokerID($0)) },
                                      topics: [Topic(name: "orders", partitions: [0: [1, 2]], config: ["min.insync.replicas": "2"])])
        func code(_ targets: [String: Int], brokers: [BrokerID]? = nil) -> KafkaPlanError.Code? {
            do { _ = try ReplicationFactorPlanner(.init(targets: targets, brokers: brokers)).plan(for: state); return nil } catch { return error.code }
        }
        #expect(code(["payments": 3]) == .unknownTopic)
        #expect(code(["orders": 4]) == .notEnoughBrokers)
        #expect(code(["orders": 0]) == .invalidReplicationFactor)
        #expect(code(["orders": 1]) == .belowMinInsyncReplicas)
        #expect(code(["orders": 3], brokers: [1, 2, 7]) == .unknownBroker)
        #expect(code(["orders": 3]) == nil)
        do {
            _ = try ReplicationFactorPlanner(.init(targets: ["orders": 4])).plan(for: state)
        } catch {
            #expect(error.message.contains("only 3 are available"))
        }
    }
}
