import ArgumentParser
import Foundation
import Kafka
import ZooKeeper

struct KafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "The Kafka side: cluster state read from ZooKeeper.",
        subcommands: [KafkaStatus.self]
    )
}

struct KafkaStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Brokers, controller, topics, under-replicated/offline/under-min-ISR partitions and reassignments, from Kafka's znodes. Exit code 1 when partitions are unhealthy.",
        discussion: "Point -s at Kafka's zookeeper.connect, chroot included, e.g. -s zk1:2181,zk2:2181/kafka"
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "min.insync.replicas from the brokers' server.properties (ZooKeeper does not hold it).") var minInsyncReplicas = 1

    struct Report: Encodable {
        var brokers: [Broker]
        var controller: Int?
        var controllerEpoch: Int?
        var topics: [TopicRow]
        var underReplicated: [String]
        var offline: [String]
        var underMinInsyncReplicas: [String]
        var reassignmentsInProgress: [String: [Int]]
        var reassignmentRunningSeconds: Double?
        var pendingPreferredLeaderElections: [String]

        struct Broker: Encodable { var id: Int; var rack: String?; var endpoints: [String] }
        struct TopicRow: Encodable { var name: String; var partitions: Int; var replicationFactor: Int; var minInsyncReplicas: Int }
    }

    func run() async throws {
        let minimum = minInsyncReplicas
        let snapshot = try await connection.withClient { try await KafkaMetadataReader.read($0, staticMinInsyncReplicas: minimum) }
        let state = snapshot.state
        let report = Report(
            brokers: state.brokers.values.sorted { $0.id < $1.id }.map { .init(id: $0.id.rawValue, rack: $0.rack, endpoints: $0.endpoints) },
            controller: state.controller?.rawValue, controllerEpoch: state.controllerEpoch,
            topics: state.topics.values.sorted { $0.name < $1.name }.map {
                .init(name: $0.name, partitions: $0.partitions.count, replicationFactor: $0.replicationFactor, minInsyncReplicas: state.minInsyncReplicas(for: $0.name))
            },
            underReplicated: state.underReplicatedPartitions.map(\.description),
            offline: state.offlinePartitions.map(\.description),
            underMinInsyncReplicas: state.underMinInsyncReplicasPartitions.map(\.description),
            reassignmentsInProgress: Dictionary(uniqueKeysWithValues: state.reassignmentsInProgress.map { ($0.key.description, $0.value.map(\.rawValue)) }),
            reassignmentRunningSeconds: snapshot.reassignmentStarted.map { Date().timeIntervalSince1970 - Double($0) / 1000 },
            pendingPreferredLeaderElections: state.pendingPreferredReplicaElections.map(\.description)
        )
        if connection.json {
            try Output.json(report)
        } else {
            var brokers = Table(["broker", "rack", "endpoints"])
            for broker in report.brokers { brokers.add([String(broker.id) + (broker.id == report.controller ? " (controller)" : ""), broker.rack ?? "-", broker.endpoints.joined(separator: " ")]) }
            Output.line(brokers.render())
            Output.line("")
            var topics = Table(["topic", "partitions", "RF", "min ISR"])
            for topic in report.topics { topics.add([topic.name, String(topic.partitions), String(topic.replicationFactor), String(topic.minInsyncReplicas)]) }
            Output.line(topics.render())
            Output.line("")
            Output.line("controller: \(report.controller.map(String.init) ?? "none") (epoch \(report.controllerEpoch.map(String.init) ?? "-"))")
            Output.line("under-replicated: \(report.underReplicated.count)  offline: \(report.offline.count)  under min ISR: \(report.underMinInsyncReplicas.count)")
            if !report.reassignmentsInProgress.isEmpty {
                Output.line("reassignment in progress: \(report.reassignmentsInProgress.count) partitions, running for \(Int(report.reassignmentRunningSeconds ?? 0)) s")
            }
            for partition in report.offline { Output.note("offline: \(partition)") }
            for partition in report.underMinInsyncReplicas { Output.note("under min.insync.replicas: \(partition)") }
        }
        if !report.offline.isEmpty || !report.underReplicated.isEmpty { throw ExitCode.failure }
    }
}
