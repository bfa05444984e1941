import Foundation
import Kafka
import Testing
import ZooKeeper
@testable import Migration
@testable import MigrationPlanning

/// The KRaft migration planner and prover on plain values: the plan made from real-looking
/// files, and hand-edited plans the prover must refuse, each with a counterexample naming the step.
@Suite("KRaft migration plan and prover (pure)")
struct KRaftPlanTests {
    static func raw(_ text: String, ephemeralOwner: Int64 = 0) -> KafkaMetadataReader.RawZNode {
        .init(data: Data(text.utf8), stat: Stat(mtime: 1000, version: 0, ephemeralOwner: ephemeralOwner))
    }

    static func view(replicas: [[Int]] = [[1, 2, 3], [2, 3, 1]]) -> KRaftZooKeeperView {
        let state = KafkaClusterState(
            brokers: [Broker(id: 1), Broker(id: 2), Broker(id: 3)],
            topics: [Topic(name: "orders", partitions: Dictionary(uniqueKeysWithValues: replicas.enumerated().map { ($0.offset, $0.element.map { BrokerID($0) }) }),
                           topicID: "nBsQmVY3Ti6h8KQ5bKmqzQ")],
            controller: 2, controllerEpoch: 7)
        return KRaftZooKeeperView(state: state, clusterID: raw(#"{"version":"1","id":"Y8Lk3YQwQ1q0rZ0eR1vJ1A"}"#),
                                  controller: raw(#"{"version":2,"brokerid":2,"timestamp":"1700000000000","kraftControllerEpoch":-1}"#, ephemeralOwner: 0x1234))
    }

    static func broker(_ id: Int) -> KRaftPlanner.NodeFile {
        .init(member: "broker-\(id)", host: "kafka-\(id)", configPath: "/etc/kafka/server.properties", text: """
            # Kafka broker \(id)
            broker.id=\(id)
            listeners=PLAINTEXT://:9092
            inter.broker.protocol.version=3.9
            log.dirs=/var/kafka/data
            authorizer.class.name=kafka.security.authorizer.AclAuthorizer
            zookeeper.connect=zk1:2181,zk2:2181/kafka
            zookeeper.session.timeout.ms=18000

            """)
    }

    static func controller(_ id: Int) -> KRaftPlanner.NodeFile {
        .init(member: "controller-\(id)", host: "kraft-\(id)", configPath: "/etc/kafka/controller.properties", text: """
            process.roles=controller
            node.id=\(id)
            controller.listener.names=CONTROLLER
            listeners=CONTROLLER://:9093
            listener.security.protocol.map=CONTROLLER:PLAINTEXT
            controller.quorum.voters=\(id)@kraft-\(id):9093
            metadata.log.dir=/var/kafka/metadata
            authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer

            """)
    }

    static func plan(view: KRaftZooKeeperView = view()) throws -> KRaftPlan {
        try KRaftPlanner.plan(view: view, brokers: [broker(1), broker(2), broker(3)], controllers: [controller(3000)],
                              brokerGroup: "brokers", controllerGroup: "controllers", kafkaVersion: KafkaVersion("3.9.0"))
    }

    static func without(_ plan: KRaftPlan, _ drop: (KRaftStep) -> Bool) -> KRaftPlan {
        var copy = plan
        copy.steps.removeAll(where: drop)
        return copy
    }

    @Test func thePlanHasThePhasesAsStepsWithDiffsOfTheRealFilesAndProves() throws {
        let plan = try Self.plan()
        #expect(KRaftProver.check(plan) == nil)
        #expect(plan.clusterID == "Y8Lk3YQwQ1q0rZ0eR1vJ1A" && plan.zookeeperConnect == "zk1:2181,zk2:2181/kafka")
        #expect(plan.steps.map(\.id) == [
            "01-readiness", "02-controller-3000-provision", "03-broker-1-to-migration", "04-broker-3-to-migration", "05-broker-2-to-migration",
            "06-load", "07-dual-write", "08-broker-1-to-kraft", "09-broker-3-to-kraft", "10-broker-2-to-kraft", "11-controller-3000-finalize",
        ])
        // The controller's provisioning: the flag, the brokers' zookeeper.connect and inter-broker listener.
        #expect(plan.steps[1].diff == ["@@ -9 +9 @@", "+zookeeper.metadata.migration.enable=true", "+zookeeper.connect=zk1:2181,zk2:2181/kafka",
                                       "+inter.broker.listener.name=PLAINTEXT"])
        // Into migration mode: flag, quorum, controller listener and its protocol, appended to the file as it is.
        #expect(plan.steps[2].edits == [.set(key: "zookeeper.metadata.migration.enable", value: "true"), .set(key: "controller.quorum.voters", value: "3000@kraft-3000:9093"),
                                        .set(key: "controller.listener.names", value: "CONTROLLER"),
                                        .set(key: "listener.security.protocol.map", value: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT")])
        // Into KRaft mode (KRAFT.md §1.4): node.id, process.roles, IBP, flag and zookeeper.* removed, authorizer switched.
        let kraft = plan.steps[7]
        #expect(kraft.diff.contains("-broker.id=1") && kraft.diff.contains("+node.id=1") && kraft.diff.contains("+process.roles=broker"))
        #expect(kraft.diff.contains("-inter.broker.protocol.version=3.9") && kraft.diff.contains("-zookeeper.connect=zk1:2181,zk2:2181/kafka")
                && kraft.diff.contains("-zookeeper.session.timeout.ms=18000") && kraft.diff.contains("-zookeeper.metadata.migration.enable=true"))
        #expect(kraft.diff.contains("+authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"))
        #expect(kraft.diff.contains("# Kafka broker 1") == false, "unchanged lines are not in the diff")
        // Finalization is the point of no return, gated on every broker in KRaft mode.
        let finalize = plan.steps[10]
        #expect(finalize.pointOfNoReturn && finalize.gatesBefore.contains(.allBrokersKRaft))
        #expect(plan.steps.filter(\.pointOfNoReturn).count == 1)
        #expect(plan.controllers.first?.metadataLogDir == "/var/kafka/metadata")
        let runbook = plan.runbook()
        #expect(runbook.contains("POINT OF NO RETURN") && runbook.range(of: "POINT OF NO RETURN")!.lowerBound < runbook.range(of: "## 11-controller-3000-finalize")!.lowerBound)
        // The plan file round-trips and still proves.
        let decoded = try JSONDecoder().decode(KRaftPlan.self, from: JSONEncoder().encode(plan))
        #expect(decoded == plan && KRaftProver.check(decoded) == nil)
    }

    @Test func aDeadReplicaIDRefusesThePlan() throws {
        #expect {
            try Self.plan(view: Self.view(replicas: [[1, 2, 9]]))
        } throws: { error in
            (error as? KRaftPlanError)?.message.contains("replicas-registered") == true && (error as? KRaftPlanError)?.message.contains("9") == true
        }
    }

    @Test func finalizingWithABrokerStillInZooKeeperOrMigrationModeIsRefused() throws {
        let plan = try Self.plan()
        let noKRaftRoll = Self.without(plan) { $0.id == "09-broker-3-to-kraft" }
        let counterexample = try #require(KRaftProver.check(noKRaftRoll))
        #expect(counterexample.rule == "finalize-with-zookeeper-broker" && counterexample.step == "11-controller-3000-finalize")
        #expect(counterexample.message.contains("broker-3") && counterexample.message.contains("migration mode"))
        #expect(counterexample.trace.last?.hasPrefix("11-controller-3000-finalize") == true)

        let neverRolled = Self.without(plan) { $0.id == "04-broker-3-to-migration" || $0.id == "09-broker-3-to-kraft" }
        let second = try #require(KRaftProver.check(neverRolled))
        #expect(second.rule == "load-before-brokers" && second.step == "06-load" && second.message.contains("broker-3"))
    }

    @Test func rollingBrokersToKRaftBeforeTheLoadGateIsRefused() throws {
        let plan = try Self.plan()
        let noLoad = Self.without(plan) { $0.phase == .load || $0.phase == .dualWrite }
        let counterexample = try #require(KRaftProver.check(noLoad))
        #expect(counterexample.rule == "kraft-before-load" && counterexample.step == "08-broker-1-to-kraft")

        // The first KRaft roll moved before the load: the load then comes out of order.
        var swapped = plan
        swapped.steps.swapAt(5, 7)
        let order = try #require(KRaftProver.check(swapped))
        #expect(order.step == "08-broker-1-to-kraft" && order.rule == "kraft-before-load")
    }

    @Test func aMissingGateIsRefused() throws {
        let plan = try Self.plan()
        var edited = plan
        edited.steps[3].gatesAfter.removeAll { $0 == .brokerRegistered(id: 3) }
        let counterexample = try #require(KRaftProver.check(edited))
        #expect(counterexample.rule == "missing-gate" && counterexample.step == "04-broker-3-to-migration" && counterexample.message.contains("broker 3 registered"))

        var noStaleCheck = plan
        noStaleCheck.steps[1].gatesBefore = []
        #expect(KRaftProver.check(noStaleCheck)?.step == "02-controller-3000-provision")

        var unhealthyFinalize = plan
        unhealthyFinalize.steps[10].gatesBefore = [.allBrokersKRaft]
        #expect(KRaftProver.check(unhealthyFinalize).map { ($0.rule, $0.step) } ?? ("", nil) == ("missing-gate", "11-controller-3000-finalize"))
    }

    @Test func swappedStepsAndBadEditsAreRefused() throws {
        let plan = try Self.plan()
        var swapped = plan
        swapped.steps.swapAt(1, 2)  // a broker rolled into migration mode before the controller is provisioned
        let counterexample = try #require(KRaftProver.check(swapped))
        #expect(counterexample.step == "03-broker-1-to-migration" && counterexample.rule == "controllers-first")

        var late = plan
        late.steps.swapAt(9, 10)  // finalization before the last broker's roll
        #expect(KRaftProver.check(late)?.step == "11-controller-3000-finalize")

        var noRoles = plan
        noRoles.steps[7].edits.removeAll { $0 == .set(key: "process.roles", value: "broker") }
        #expect(KRaftProver.check(noRoles).map { ($0.rule, $0.step) } ?? ("", nil) == ("edits", "08-broker-1-to-kraft"))

        var noReturnUnmarked = plan
        noReturnUnmarked.steps[10].pointOfNoReturn = false
        #expect(KRaftProver.check(noReturnUnmarked)?.rule == "point-of-no-return")
    }

    /// The plan file `kafka kraft plan` writes carries its proof (digest, each step's, prover
    /// version); read back unchanged it is proved again, and changed three ways (a step removed,
    /// two swapped, a gate deleted) or stripped of its proof it is refused, saying what changed and,
    /// where the result is unsafe, with the counterexample.
    @Test func aRecordedPlanFileIsProvedAgainAndAnAlteredOneRefused() throws {
        let recorded = try KRaftProver.prove(try Self.plan()).recorded
        let proof = try #require(recorded.proof)
        #expect(proof.safe && proof.proverVersion == KRaftProver.version && proof.digest == recorded.canonicalDigest && proof.steps.count == recorded.steps.count)
        let decoded = try JSONDecoder().decode(KRaftPlan.self, from: JSONEncoder().encode(recorded))
        #expect(try KRaftProver.verify(decoded, source: "plan.json").plan == decoded)
        #expect(decoded.fingerprint() == (try Self.plan()).fingerprint(), "the journal's fingerprint does not depend on the proof record")

        var removed = recorded
        removed.steps.remove(at: 6)
        var swapped = recorded
        swapped.steps.swapAt(1, 2)
        var gateless = recorded
        gateless.steps[3].gatesAfter.removeAll { $0 == .brokerRegistered(id: 3) }
        var unproved = recorded
        unproved.proof = nil
        let cases: [(KRaftPlan, String, String?)] = [
            (removed, "step removed: 07-dual-write", "missing-gate"),
            (swapped, "steps in another order: 02-controller-3000-provision, 03-broker-1-to-migration", "controllers-first"),
            (gateless, "step 04-broker-3-to-migration changed", "missing-gate"),
            (unproved, "carries no proof record", nil),
        ]
        for (plan, difference, rule) in cases {
            #expect {
                try KRaftProver.verify(plan, source: "plan.json")
            } throws: { error in
                guard let refusal = error as? KRaftPlanRefusal else { return false }
                return refusal.code == .altered && refusal.message.contains("plan.json is not the KRaft plan that was proved") && refusal.message.contains(difference)
                    && refusal.counterexample?.rule == rule
            }
        }
    }

    @Test func lineChangesShowSmallHunks() {
        #expect(KRaftPlanner.lineChanges("a\nb\nc\nd\n", "b\nc\nd\ne\n") == ["@@ -1 +1 @@", "-a", "@@ -5 +4 @@", "+e"])
        #expect(KRaftPlanner.lineChanges("x=1\n", "x=1\n").isEmpty)
    }
}
