import Ensemble
import Foundation
import Hosts
import Kafka
import Migration
import MigrationPlanning
import Testing
import ZooKeeper
import ZooKeeperTestSupport

/// `mitosis run` with a client group of `kind: kafka`: a broker switch waits for Kafka's own view
/// (the broker registered again, no partition short of replicas), and so does the group's health.
extension RealServers {
    @Suite struct KafkaGroupHealthTests {
        struct LocalHosts: HostDirectory {
            func driver(for host: String) throws -> any HostDriver { LocalHostDriver(host: host) }
        }

        static func plan(directory: String, connect: String, kind: ClientGroupKind) -> Plan {
            let ensemble = PlanEnsemble(name: "zk", version: .v3_8_0, servers: [], initialData: .holdsData, initiallyRunning: true)
            let member = PlanClientMember(
                name: "broker-1", host: "local", configPath: directory + "/server.properties",
                restart: "echo restarted >> \(directory)/state", connectionString: connect,
                // The test's broker session connects from loopback: these are the broker's sessions.
                address: "127.0.0.1")
            return Plan(
                strategy: .copy, source: ensemble, destination: ensemble,
                clientGroups: [PlanClientGroup(name: "kafka", chroot: "/kafka", moves: true, kind: kind, members: [member])], steps: [],
                pointOfNoReturn: nil, impactWindows: [])
        }

        @Test func aBrokerSwitchWaitsForKafkasOwnViewOfTheCluster() async throws {
            let directory = NSTemporaryDirectory() + "mitosis-kafka-health-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try await withLocalEnsemble(servers: 1, distribution: .v3_8_0) { ensemble in
                let connect = ensemble.connectionString + "/kafka"
                try await ZooKeeperClient.withClient(ensemble.connectionString) { _ = try await $0.create("/kafka") }
                try await ZooKeeperClient.withClient(connect) { zk in
                    try await ZooKeeperClient.withClient(connect) { session in
                        try await KafkaLayout.write(zk, brokerSession: session, brokers: [1, 2], topics: ["t": [[1, 2], [2, 1]]], controller: 2)
                        try "broker.id=1\nzookeeper.connect=\(connect)\n".write(toFile: directory + "/server.properties", atomically: true, encoding: .utf8)
                        let plan = Self.plan(directory: directory, connect: connect, kind: .kafka)
                        let controller = HostClientGroupController(plan: plan, hosts: LocalHosts(), healthTimeout: .seconds(3))

                        let healthy = try await controller.health(of: "kafka")
                        #expect(healthy.healthy, "\(healthy.detail)")
                        #expect(healthy.detail.contains("2 brokers registered, no under-replicated or offline partition"), "\(healthy.detail)")

                        // t-1 loses a replica from its ISR: the group is not healthy, and a switch
                        // restarts the broker but does not return until the partition caught up.
                        let path = PartitionStateZNode.path(TopicPartition("t", 1))
                        var (state, _) = try await KafkaLayout.read(zk, path, as: PartitionStateZNode.self)
                        state.isr = [2]
                        try await zk.setData(path, data: Array(state.data()))
                        let short = try await controller.health(of: "kafka")
                        #expect(!short.healthy)
                        #expect(short.detail.contains("1 under-replicated partition (t-1)"), "\(short.detail)")

                        let change = ClientSwitch(
                            client: ClientRef(group: "kafka", member: "broker-1", host: "local"), configPath: directory + "/server.properties",
                            connectionKey: "zookeeper.connect", from: connect, to: connect, restart: "echo restarted >> \(directory)/state")
                        let error = await #expect(throws: HostError.self) { try await controller.switchMember(change) }
                        #expect(error?.description.contains("1 under-replicated partition (t-1)") == true, "\(String(describing: error))")
                        #expect(try String(contentsOfFile: directory + "/state", encoding: .utf8) == "restarted\n")
                        #expect(try await controller.hasSwitched(change) == false, "a resumed run must not skip a broker whose partitions lag")

                        state.isr = [2, 1]
                        try await zk.setData(path, data: Array(state.data()))
                        let changes = try await controller.switchMember(change)
                        #expect(changes.last?.summary.contains("registered again") == true)
                        #expect(try await controller.hasSwitched(change))

                        // A broker id that is not registered is named.
                        try "broker.id=7\nzookeeper.connect=\(connect)\n".write(toFile: directory + "/server.properties", atomically: true, encoding: .utf8)
                        let missing = try await controller.health(of: "kafka")
                        #expect(!missing.healthy)
                        #expect(missing.detail.contains("not registered") && missing.detail.contains("broker-1 (broker 7)"), "\(missing.detail)")

                        // A group that is not marked kafka gets no Kafka check.
                        let generic = HostClientGroupController(plan: Self.plan(directory: directory, connect: connect, kind: .generic), hosts: LocalHosts())
                        #expect(try await generic.health(of: "kafka").healthy)
                    }
                }
            }
        }
    }
}
